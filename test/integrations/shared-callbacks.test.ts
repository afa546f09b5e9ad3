/**
 * Issue 11 items 6 and 19 over real HTTP, on each of the four frameworks: a `mapError` or `body`
 * that throws (or returns garbage) never crashes the server — the default mapping answers and the
 * error goes to the reporter — and the default body tells a client nothing about the topology.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { CircuitBreaker, type ErrorReporter, setErrorReporter, Timeout } from '../../src/index.js';
import { aborted, deferred } from './helpers.js';
import { FRAMEWORKS, type Started } from './shared-frameworks.js';

const boom = (): never => {
  throw new Error('user callback failed');
};

/** A breaker that is really open, after one failure. */
async function openBreaker(name?: string): Promise<CircuitBreaker> {
  const breaker = new CircuitBreaker({ volumeThreshold: 1, sleepWindow: 60_000, ...(name ? { name } : {}) });
  await breaker.execute(boom).catch(() => {});
  expect(breaker.state).toBe('open');
  return breaker;
}

/** Waits for the call's signal to abort, then gives up with its reason (like signal-aware I/O). */
async function untilAborted(signal: AbortSignal): Promise<never> {
  await aborted(signal);
  throw signal.reason;
}

for (const [name, start] of FRAMEWORKS) {
  describe(`staunch/${name}: user callbacks in the request path`, () => {
    let server: Started | undefined;
    let reported: Array<{ error: unknown; source: string }>;
    let previous: ErrorReporter;
    beforeEach(() => {
      reported = [];
      previous = setErrorReporter((error, source) => reported.push({ error, source }));
    });
    afterEach(async () => {
      setErrorReporter(previous);
      await server?.close();
      server = undefined;
    });

    it('a throwing mapError: the default mapping answers (503 / 504) and the error is reported', async () => {
      const breaker = await openBreaker();
      server = await start({ policy: breaker, mapError: boom }, async () => ({ status: 200, body: 'never' }));
      const open = await fetch(`${server.url}/open`);
      expect(open.status).toBe(503);
      expect(open.headers.get('retry-after')).toBe('60');
      expect((await open.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      await server.close();

      // The timeout path: the 504 is sent from the signal's abort listener.
      server = await start({ policy: new Timeout(20), mapError: boom }, untilAborted);
      const slow = await fetch(`${server.url}/slow`);
      expect(slow.status).toBe(504);
      expect((await slow.json()).error.code).toBe('STAUNCH_TIMEOUT');

      expect(reported.length).toBeGreaterThanOrEqual(2);
      for (const { error, source } of reported) {
        expect(source).toBe(`staunch/${name} mapError`);
        expect((error as Error).message).toBe('user callback failed');
      }
    });

    it('a throwing body: the default body is sent with the default status, and the error is reported', async () => {
      const breaker = await openBreaker();
      server = await start({ policy: breaker, body: boom }, async () => ({ status: 200, body: 'never' }));
      const open = await fetch(`${server.url}/open`);
      expect(open.status).toBe(503);
      expect((await open.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      await server.close();

      server = await start({ policy: new Timeout(20), body: boom }, untilAborted);
      const slow = await fetch(`${server.url}/slow`);
      expect(slow.status).toBe(504);
      expect((await slow.json()).error.code).toBe('STAUNCH_TIMEOUT');

      expect(reported.length).toBeGreaterThanOrEqual(2);
      for (const { source } of reported) expect(source).toBe(`staunch/${name} body`);
    });

    it('a mapError returning an invalid response, or a body that cannot be serialised: the default answers', async () => {
      const breaker = await openBreaker();
      const invalid = [
        { status: 'teapot', headers: {}, body: 'x' },
        { status: 42, headers: {}, body: 'x' },
        { status: 503, headers: { 'bad header': 'x' }, body: 'x' },
        { status: 503, headers: { 'x-ok': 'line\r\nbreak' }, body: 'x' },
        { status: 503, headers: {}, body: { big: 1n } },
        'a string',
      ];
      let next = 0;
      server = await start({ policy: breaker, mapError: () => invalid[next++] as never }, async () => ({
        status: 200,
        body: 'never',
      }));
      for (let i = 0; i < invalid.length; i++) {
        const res = await fetch(`${server.url}/open`);
        expect(res.status).toBe(503);
        expect((await res.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      }
      expect(reported).toHaveLength(invalid.length);
      await server.close();

      const circular: Record<string, unknown> = {};
      circular.self = circular;
      server = await start({ policy: breaker, body: () => circular }, async () => ({ status: 200, body: 'never' }));
      const res = await fetch(`${server.url}/open`);
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      expect(reported.at(-1)?.source).toBe(`staunch/${name} body`);
    });

    it('a throwing failureStatus: the default (5xx) decides, the response stands and the error is reported', async () => {
      // A breaker that trips on the first counted failure: a 200 must not be one.
      const breaker = new CircuitBreaker({ volumeThreshold: 1, sleepWindow: 60_000 });
      server = await start({ policy: breaker, failureStatus: boom }, async () => ({ status: 200, body: 'fine' }));
      for (let i = 0; i < 3; i++) {
        const ok = await fetch(`${server.url}/ok`);
        expect(ok.status).toBe(200);
        expect(await ok.text()).toBe('fine');
      }
      expect(breaker.state).toBe('closed');
      expect(reported.length).toBe(3);
      for (const { error, source } of reported) {
        expect(source).toBe(`staunch/${name} failureStatus`);
        expect((error as Error).message).toBe('user callback failed');
      }
    });

    it('a mapError that works still replaces the mapping (and headers may be numbers)', async () => {
      const breaker = await openBreaker();
      server = await start(
        {
          policy: breaker,
          mapError: (_error: unknown, fallback: { status: number } | undefined) => ({
            status: 502,
            headers: { 'x-from': 'mapError', 'retry-after': 9 },
            body: `was ${fallback?.status}`,
          }),
        },
        async () => ({ status: 200, body: 'never' }),
      );
      const res = await fetch(`${server.url}/open`);
      expect(res.status).toBe(502);
      expect(res.headers.get('x-from')).toBe('mapError');
      expect(res.headers.get('retry-after')).toBe('9');
      expect(await res.text()).toBe('was 503');
      expect(reported).toEqual([]);
    });
  });

  describe(`staunch/${name}: default error bodies`, () => {
    let server: Started | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    it('say what a client needs and nothing about the topology (names, limits, timeouts)', async () => {
      const breaker = await openBreaker('payments-db.internal:5432');
      server = await start({ policy: breaker }, async () => ({ status: 200, body: 'never' }));
      const open = await fetch(`${server.url}/pay`);
      expect(open.status).toBe(503);
      expect(open.headers.get('retry-after')).toBe('60');
      const openText = await open.text();
      expect(JSON.parse(openText)).toEqual({
        error: { code: 'STAUNCH_CIRCUIT_OPEN', message: 'Service temporarily unavailable; try again later' },
      });
      expect(openText).not.toMatch(/payments|internal|\d/);
      await server.close();

      const bulkhead = new Bulkhead({ maxConcurrent: 3 });
      const gate = deferred();
      let inside = 0;
      const allIn = deferred();
      server = await start({ policy: bulkhead }, async () => {
        if (++inside === 3) allIn.resolve();
        await gate.promise;
        return { status: 200, body: 'done' };
      });
      const held = [0, 1, 2].map(() => fetch(`${server!.url}/work`));
      await allIn.promise;
      const shed = await fetch(`${server.url}/work`);
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('1');
      const shedText = await shed.text();
      expect(JSON.parse(shedText).error.code).toBe('STAUNCH_BULKHEAD_REJECTED');
      expect(shedText).not.toMatch(/\d|concurrent|queue/i);
      gate.resolve();
      for (const res of await Promise.all(held)) expect(await res.text()).toBe('done');
      await server.close();

      server = await start({ policy: new Timeout(25) }, untilAborted);
      const slow = await fetch(`${server.url}/slow`);
      expect(slow.status).toBe(504);
      const slowText = await slow.text();
      expect(JSON.parse(slowText)).toEqual({
        error: { code: 'STAUNCH_TIMEOUT', message: 'The request took too long to complete' },
      });
      expect(slowText).not.toMatch(/\d/);
    });
  });
}
