import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { type StaunchVariables, staunch } from '../../src/integrations/hono/index.js';
import { closeServer } from './helpers.js';
import { isolatedBreaker, serverSuite } from './server-suite.js';

async function listen(app: Hono<{ Variables: StaunchVariables }>) {
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(s as import('node:http').Server),
    );
  });
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

function quietApp() {
  const app = new Hono<{ Variables: StaunchVariables }>();
  app.onError((_error, c) => c.text('handled by onError', 500));
  return app;
}

serverSuite(
  'hono',
  async (routes) => {
    const app = quietApp();
    for (const [path, route] of Object.entries(routes)) {
      app.get(
        path,
        staunch({
          policy: route.policy,
          ...(route.key ? { key: (c) => route.key!(c.req.path) } : {}),
          ...route.mapping,
        }),
        async (c) => {
          // No beginBody: a Hono handler answers once, with its whole Response.
          const result = await route.handler(c.get('signal'), {});
          return c.text(result.body, result.status as 200);
        },
      );
    }
    return listen(app);
  },
  { halfSent: false },
);

describe('staunch/hono', () => {
  it('maps staunch errors thrown by a handler, leaves others to onError', async () => {
    const app = quietApp();
    const breaker = isolatedBreaker();
    app.use(staunch({ policy: new Bulkhead({ maxConcurrent: 4 }) }));
    app.get('/inner', (c) => breaker.execute(() => c.text('never')));
    app.get('/plain', () => {
      throw new Error('plain');
    });
    // Runs on any runtime: exercised here without a server, through app.request.
    const res = await app.request('/inner');
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
    const plain = await app.request('/plain');
    expect(plain.status).toBe(500);
    expect(await plain.text()).toBe('handled by onError');
  });

  it('works over real HTTP too (smoke)', async () => {
    const app = quietApp();
    app.get('/', staunch({ policy: isolatedBreaker() }), (c) => c.text('never'));
    const server = await listen(app);
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(503);
      await res.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});
