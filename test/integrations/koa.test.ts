import Koa from 'koa';
import Koa2 from 'koa2';
import { describe, expect, it } from 'vitest';
import { staunch } from '../../src/integrations/koa/index.js';
import { closeServer } from './helpers.js';
import { isolatedBreaker, serverSuite } from './server-suite.js';

async function listen(app: Koa) {
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** Koa 3 (the devDependency `koa`) and Koa 2 (`koa2`): the peer range covers both. */
const majors: readonly (readonly [string, typeof Koa])[] = [
  ['3', Koa],
  ['2', Koa2 as typeof Koa],
];

for (const [major, KoaApp] of majors) {
  serverSuite(
    `koa ${major}`,
    async (routes) => {
      const app = new KoaApp();
      app.silent = true;
      const mounted = Object.entries(routes).map(([path, route]) => ({
        path,
        route,
        middleware: staunch({
          policy: route.policy,
          ...(route.key ? { key: (ctx: Koa.Context) => route.key!(ctx.path) } : {}),
          ...route.mapping,
        }),
      }));
      app.use(async (ctx, next) => {
        const found = mounted.find((m) => m.path === ctx.path);
        if (found === undefined) return next();
        await found.middleware(ctx, async () => {
          const result = await found.route.handler(ctx.state.signal as AbortSignal, {
            beginBody: (chunk) => {
              // Writing the Node response directly, as a streaming handler may.
              ctx.respond = false;
              ctx.res.writeHead(200, { 'content-type': 'text/plain' });
              ctx.res.write(chunk);
            },
          });
          ctx.status = result.status;
          ctx.body = result.body;
        });
      });
      return listen(app);
    },
    { halfSent: true },
  );
}

describe('staunch/koa', () => {
  it('maps staunch errors thrown by a downstream handler (e.g. a breaker used inside it)', async () => {
    const app = new Koa();
    app.silent = true;
    const breaker = isolatedBreaker();
    app.use(staunch({ policy: () => breaker, key: (ctx) => ctx.path, maxPolicies: 2 }));
    app.use(async (ctx) => {
      ctx.body = await breaker.execute(() => 'never');
    });
    const server = await listen(app);
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
    } finally {
      await server.close();
    }
  });
});
