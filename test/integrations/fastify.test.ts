import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { staunchPlugin } from '../../src/integrations/fastify/index.js';
import { OpenCircuit, serverSuite } from './server-suite.js';

async function listen(app: ReturnType<typeof Fastify>) {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: address, close: () => app.close() };
}

serverSuite('fastify', async (routes) => {
  const app = Fastify({ forceCloseConnections: true });
  await app.register(staunchPlugin);
  for (const [path, route] of Object.entries(routes)) {
    app.get(
      path,
      {
        config: {
          staunch: {
            policy: route.policy,
            ...(route.key ? { key: (req) => route.key!(req.url) } : {}),
            ...route.mapping,
          },
        },
      },
      async (request, reply) => {
        const result = await route.handler(request.staunch!.signal);
        return reply.code(result.status).send(result.body);
      },
    );
  }
  return listen(app);
});

describe('staunch/fastify plugin', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('protects every route of its scope with the plugin policy; a route can opt out', async () => {
    const app = Fastify({ forceCloseConnections: true });
    await app.register(staunchPlugin, { policy: new OpenCircuit() });
    app.get('/guarded', async () => 'never');
    app.get('/free', { config: { staunch: false } }, async (request) => `free ${request.staunch === null}`);
    app.get('/own', { config: { staunch: { policy: new Bulkhead({ maxConcurrent: 1 }) } } }, async (request) => {
      return `own ${request.staunch?.attempt}`;
    });
    const server = await listen(app);
    close = server.close;
    const guarded = await fetch(`${server.url}/guarded`);
    expect(guarded.status).toBe(503);
    expect(guarded.headers.get('retry-after')).toBe('2');
    await guarded.arrayBuffer();
    expect(await (await fetch(`${server.url}/free`)).text()).toBe('free true');
    expect(await (await fetch(`${server.url}/own`)).text()).toBe('own 1');
  });

  it('waits for a handler that sends later by itself', async () => {
    const app = Fastify({ forceCloseConnections: true });
    let running = 0;
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    await app.register(staunchPlugin, { policy: bulkhead });
    app.get('/cb', (_request, reply) => {
      running = bulkhead.running;
      setImmediate(() => reply.send('later'));
    });
    const server = await listen(app);
    close = server.close;
    expect(await (await fetch(`${server.url}/cb`)).text()).toBe('later');
    expect(running).toBe(1);
    await expect.poll(() => bulkhead.running).toBe(0);
  });

  it('validates options when registered', async () => {
    const app = Fastify();
    await expect(app.register(staunchPlugin, { bulkheadStatus: 500 as never })).rejects.toThrow(/bulkheadStatus/);
    await app.close();
  });
});
