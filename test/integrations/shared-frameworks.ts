/**
 * One way to start each of the four server integrations on 127.0.0.1 with a given set of
 * middleware options and a single handler for every GET path, for the shared-layer tests
 * (callbacks, default bodies, per-key policies, option checks).
 */
import { serve as serveHono } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { staunchErrorHandler, staunch as staunchExpress } from '../../src/integrations/express/index.js';
import { staunchPlugin } from '../../src/integrations/fastify/index.js';
import { type StaunchVariables, staunch as staunchHono } from '../../src/integrations/hono/index.js';
import { staunch as staunchKoa } from '../../src/integrations/koa/index.js';
import { closeServer } from './helpers.js';

/** The handler every path runs: gets the call's signal and the path, answers status and body. */
export type Handler = (signal: AbortSignal, path: string) => Promise<{ status: number; body: string }>;

/** Middleware options common to the four, with a key read from the request's path. */
export interface Options {
  readonly [name: string]: unknown;
  readonly keyOfPath?: (path: string) => string;
}

export interface Started {
  readonly url: string;
  close(): Promise<void>;
}

export type Start = (options: Options, handler: Handler) => Promise<Started>;

function split(options: Options): { rest: Record<string, unknown>; keyOfPath?: (path: string) => string } {
  const { keyOfPath, ...rest } = options;
  return keyOfPath === undefined ? { rest } : { rest, keyOfPath };
}

async function listenNode(server: import('node:http').Server): Promise<Started> {
  if (!server.listening) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

const startExpress: Start = async (options, handler) => {
  const { rest, keyOfPath } = split(options);
  const app = express();
  app.use(
    staunchExpress({
      ...rest,
      ...(keyOfPath ? { key: (req: express.Request) => keyOfPath(req.path) } : {}),
    } as never),
  );
  app.get(/.*/, async (req, res) => {
    const result = await handler(res.locals.signal as AbortSignal, req.path);
    if (!res.headersSent) res.status(result.status).send(result.body);
  });
  app.use(staunchErrorHandler());
  return listenNode(app.listen(0, '127.0.0.1'));
};

const startFastify: Start = async (options, handler) => {
  const { rest, keyOfPath } = split(options);
  const app = Fastify({ forceCloseConnections: true });
  await app.register(staunchPlugin);
  app.get(
    '/*',
    {
      config: {
        staunch: {
          ...rest,
          ...(keyOfPath ? { key: (req: import('fastify').FastifyRequest) => keyOfPath(req.url) } : {}),
        } as never,
      },
    },
    async (request, reply) => {
      const result = await handler(request.staunch!.signal, request.url);
      return reply.code(result.status).send(result.body);
    },
  );
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
};

const startKoa: Start = async (options, handler) => {
  const { rest, keyOfPath } = split(options);
  const app = new Koa();
  app.silent = true;
  app.use(
    staunchKoa({
      ...rest,
      ...(keyOfPath ? { key: (ctx: Koa.Context) => keyOfPath(ctx.path) } : {}),
    } as never),
  );
  app.use(async (ctx) => {
    const result = await handler(ctx.state.signal as AbortSignal, ctx.path);
    ctx.status = result.status;
    ctx.body = result.body;
  });
  return listenNode(app.listen(0, '127.0.0.1'));
};

const startHono: Start = async (options, handler) => {
  const { rest, keyOfPath } = split(options);
  const app = new Hono<{ Variables: StaunchVariables }>();
  app.onError((_error, c) => c.text('handled by onError', 500));
  app.use(
    '*',
    staunchHono({
      ...rest,
      ...(keyOfPath ? { key: (c: import('hono').Context) => keyOfPath(c.req.path) } : {}),
    } as never),
  );
  app.get('*', async (c) => {
    const result = await handler(c.get('signal'), c.req.path);
    return c.text(result.body, result.status as 200);
  });
  const server = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  return listenNode(server as import('node:http').Server);
};

/** The four frameworks, by the name their subpath has. */
export const FRAMEWORKS: ReadonlyArray<readonly [name: string, start: Start]> = [
  ['express', startExpress],
  ['fastify', startFastify],
  ['koa', startKoa],
  ['hono', startHono],
];

/**
 * Each framework's constructor of its middleware from options, for construction-time checks
 * (Fastify's: registering the plugin with them, and a route with them as its own config).
 */
export const CONSTRUCTORS: ReadonlyArray<readonly [name: string, build: (options: unknown) => Promise<void>]> = [
  [
    'express',
    async (options) => {
      staunchExpress(options as never);
    },
  ],
  [
    'fastify',
    async (options) => {
      const app = Fastify();
      try {
        // At the plugin level a policy instance must be marked as shared by every route.
        const pluginLevel = typeof options === 'object' && options !== null ? { ...options, shared: true } : options;
        await app.register(staunchPlugin, pluginLevel as never);
        app.get('/', { config: { staunch: options as never } }, async () => 'ok');
        await app.ready();
      } finally {
        await app.close();
      }
    },
  ],
  [
    'koa',
    async (options) => {
      staunchKoa(options as never);
    },
  ],
  [
    'hono',
    async (options) => {
      staunchHono(options as never);
    },
  ],
];
