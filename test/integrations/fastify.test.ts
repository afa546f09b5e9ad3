import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import Fastify4 from 'fastify4';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { staunchPlugin } from '../../src/integrations/fastify/index.js';
import { OpenCircuit, serverSuite } from './server-suite.js';

async function listen(app: ReturnType<typeof Fastify>) {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: address, close: () => app.close() };
}

/**
 * Fastify 5 (the devDependency `fastify`) and Fastify 4 (`fastify4`): the peer range and the
 * plugin's declared `fastify: '4.x || 5.x'` cover both. Fastify 4 is typed as 5 here.
 */
const majors: readonly (readonly [string, typeof Fastify])[] = [
  ['5', Fastify],
  ['4', Fastify4 as unknown as typeof Fastify],
];

for (const [major, createApp] of majors) {
  serverSuite(
    `fastify ${major}`,
    async (routes) => {
      const app = createApp({ forceCloseConnections: true });
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
            const result = await route.handler(request.staunch!.signal, {
              beginBody: (chunk) => {
                // A streamed reply: headers and a first chunk go out, the stream stays open.
                const body = new PassThrough();
                reply.code(200).type('text/plain').send(body);
                body.write(chunk);
              },
            });
            return reply.code(result.status).send(result.body);
          },
        );
      }
      return listen(app);
    },
    { halfSent: true },
  );

  // Issue 11 item 12: one breaker for every route by default — after 3 failures on /bad, /good got 503.
  describe(`staunch/fastify ${major}: one policy per route`, () => {
    let close: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await close?.();
      close = undefined;
    });

    async function start(options: Parameters<typeof staunchPlugin>[1]) {
      const app = createApp({ forceCloseConnections: true });
      await app.register(staunchPlugin, options);
      app.get('/bad', async (_request, reply) => reply.code(500).send('down'));
      app.get('/good', async () => 'fine');
      const server = await listen(app);
      close = server.close;
      return server.url;
    }
    async function statuses(url: string, path: string, times: number): Promise<number[]> {
      const seen: number[] = [];
      for (let i = 0; i < times; i++) {
        const res = await fetch(`${url}${path}`);
        await res.arrayBuffer();
        seen.push(res.status);
      }
      return seen;
    }

    it("a plugin-level factory gives each route its own breaker: /bad's failures never refuse /good", async () => {
      const made: string[] = [];
      const url = await start({
        policy: (route) => {
          made.push(route);
          return new CircuitBreaker({ name: route, volumeThreshold: 3 });
        },
      });
      expect(await statuses(url, '/bad', 4)).toEqual([500, 500, 500, 503]);
      expect(await statuses(url, '/good', 3)).toEqual([200, 200, 200]);
      expect(made).toEqual(['GET /bad', 'GET /good']);
    });

    it('a policy instance at the plugin level is refused unless shared: true says so', async () => {
      const app = createApp();
      await expect(app.register(staunchPlugin, { policy: new CircuitBreaker() })).rejects.toThrow(
        /instance.*shared: true/s,
      );
      await app.close();
      // Shared on purpose: the routes count together (one breaker for all).
      const url = await start({ policy: new CircuitBreaker({ volumeThreshold: 3 }), shared: true });
      expect(await statuses(url, '/bad', 3)).toEqual([500, 500, 500]);
      expect(await statuses(url, '/good', 1)).toEqual([503]);
    });
  });
}

describe('staunch/fastify plugin', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('protects every route of its scope with the plugin policy; a route can opt out', async () => {
    const app = Fastify({ forceCloseConnections: true });
    await app.register(staunchPlugin, { policy: new OpenCircuit(), shared: true });
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
    await app.register(staunchPlugin, { policy: bulkhead, shared: true });
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
    const other = Fastify();
    await expect(other.register(staunchPlugin, { shared: 'yes' as never })).rejects.toThrow(
      /staunch\/fastify: shared must be a boolean/,
    );
    await other.close();
  });
});
