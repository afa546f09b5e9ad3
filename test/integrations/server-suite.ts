/**
 * One suite run against each server integration, over real HTTP on 127.0.0.1. Each framework test
 * file supplies an adapter that mounts the routes with its middleware and hands the handler the
 * call's signal from wherever that framework exposes it.
 */
import { request as httpGet } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import type { Context } from '../../src/core/context.js';
import { proceed } from '../../src/core/context.js';
import { Stage } from '../../src/core/policy.js';
import { CircuitOpenError, Fallback, type Policy, pipeline, Timeout, TimeoutError } from '../../src/index.js';
import { httpResponse } from '../../src/integrations/shared/answer.js';
import type { ErrorMappingOptions } from '../../src/integrations/shared/http.js';
import { aborted, deferred } from './helpers.js';

/** What an adapter lets a handler do besides answering. */
export interface HandlerTools {
  /**
   * Sends status 200, the headers and `chunk` as the start of a body that is not ended yet (a
   * response being streamed). Absent where the framework cannot send part of a response before the
   * handler returns (Hono).
   */
  readonly beginBody?: (chunk: string) => void;
}

/** What a route handler does: gets the call's signal, answers with a status and a body. */
export type RouteHandler = (signal: AbortSignal, tools: HandlerTools) => Promise<{ status: number; body: string }>;

export interface Route {
  readonly policy: Policy<unknown> | ((key: string) => Policy<unknown>);
  readonly key?: (path: string) => string;
  readonly handler: RouteHandler;
  readonly mapping?: ErrorMappingOptions;
}

/** Mounts each route at its path (GET) and listens on 127.0.0.1:0. */
export type StartServer = (routes: Record<string, Route>) => Promise<{ url: string; close: () => Promise<void> }>;

/** A stage that records the failures it sees. */
export class Recorder extends Stage {
  readonly failures: unknown[] = [];
  async _run(context: Context, next: number): Promise<unknown> {
    try {
      return await proceed(context, next);
    } catch (error) {
      this.failures.push(error);
      throw error;
    }
  }
}

/** Stands in for an open breaker: always rejects with a `CircuitOpenError` (retry in 1.5 s). */
export class OpenCircuit extends Stage {
  async _run(): Promise<unknown> {
    throw new CircuitOpenError('Circuit is open', 0, 1500);
  }
}

/** A breaker of the real kind, forced open. */
export function isolatedBreaker(): CircuitBreaker {
  const breaker = new CircuitBreaker({ name: 'isolated' });
  breaker.isolate();
  return breaker;
}

