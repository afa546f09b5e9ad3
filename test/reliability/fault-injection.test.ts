/**
 * Fault injection against a real upstream: an HTTP server on 127.0.0.1 (test/support/faultServer)
 * switched between healthy, slow, erroring, resetting and hanging, called through `staunch/fetch`
 * (createFetch) or a pipeline around the global fetch. Each scenario asserts both what the upstream
 * saw and what the callers got. Breaker time is an injected clock; the few real waits are short
 * deadlines asserted with generous bounds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker, slowCalls } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import type { Clock } from '../../src/core/clock.js';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  pipeline,
  type RetryEvents,
  RetryPolicy,
  Timeout,
  TimeoutError,
} from '../../src/index.js';
import { createFetch, parseRetryAfter } from '../../src/integrations/fetch/index.js';
import { trackingClock } from '../support/clocks.js';
import { type FaultServer, startFaultServer } from '../support/faultServer.js';

/** A clock whose time moves only when the test says so; its timers are real (unused by breakers). */
class ManualClock implements Clock {
  t = 1_000;
  now(): number {
    return this.t;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    return setTimeout(callback, ms);
  }
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A clock that records the delays asked of it and runs each timer at once. */
function recordingClock(): Clock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => performance.now(),
    setTimeout(callback, ms) {
      delays.push(ms);
      return setTimeout(callback, 0);
    },
    clearTimeout(handle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}

const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

let upstream: FaultServer;

beforeAll(async () => {
  upstream = await startFaultServer();
});

afterEach(() => {
  upstream.release();
  upstream.setMode({ kind: 'healthy' });
  upstream.resetStats();
});

afterAll(async () => {
  await upstream.close();
});

describe('the upstream starts failing: the circuit breaker', () => {
  it('opens after the volume threshold, spares the upstream while open, sends one trial, and recovers', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      volumeThreshold: 5,
      errorThresholdPercentage: 50,
      rollingWindow: 10_000,
      buckets: 10,
      sleepWindow: 1_000,
      clock,
    });
    const transitions: string[] = [];
    breaker.on('stateChange', ({ from, to }) => transitions.push(`${from}->${to}`));
    const fetchIt = createFetch({ policy: breaker, retry: false });
    const url = `${upstream.url}/dep`;

    // Healthy first: calls pass and count as successes.
    for (let i = 0; i < 3; i++) {
      const r = await fetchIt(url);
      expect(await r.text()).toBe('ok');
    }
    upstream.setMode({ kind: 'error', status: 500 });
    // 3 successes, then failures: the window holds >= 5 calls at >= 50% errors after the 3rd failure.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetchIt(url);
      statuses.push(r.status);
      await r.text();
    }
    expect(statuses).toEqual([500, 500, 500]);
    expect(breaker.state).toBe('open');
    expect(upstream.requests).toHaveLength(6);

