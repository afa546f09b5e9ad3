import express from 'express';
import { describe, expect, it } from 'vitest';
import { staunch, staunchErrorHandler } from '../../src/integrations/express/index.js';
import { closeServer } from './helpers.js';
import { serverSuite } from './server-suite.js';

serverSuite('express', async (routes) => {
  const app = express();
  for (const [path, route] of Object.entries(routes)) {
    app.get(
      path,
      staunch({
        policy: route.policy,
        ...(route.key ? { key: (req: express.Request) => route.key!(req.path) } : {}),
        ...route.mapping,
      }),
      async (_req, res) => {
        const result = await route.handler(res.locals.signal as AbortSignal);
        if (!res.headersSent) res.status(result.status).send(result.body);
      },
    );
  }
  app.use(staunchErrorHandler());
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
});

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
