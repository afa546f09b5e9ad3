import express from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import { asyncHandler, staunch, staunchErrorHandler } from '../../src/integrations/express/index.js';
import { closeServer } from './helpers.js';
import { isolatedBreaker, Recorder, serverSuite } from './server-suite.js';

/** Express 5 (the devDependency `express`) and Express 4 (`express4`): the peer range covers both. */
const majors: readonly (readonly [string, typeof express])[] = [
  ['5', express],
  ['4', express4 as typeof express],
];

for (const [major, createApp] of majors) {
  serverSuite(
    `express ${major}`,
    async (routes) => {
      const app = createApp();
      for (const [path, route] of Object.entries(routes)) {
        app.get(
          path,
          staunch({
            policy: route.policy,
            ...(route.key ? { key: (req: express.Request) => route.key!(req.path) } : {}),
            ...route.mapping,
          }),
          // asyncHandler: safe on Express 4, which ignores a handler's promise.
          asyncHandler(async (_req, res) => {
            const result = await route.handler(res.locals.signal as AbortSignal, {
              beginBody: (chunk) => {
                res.status(200).type('text/plain');
                res.write(chunk);
              },
            });
            if (!res.headersSent) res.status(result.status).send(result.body);
          }),
        );
      }
      app.use(staunchErrorHandler());
      const server = await new Promise<import('node:http').Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      const { port } = server.address() as import('node:net').AddressInfo;
      return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
    },
    { halfSent: true },
  );
}

describe('staunch/express options', () => {
  it('validates at construction', () => {
    expect(() => staunch({ policy: {} as never })).toThrow(TypeError);
    expect(() => staunch({ policy: () => ({}) as never })).toThrow(/key/);
    expect(() => staunch({ policy: () => ({}) as never, key: () => '', maxPolicies: 0 })).toThrow(RangeError);
    expect(() => staunch({ policy: () => ({}) as never, key: () => '', bulkheadStatus: 500 as never })).toThrow(
      /bulkheadStatus/,
    );
  });
});

describe('staunch/express', () => {
  async function serve(app: express.Express) {
    const server = await new Promise<import('node:http').Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as import('node:net').AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
  }

  it('staunchErrorHandler maps staunch errors thrown by handlers and passes the rest on', async () => {
    const app = express();
    const breaker = isolatedBreaker();
    app.get('/inner', async () => {
      await breaker.execute(() => 'never');
    });
    app.get('/plain', async () => {
      throw new Error('plain');
    });
    app.use(staunchErrorHandler({ bulkheadStatus: 429 }));
    app.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('next handler');
    });
    const server = await serve(app);
    try {
      const inner = await fetch(`${server.url}/inner`);
      expect(inner.status).toBe(503);
      expect((await inner.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      const plain = await fetch(`${server.url}/plain`);
      expect(plain.status).toBe(500);
      expect(await plain.text()).toBe('next handler');
    } finally {
      await server.close();
    }
  });

  it('leaves no listener of its own on the response once it has finished', async () => {
    const app = express();
    const counts: { before?: number[]; res?: express.Response } = {};
    const count = (res: express.Response) => [res.listenerCount('close'), res.listenerCount('finish')];
    app.use((_req, res, next) => {
      counts.before = count(res);
      counts.res = res;
      next();
    });
    app.get('/', staunch({ policy: new Recorder() }), (_req, res) => {
      // While running: the client watch and the completion wait are attached.
      expect(res.listenerCount('close')).toBeGreaterThan(counts.before![0]!);
      res.send('ok');
    });
    const server = await serve(app);
    try {
      expect(await (await fetch(server.url)).text()).toBe('ok');
      await expect.poll(() => counts.res?.writableFinished).toBe(true);
      await expect
        .poll(() => {
          const [close, finish] = count(counts.res!);
          return close! <= counts.before![0]! && finish! <= counts.before![1]!;
        })
        .toBe(true);
    } finally {
      await server.close();
    }
  });
});