    // Open: nothing reaches the upstream, each caller learns when to come back.
    for (let i = 0; i < 20; i++) {
      const error = await fetchIt(url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).retryAt).toBe(clock.t + 1_000 - i * 10);
      clock.advance(10);
    }
    expect(upstream.requests).toHaveLength(6);
    clock.advance(1_000 - 200 - 1);
    await expect(fetchIt(url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(upstream.requests).toHaveLength(6);

    // The sleep window is over: exactly one trial goes through, even with callers piling up.
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    upstream.setMode({ kind: 'held' });
    const trial = fetchIt(url);
    await upstream.waitInFlight(1);
    const others = await Promise.all(Array.from({ length: 10 }, () => settle(fetchIt(url))));
    for (const o of others) expect(!o.ok && o.error instanceof CircuitOpenError).toBe(true);
    expect(upstream.requests).toHaveLength(7);
    expect(upstream.release()).toBe(1);
    const answer = await trial;
    expect(await answer.text()).toBe('held');
    expect(breaker.state).toBe('closed');

    // Closed again: traffic flows.
    upstream.setMode({ kind: 'healthy' });
    const after = await Promise.all(Array.from({ length: 5 }, () => fetchIt(url).then((r) => r.text())));
    expect(after).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(upstream.requests).toHaveLength(12);
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(breaker.metrics().concurrent).toBe(0);
  });

  it('a failed trial re-opens for another sleep window, and again lets exactly one trial through', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ volumeThreshold: 2, sleepWindow: 500, clock });
    const fetchIt = createFetch({ policy: breaker, retry: false });
    upstream.setMode({ kind: 'error', status: 503 });
    for (let i = 0; i < 2; i++) await (await fetchIt(upstream.url)).text();
    expect(breaker.state).toBe('open');
    for (let round = 0; round < 3; round++) {
      clock.advance(500);
      const seen = upstream.requests.length;
      const results = await Promise.all(Array.from({ length: 5 }, () => settle(fetchIt(upstream.url))));
      // One trial reached the upstream (and got its 503 back); the rest were short-circuited.
      expect(upstream.requests.length).toBe(seen + 1);
      const answered = results.filter((r) => r.ok);
      expect(answered).toHaveLength(1);
      for (const r of answered) if (r.ok) expect((await r.value.text()).length).toBeGreaterThan(0);
      expect(results.filter((r) => !r.ok && r.error instanceof CircuitOpenError)).toHaveLength(4);
      expect(breaker.state).toBe('open');
    }
  });

  it('connection resets are failures too: retried, counted, and the breaker opens', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ volumeThreshold: 3, sleepWindow: 1_000, clock });
    const retryClock = recordingClock();
    const fetchIt = createFetch({ policy: breaker, retry: { maxRetries: 2, backoff: [5], clock: retryClock } });
    upstream.setMode({ kind: 'reset' });
    const error = await fetchIt(upstream.url).catch((e: unknown) => e);
    // Node's fetch reports a reset as TypeError("fetch failed") with the socket error as cause.
    expect(error).toBeInstanceOf(TypeError);
    expect(upstream.requests).toHaveLength(3);
    expect(breaker.state).toBe('open');
    // Retrying into an open breaker would only meet the same rejection: createFetch does not.
    await expect(fetchIt(upstream.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(upstream.requests).toHaveLength(3);
    expect(retryClock.delays).toEqual([5, 5]);
  });
});

