/**
 * Issue 11 item 11 over real HTTP, on each of the four frameworks: per-key policies are never
 * evicted while busy or holding state, however many other keys arrive, and memory stays bounded
 * by `maxPolicies` (a new key is shed with a 503 when every policy is in use).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { CircuitBreaker, pipeline } from '../../src/index.js';
import { deferred } from './helpers.js';
import { FRAMEWORKS, type Started } from './shared-frameworks.js';

/** Runs `count` GETs, `width` at a time, each on its own path; all must answer 200. */
async function churn(url: string, count: number, width = 16): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${url}/other-${i}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
}

for (const [name, start] of FRAMEWORKS) {
  describe(`staunch/${name}: per-key policies`, () => {
    let server: Started | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    it('an open breaker for key A survives 1,000 requests for other keys', async () => {
      const made = new Map<string, number>();
      server = await start(
        {
          policy: (key: string) => {
            made.set(key, (made.get(key) ?? 0) + 1);
            return pipeline(
              new CircuitBreaker({ volumeThreshold: 1, sleepWindow: 60_000 }),
              new Bulkhead({ maxConcurrent: 8 }),
            );
          },
          keyOfPath: (path: string) => path,
          maxPolicies: 10,
        },
        async (_signal, path) => (path === '/a' ? { status: 500, body: 'upstream down' } : { status: 200, body: 'ok' }),
      );
      const failed = await fetch(`${server.url}/a`);
      expect(failed.status).toBe(500);
      await failed.arrayBuffer();
      const open = await fetch(`${server.url}/a`);
      expect(open.status).toBe(503);
      expect((await open.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');

      await churn(server.url, 1_000);

      const still = await fetch(`${server.url}/a`);
      expect(still.status).toBe(503);
      expect((await still.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      expect(made.get('/a')).toBe(1);
      // The other keys did come and go: the LRU evicted their idle, closed breakers.
      expect(made.size).toBe(1_001);
    }, 60_000);

    it('a per-key bulkhead limit of 1 stays 1 under churn', async () => {
      const gate = deferred();
      const holding = deferred();
      let made = 0;
      server = await start(
        {
          policy: () => {
            made++;
            return new Bulkhead({ maxConcurrent: 1 });
          },
          keyOfPath: (path: string) => path,
          maxPolicies: 4,
        },
        async (_signal, path) => {
          if (path === '/a') {
            holding.resolve();
            await gate.promise;
          }
          return { status: 200, body: path };
        },
      );
      const first = fetch(`${server.url}/a`);
      await holding.promise;
      await churn(server.url, 200, 4);
      const second = await fetch(`${server.url}/a`);
      expect(second.status).toBe(503);
      expect((await second.json()).error.code).toBe('STAUNCH_BULKHEAD_REJECTED');
      gate.resolve();
      const done = await first;
      expect(done.status).toBe(200);
      expect(await done.text()).toBe('/a');
      expect(made).toBe(201);
    });

    it('memory stays bounded: with every policy in use, a new key is shed (503, Retry-After) until one is at rest', async () => {
      const breakers = new Map<string, CircuitBreaker>();
      const handled: string[] = [];
      server = await start(
        {
          policy: (key: string) => {
            const breaker = new CircuitBreaker({ volumeThreshold: 1, sleepWindow: 60_000 });
            breakers.set(key, breaker);
            return breaker;
          },
          keyOfPath: (path: string) => path,
          maxPolicies: 2,
        },
        async (_signal, path) => {
          handled.push(path);
          return path === '/c' ? { status: 200, body: 'c' } : { status: 500, body: 'down' };
        },
      );
      for (const path of ['/a', '/b']) await (await fetch(`${server.url}${path}`)).arrayBuffer();
      expect([...breakers.values()].map((b) => b.state)).toEqual(['open', 'open']);

      for (let i = 0; i < 50; i++) {
        const shed = await fetch(`${server.url}/c`);
        expect(shed.status).toBe(503);
        expect(shed.headers.get('retry-after')).toBe('1');
        expect(await shed.json()).toEqual({
          error: { code: 'STAUNCH_POLICY_LIMIT', message: 'Service temporarily unavailable; try again later' },
        });
      }
      // Never created, never ran: the two open breakers are all there is.
      expect([...breakers.keys()]).toEqual(['/a', '/b']);
      expect(handled).toEqual(['/a', '/b']);

      // Once a breaker is back at rest (closed, fresh window), its slot can be reused.
      breakers.get('/a')!.reset();
      const served = await fetch(`${server.url}/c`);
      expect(served.status).toBe(200);
      expect(await served.text()).toBe('c');
      const b = await fetch(`${server.url}/b`);
      expect(b.status).toBe(503);
      expect((await b.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
    });
  });
}