/** GETs `url` with node:http and resolves when the client sees the connection close. */
function getUntilClose(url: string): Promise<{ status: number | undefined; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      // A response cut short errors ('aborted'); the test looks at `complete` instead.
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode, body, complete: res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

export function serverSuite(name: string, start: StartServer, capabilities: { halfSent: boolean }): void {
  describe(`${name} middleware over HTTP`, () => {
    let close: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await close?.();
      close = undefined;
    });
    async function serve(routes: Record<string, Route>): Promise<string> {
      const server = await start(routes);
      close = server.close;
      return server.url;
    }

    it('sheds load: the N+1th concurrent request gets 503 with Retry-After', async () => {
      const bulkhead = new Bulkhead({ maxConcurrent: 2, maxQueue: 0 });
      const gate = deferred();
      let arrived = 0;
      const allIn = deferred();
      const url = await serve({
        '/work': {
          policy: bulkhead,
          handler: async () => {
            if (++arrived === 2) allIn.resolve();
            await gate.promise;
            return { status: 200, body: 'done' };
          },
        },
        '/work429': {
          policy: bulkhead,
          mapping: { bulkheadStatus: 429, bulkheadRetryAfter: 7 },
          handler: async () => ({ status: 200, body: '' }),
        },
      });
      const first = [fetch(`${url}/work`), fetch(`${url}/work`)];
      await allIn.promise;
      const shed = await fetch(`${url}/work`);
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('1');
      expect(await shed.json()).toEqual({
        error: { code: 'STAUNCH_BULKHEAD_REJECTED', message: expect.any(String) },
      });
      const shed429 = await fetch(`${url}/work429`);
      expect(shed429.status).toBe(429);
      expect(shed429.headers.get('retry-after')).toBe('7');
      await shed429.arrayBuffer();
      gate.resolve();
      for (const res of await Promise.all(first)) {
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('done');
      }
      await expect.poll(() => bulkhead.running).toBe(0);
    });

    it('answers 504 when a Timeout expires, and aborts the handler signal with the TimeoutError', async () => {
      const reason = deferred<unknown>();
      const url = await serve({
        '/slow': {
          policy: new Timeout(50),
          handler: async (signal) => {
            reason.resolve(await aborted(signal));
            // Like any signal-aware I/O, give up with the abort reason.
            throw signal.reason;
          },
        },
        '/ignores': {
          policy: new Timeout(50),
          handler: async (signal) => {
            await aborted(signal);
            // A handler that ignores its abort and answers anyway: too late.
            return { status: 200, body: 'late' };
          },
        },
      });
      const res = await fetch(`${url}/slow`);
      expect(res.status).toBe(504);
      expect((await res.json()).error.code).toBe('STAUNCH_TIMEOUT');
      expect(await reason.promise).toBeInstanceOf(TimeoutError);
      const late = await fetch(`${url}/ignores`);
      expect(late.status).toBe(504);
      await late.arrayBuffer();
    });

    it("answers 503 with Retry-After from the breaker's next trial time", async () => {
      // A clock that stands still: the breaker's retryAfter is exactly its sleep window.
      const clock = { now: () => 1_000, setTimeout, clearTimeout: (h: unknown) => clearTimeout(h as never) };
      const breaker = new CircuitBreaker({ volumeThreshold: 1, sleepWindow: 2_500, clock });
      await breaker
        .execute(() => {
          throw new Error('upstream down');
        })
        .catch(() => {});
      expect(breaker.state).toBe('open');
      const isolated = new CircuitBreaker();
      isolated.isolate();
      const url = await serve({
        '/open': { policy: breaker, handler: async () => ({ status: 200, body: '' }) },
        '/isolated': { policy: isolated, handler: async () => ({ status: 200, body: '' }) },
        '/custom': {
          policy: new OpenCircuit(),
          mapping: { body: (error, status) => `${status} ${(error as CircuitOpenError).code}` },
          handler: async () => ({ status: 200, body: '' }),
        },
      });
      const res = await fetch(`${url}/open`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('3');
      expect((await res.json()).error.code).toBe('STAUNCH_CIRCUIT_OPEN');
      // Forced open: no trial time, so no Retry-After.
      const forced = await fetch(`${url}/isolated`);
      expect(forced.status).toBe(503);
      expect(forced.headers.get('retry-after')).toBeNull();
      await forced.arrayBuffer();
      const custom = await fetch(`${url}/custom`);
      expect(custom.status).toBe(503);
      expect(custom.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await custom.text()).toBe('503 STAUNCH_CIRCUIT_OPEN');
    });

    it('aborts the handler signal when the client disconnects, and releases the policy', async () => {
      const bulkhead = new Bulkhead({ maxConcurrent: 1 });
      const arrived = deferred();
      const reason = deferred<unknown>();
      const url = await serve({
        '/hang': {
          policy: bulkhead,
          handler: async (signal) => {
            arrived.resolve();
            reason.resolve(await aborted(signal));
            return { status: 200, body: 'nobody hears this' };
          },
        },
      });
      const client = new AbortController();
      const request = fetch(`${url}/hang`, { signal: client.signal });
      const outcome = expect(request).rejects.toThrow();
      await arrived.promise;
      client.abort();
      await outcome;
      // Node adapters abort with an AbortError DOMException; runtimes may give their own reason.
      expect(await reason.promise).toBeDefined();
      await expect.poll(() => bulkhead.running).toBe(0);
    });

    it('counts failure statuses and thrown errors as failures, and leaves other errors to the framework', async () => {
      const recorder = new Recorder();
      const url = await serve({
        '/500': { policy: recorder, handler: async () => ({ status: 500, body: 'broken' }) },
        '/throw': {
          policy: recorder,
          handler: async () => {
            throw new Error('boom');
          },
        },
        '/ok': { policy: recorder, handler: async () => ({ status: 200, body: 'fine' }) },
      });
      const r500 = await fetch(`${url}/500`);
      expect(r500.status).toBe(500);
      expect(await r500.text()).toBe('broken');
      const thrown = await fetch(`${url}/throw`);
      expect(thrown.status).toBe(500);
      await thrown.arrayBuffer();
      const ok = await fetch(`${url}/ok`);
      expect(await ok.text()).toBe('fine');
      expect(recorder.failures).toHaveLength(2);
    });

    // Issue 11 item 1: a Timeout firing while the body is being written left the connection open.
    // Registered only where a response can be half-sent when the deadline fires (not Hono, whose
    // call ends when the handler returns its Response), so no framework reports a skipped test.
    (capabilities.halfSent ? it : () => undefined)(
      'ends a response half-sent when the deadline fires: the client sees the connection close',
      { timeout: 10_000 },
      async () => {
        const url = await serve({
          '/stream': {
            policy: new Timeout(50),
            handler: async (signal, tools) => {
              tools.beginBody!('partial');
              await aborted(signal);
              // As the README's handlers do: give up with the abort reason.
              throw signal.reason;
            },
          },
        });
        // Before the fix this never resolved (the connection stayed open): the test timed out.
        const seen = await getUntilClose(`${url}/stream`);
        expect(seen.status).toBe(200);
        expect(seen.body).toBe('partial');
        // Cut short, not ended as if complete: the client can tell the body is truncated.
        expect(seen.complete).toBe(false);
      },
    );

    // Issue 11 item 9: a Fallback's answer for a shed request was lost (Express: no response at
    // all, Koa: 404, Hono: 500); the four frameworks now send it.
    it("sends a Fallback's value when the handler did not answer, never over the handler's own response", async () => {
      const held = deferred();
      const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 0 });
      const holding = bulkhead.execute(() => held.promise);
      const cached = () => new Fallback(() => ({ cached: true }));
      let ran = 0;
      const handler: RouteHandler = async () => {
        ran++;
        return { status: 200, body: 'fresh' };
      };
      const url = await serve({
        '/shed': { policy: pipeline(cached(), bulkhead), handler },
        '/open': { policy: pipeline(new Fallback(() => 'from cache'), isolatedBreaker()), handler },
        '/custom': {
          policy: pipeline(
            new Fallback(() => httpResponse({ status: 503, headers: { 'retry-after': '9' }, body: 'busy' })),
            new OpenCircuit(),
          ),
          handler,
        },
        '/nothing': { policy: pipeline(new Fallback(() => undefined), new OpenCircuit()), handler },
        '/throws': {
          policy: cached(),
          handler: async () => {
            throw new Error('handler failed before answering');
          },
        },
        '/fresh': { policy: cached(), handler },
        '/500': { policy: cached(), handler: async () => ({ status: 500, body: 'broken' }) },
      });
      const shed = await fetch(`${url}/shed`);
      expect(shed.status).toBe(200);
      expect(shed.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await shed.json()).toEqual({ cached: true });
      const open = await fetch(`${url}/open`);
      expect(open.status).toBe(200);
      expect(open.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await open.text()).toBe('from cache');
      const custom = await fetch(`${url}/custom`);
      expect(custom.status).toBe(503);
      expect(custom.headers.get('retry-after')).toBe('9');
      expect(await custom.text()).toBe('busy');
      const nothing = await fetch(`${url}/nothing`);
      expect(nothing.status).toBe(204);
      expect(await nothing.text()).toBe('');
      const thrown = await fetch(`${url}/throws`);
      expect(thrown.status).toBe(200);
      expect(await thrown.json()).toEqual({ cached: true });
      expect(ran).toBe(0);
      // The handler's own answers stand, a 500 included.
      const fresh = await fetch(`${url}/fresh`);
      expect(await fresh.text()).toBe('fresh');
      const broken = await fetch(`${url}/500`);
      expect(broken.status).toBe(500);
      expect(await broken.text()).toBe('broken');
      held.resolve();
      await holding;
    });

    it('keeps one policy per key in a bounded LRU', async () => {
      const made: string[] = [];
      const url = await serve({
        '/a': {
          policy: (key) => {
            made.push(key);
            return pipeline(new Bulkhead({ maxConcurrent: 5 }));
          },
          key: (path) => path,
          handler: async () => ({ status: 200, body: 'ok' }),
        },
      });
      for (let i = 0; i < 3; i++) await (await fetch(`${url}/a`)).arrayBuffer();
      expect(made).toEqual(['/a']);
    });
  });
}