describe('the upstream is slow', () => {
  it('slow answers trip the slow-call rule; the open breaker spares the upstream', async () => {
    // Real clock: every answer takes >= 60 ms, three times the 20 ms slow-call threshold.
    const breaker = new CircuitBreaker({
      rule: slowCalls({ slowCallDuration: 20, slowCallRateThreshold: 100 }),
      volumeThreshold: 3,
      sleepWindow: 60_000,
    });
    const fetchIt = createFetch({ policy: breaker, retry: false });
    upstream.setMode({ kind: 'healthy', delay: 60, body: 'slow' });
    for (let i = 0; i < 3; i++) expect(await (await fetchIt(upstream.url)).text()).toBe('slow');
    expect(breaker.slowCallCount()).toBe(3);
    expect(breaker.state).toBe('open');
    await expect(fetchIt(upstream.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(upstream.requests).toHaveLength(3);
  });

  it('a slow upstream within the deadline is answered normally, under the bulkhead limit', async () => {
    const clock = trackingClock();
    const bulkhead = new Bulkhead({ maxConcurrent: 4, maxQueue: 20, clock });
    const fetchIt = createFetch({ policy: pipeline(bulkhead, new Timeout({ timeout: 300, clock })), retry: false });
    upstream.setMode({ kind: 'healthy', delay: 30, body: 'slow' });
    const texts = await Promise.all(Array.from({ length: 12 }, () => fetchIt(upstream.url).then((r) => r.text())));
    expect(texts).toEqual(Array.from({ length: 12 }, () => 'slow'));
    expect(upstream.maxInFlight).toBeLessThanOrEqual(4);
    expect(upstream.requests).toHaveLength(12);
    await upstream.waitInFlight(0);
    expect([bulkhead.running, bulkhead.queued]).toEqual([0, 0]);
    // The Timeout's idle timer goes off within its deadline and is not re-armed.
    await clock.idle(300 + 1_000);
  });
});

describe('the upstream hangs: timeout and bulkhead', () => {
  it.each([false, true])(
    'callers are answered by the timeout, the bulkhead never exceeds its limit, and nothing leaks after recovery (cooperative: %s)',
    async (cooperative) => {
      const clock = trackingClock();
      const connectionsBefore = upstream.connections;
      const bulkhead = new Bulkhead({ maxConcurrent: 3, maxQueue: 2, clock });
      const timeout = new Timeout({ timeout: 150, cooperative, clock });
      let maxRunning = 0;
      bulkhead.on('admit', ({ running }) => {
        maxRunning = Math.max(maxRunning, running);
      });
      // Client-side: fetches started and not yet settled.
      let fetching = 0;
      let maxFetching = 0;
      const counted = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        fetching++;
        maxFetching = Math.max(maxFetching, fetching);
        return fetch(input, init).finally(() => {
          fetching--;
        });
      };
      const fetchIt = createFetch({ policy: pipeline(bulkhead, timeout), retry: false, fetch: counted });
      upstream.setMode({ kind: 'hang' });

      const started = performance.now();
      const calls = Array.from({ length: 10 }, () => {
        const t = performance.now();
        return settle(fetchIt(`${upstream.url}/hang`)).then((r) => ({ ...r, latency: performance.now() - t }));
      });
      const results = await Promise.all(calls);
      const elapsed = performance.now() - started;

      const rejected = results.filter((r) => !r.ok && r.error instanceof BulkheadRejectedError);
      const timedOut = results.filter((r) => !r.ok && r.error instanceof TimeoutError);
      expect(rejected).toHaveLength(5);
      expect(timedOut).toHaveLength(5);
      for (const r of rejected) expect((r as { error: BulkheadRejectedError }).error.reason).toBe('queue-full');
      // Bounded latency: 3 calls time out after ~150 ms, the 2 queued ones ~150 ms later. Generous bound.
      for (const r of timedOut) expect(r.latency).toBeLessThan(150 * 2 + 2_000);
      expect(elapsed).toBeGreaterThanOrEqual(2 * 150 - 5);
      expect(maxRunning).toBe(3);
      // The client never had more than 3 fetches open. (The upstream may briefly see a 4th: it learns
      // of an aborted request only when the closed socket reaches it, after the slot went to the next caller.)
      // Cooperative: the slot is held until the aborted fetch has really settled, so the client never
      // has more than 3 fetches open. Non-cooperative: the Timeout inside the bulkhead gives the slot
      // back at the deadline, before the aborted fetch has settled, so a queued caller's fetch can
      // overlap the tail of a timed-out one (docs/reliability.md F2, "slot released at the
      // deadline"); the overlap is bounded by the 2 queued calls.
      expect(maxFetching).toBeLessThanOrEqual(cooperative ? 3 : 3 + 2);
      expect(upstream.maxInFlight).toBeLessThanOrEqual(5);
      expect(upstream.requests).toHaveLength(5);

      // The timeout aborted each fetch: the upstream sees every hung request abandoned.
      await upstream.waitInFlight(0);
      expect(bulkhead.running).toBe(0);
      expect(bulkhead.queued).toBe(0);
      expect(timeout.pending).toBe(0);

      // Recovery: the same pipeline serves again.
      upstream.setMode({ kind: 'healthy', delay: 5 });
      const texts = await Promise.all(Array.from({ length: 3 }, () => fetchIt(upstream.url).then((r) => r.text())));
      expect(texts).toEqual(['ok', 'ok', 'ok']);
      await upstream.waitInFlight(0);
      // The aborted requests' sockets are gone; at most the 3 recovery calls added keep-alive ones.
      expect(upstream.connections).toBeLessThanOrEqual(connectionsBefore + 3);

      // No timer outlives the calls: the Timeout's idle timer goes off within 150 ms and is not re-armed.
      await clock.idle(150 + 1_000);
    },
  );

  it("a caller's abort frees the upstream request and the queue place at once", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const fetchIt = createFetch({ policy: bulkhead, retry: false });
    upstream.setMode({ kind: 'hang' });
    const running = new AbortController();
    const queued = new AbortController();
    const a = settle(fetchIt(upstream.url, { signal: running.signal }));
    await upstream.waitInFlight(1);
    const b = settle(fetchIt(upstream.url, { signal: queued.signal }));
    await new Promise((r) => setTimeout(r, 10));
    expect(bulkhead.queued).toBe(1);
    queued.abort(new Error('queued caller gave up'));
    const rb = await b;
    expect(!rb.ok && (rb.error as Error).message).toBe('queued caller gave up');
    expect(bulkhead.queued).toBe(0);
    running.abort(new Error('running caller gave up'));
    const ra = await a;
    expect(!ra.ok && (ra.error as Error).message).toBe('running caller gave up');
    await upstream.waitInFlight(0);
    expect(bulkhead.running).toBe(0);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('discarded responses release their sockets', () => {
  // Larger than the socket buffers: the upstream's request stays open until the client reads or cancels.
  const big = 'x'.repeat(4 * 1024 * 1024);

  it('retried failure responses (4 MB bodies) are cancelled: connections are reused, nothing stays open', async () => {
    const connectionsBefore = upstream.connections;
    const clock = recordingClock();
    const fetchIt = createFetch({ retry: { maxRetries: 3, backoff: [0], clock } });
    upstream.setMode({ kind: 'error', status: 503, body: big });
    for (let i = 0; i < 5; i++) {
      const r = await fetchIt(upstream.url);
      expect(r.status).toBe(503);
      expect((await r.text()).length).toBe(big.length);
    }
    expect(upstream.requests).toHaveLength(20);
    await upstream.waitInFlight(0);
    expect(upstream.connections).toBeLessThanOrEqual(connectionsBefore + 2);
  });

  // F9 (fixed): with onFailureStatus 'throw', the HttpStatusError's response no longer holds the
  // connection (small bodies are buffered, large ones cancelled), so a caller that catches the
  // error and moves on leaves no socket busy.
  it("F9: onFailureStatus 'throw' — a caught HttpStatusError does not keep its socket busy", async () => {
    const fetchIt = createFetch({ retry: false, onFailureStatus: 'throw' });
    upstream.setMode({ kind: 'error', status: 503, body: big });
    for (let i = 0; i < 3; i++) await fetchIt(upstream.url).catch(() => {});
    try {
      await upstream.waitInFlight(0, 500);
    } finally {
      // Let the file end clean either way: dropping the sockets frees the held requests.
      upstream.setMode({ kind: 'healthy' });
    }
  });
});

describe('429 with Retry-After: the retry waits as told', () => {
  it('createFetch waits the Retry-After seconds, then succeeds', async () => {
    const clock = recordingClock();
    const fetchIt = createFetch({ retry: { maxRetries: 3, backoff: [50], clock } });
    upstream.script(
      { kind: 'error', status: 429, retryAfter: '2' },
      { kind: 'error', status: 503, retryAfter: '0' },
      {
        kind: 'healthy',
      },
    );
    const r = await fetchIt(upstream.url);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('ok');
    expect(clock.delays).toEqual([2_000, 0]);
    expect(upstream.requests.map((q) => q.mode)).toEqual(['error', 'error', 'healthy']);
  });

  it('an HTTP-date Retry-After is honoured as a delay until that date', async () => {
    const clock = recordingClock();
    const fetchIt = createFetch({ retry: { maxRetries: 1, backoff: [50], clock } });
    const date = new Date(Date.now() + 30_000).toUTCString();
    upstream.script({ kind: 'error', status: 429, retryAfter: date }, { kind: 'healthy' });
    const r = await fetchIt(upstream.url);
    expect(r.status).toBe(200);
    await r.text();
    expect(clock.delays).toHaveLength(1);
    // The date has a one-second resolution.
    expect(clock.delays[0]).toBeGreaterThan(27_000);
    expect(clock.delays[0]).toBeLessThanOrEqual(30_000);
  });

  it('a Retry-After longer than maxRetryAfter is not waited for: the 429 comes back at once', async () => {
    const clock = recordingClock();
    const fetchIt = createFetch({ retry: { maxRetries: 3, clock }, maxRetryAfter: 10_000 });
    upstream.setMode({ kind: 'error', status: 429, retryAfter: '3600' });
    const r = await fetchIt(upstream.url);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('3600');
    await r.text();
    expect(clock.delays).toEqual([]);
    expect(upstream.requests).toHaveLength(1);
  });

  it("a pipeline around the global fetch: the retry's `retry` event carries the requested delay", async () => {
    const timeoutClock = trackingClock();
    const clock = recordingClock();
    const retry = new RetryPolicy({
      maxRetries: 2,
      backoff: [10],
      clock,
      retryResult: (r) => (r as Response).status === 429,
      retryAfter: (outcome) =>
        outcome.kind === 'result'
          ? parseRetryAfter((outcome.result as Response).headers.get('retry-after'))
          : undefined,
    });
    const events: RetryEvents['retry'][] = [];
    retry.on('retry', (e) => events.push(e));
    upstream.script({ kind: 'error', status: 429, retryAfter: '1' }, { kind: 'healthy' });
    const r = await pipeline(retry, new Timeout({ timeout: 200, clock: timeoutClock })).execute(async ({ signal }) => {
      const response = await fetch(upstream.url, { signal });
      // A response that will be retried is read to the end, so its socket goes back to the pool.
      if (response.status === 429) await response.clone().text();
      return response;
    });
    expect(r.status).toBe(200);
    await r.text();
    expect(events.map((e) => [e.attempt, e.delay])).toEqual([[1, 1_000]]);
    expect(clock.delays).toEqual([1_000]);
    expect(upstream.requests).toHaveLength(2);
    await timeoutClock.idle(200 + 1_000);
  });
});
