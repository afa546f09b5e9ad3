/**
 * A burst of 10,000 concurrent callers, a third of them aborting at random moments, through the
 * full pipeline (Fallback → Retry → CircuitBreaker → Bulkhead → Timeout, and the same without the
 * Fallback) against an in-process fake upstream (random latency, random failures, an outage in the
 * middle). Fake timers, seeded randomness: deterministic. Every caller must be answered exactly
 * once with something that explains itself, and everything must be idle at the end.
 */
import { setMaxListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  type ExecutionContext,
  Fallback,
  type Policy,
  pipeline,
  RetryPolicy,
  Timeout,
  TimeoutError,
} from '../../src/index.js';
import { trackListeners } from '../support/listeners.js';

/** mulberry32: a tiny seeded PRNG, so every run is the same run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class UpstreamError extends Error {}

// Captured before the test fakes the timers.
const realSetImmediate = globalThis.setImmediate;

interface Outcome {
  settled: number;
  ok?: boolean;
  value?: unknown;
  error?: unknown;
  at: number;
}

async function burst(withFallback: boolean, seed: number, CALLERS: number) {
  vi.useFakeTimers();
  const random = prng(seed);
  const breaker = new CircuitBreaker({ volumeThreshold: 50, sleepWindow: 200, rollingWindow: 1000, buckets: 10 });
  const bulkhead = new Bulkhead({ maxConcurrent: 64, maxQueue: 200, queueTimeout: 100 });
  const timeout = new Timeout(100);
  const retry = new RetryPolicy({ maxRetries: 2, backoff: [20, 40], failOn: CircuitOpenError });
  const members: Policy<unknown>[] = [retry, breaker, bulkhead, timeout];
  const policy = withFallback ? pipeline(new Fallback(() => 'fallback'), ...members) : pipeline(...members);

  // The fake upstream: honours its signal, fails 10% of the time, hangs 5% of the time, and is
  // down entirely between t=800 and t=1200.
  let running = 0;
  let maxRunning = 0;
  let started = 0;
  const t0 = Date.now();
  const upstream = ({ signal }: ExecutionContext): Promise<string> => {
    started++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    const r = random();
    const down = Date.now() - t0 >= 800 && Date.now() - t0 < 1_200;
    const delay = r < 0.05 ? 60_000 : 1 + Math.floor(random() * 20);
    const fail = down || r > 0.9;
    const id = started;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        running--;
        if (fail) reject(new UpstreamError(`upstream failed ${id}`));
        else resolve(`value ${id}`);
      }, delay);
      const onAbort = (): void => {
        clearTimeout(timer);
        running--;
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };

  const shared = new AbortController();
  // One in-flight call = one listener on the caller's signal; thousands at once are expected here.
  setMaxListeners(0, shared.signal);
  const sharedListeners = trackListeners(shared.signal);
  const outcomes: Outcome[] = [];
  const reasons: unknown[] = [];
  const abortedAt: (number | undefined)[] = [];
  // Callers start, and some abort, at random moments; the driver loop below starts and aborts
  // them itself (not one fake timer per caller, which would make every clock step O(callers)).
  interface Caller {
    readonly i: number;
    readonly start: number;
    readonly abortAt: number | undefined;
    controller?: AbortController;
  }
  const callers: Caller[] = [];
  for (let i = 0; i < CALLERS; i++) {
    outcomes.push({ settled: 0, at: -1 });
    const start = Math.floor(random() * 2_000);
    const aborts = random() < 0.33;
    const abortAfter = Math.floor(random() * 400);
    callers.push({ i, start, abortAt: aborts ? start + abortAfter : undefined });
  }
  // Events in the order they happened: an abort counts as first only if it came before the answer.
  let seq = 0;
  let answered = 0;
  const byStart = [...callers].sort((a, b) => a.start - b.start);
  const byAbort = callers.filter((c) => c.abortAt !== undefined).sort((a, b) => (a.abortAt ?? 0) - (b.abortAt ?? 0));
  const begin = (c: Caller): void => {
    const outcome = outcomes[c.i] as Outcome;
    let signal = shared.signal;
    if (c.abortAt !== undefined) {
      c.controller = new AbortController();
      signal = c.controller.signal;
    }
    policy.execute(upstream, { signal }).then(
      (value) => {
        outcome.settled++;
        answered++;
        outcome.ok = true;
        outcome.value = value;
        outcome.at = ++seq;
      },
      (error: unknown) => {
        outcome.settled++;
        answered++;
        outcome.ok = false;
        outcome.error = error;
        outcome.at = ++seq;
      },
    );
  };
  const abort = (c: Caller): void => {
    abortedAt[c.i] = ++seq;
    const reason = new Error(`caller ${c.i} aborted`);
    reasons[c.i] = reason;
    c.controller?.abort(reason);
  };

  // Drive the clock in 1 ms steps until every caller is answered and the upstream is quiet.
  const STEP = 1;
  let nextStart = 0;
  let nextAbort = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    const now = Date.now() - t0;
    while (nextStart < byStart.length && (byStart[nextStart] as Caller).start <= now)
      begin(byStart[nextStart++] as Caller);
    // An abort falls strictly after whatever the previous step settled.
    while (nextAbort < byAbort.length && ((byAbort[nextAbort] as Caller).abortAt as number) <= now) {
      abort(byAbort[nextAbort++] as Caller);
    }
    await Promise.resolve();
    if (nextStart === byStart.length && nextAbort === byAbort.length && running === 0 && answered >= CALLERS) {
      break;
    }
    // The timers due within this millisecond fire, then every microtask runs (a real event loop
    // runs them between timers; batching per millisecond keeps 10,000 callers fast to simulate).
    vi.advanceTimersByTime(STEP);
    await new Promise((resolve) => realSetImmediate(resolve));
  }
  // The Timeout's idle timer goes off within 100 ms; the aborts still scheduled do nothing harmful.
  await vi.advanceTimersByTimeAsync(1_000);

  const counts = { value: 0, fallback: 0, upstream: 0, timeout: 0, open: 0, rejected: 0, aborted: 0 };
  const problems: string[] = [];
  outcomes.forEach((o, i) => {
    if (o.settled !== 1) {
      problems.push(`caller ${i} answered ${o.settled} times`);
      return;
    }
    const abortedFirst = abortedAt[i] !== undefined && (abortedAt[i] as number) < o.at;
    if (o.ok) {
      if (o.value === 'fallback') counts.fallback++;
      else if (typeof o.value === 'string' && o.value.startsWith('value ')) counts.value++;
      else problems.push(`caller ${i}: unexplained value ${String(o.value)}`);
      if (abortedFirst) problems.push(`caller ${i}: resolved after its abort`);
      return;
    }
    const e = o.error;
    if (abortedFirst) {
      if (e !== reasons[i]) problems.push(`caller ${i}: aborted but rejected with ${String(e)}`);
      counts.aborted++;
    } else if (withFallback) problems.push(`caller ${i}: the fallback let ${String(e)} through`);
    else if (e instanceof UpstreamError) counts.upstream++;
    else if (e instanceof TimeoutError) counts.timeout++;
    else if (e instanceof CircuitOpenError) counts.open++;
    else if (e instanceof BulkheadRejectedError) counts.rejected++;
    else problems.push(`caller ${i}: unexplained error ${String(e)}`);
  });

  const state = {
    problems,
    counts,
    maxRunning,
    bulkhead: [bulkhead.running, bulkhead.queued],
    breakerConcurrent: breaker.metrics().concurrent,
    timeoutPending: timeout.pending,
    sharedListeners: sharedListeners.active(),
    sharedListenersPeak: sharedListeners.peak(),
    timers: vi.getTimerCount(),
  };
  vi.useRealTimers();
  return state;
}

describe('a burst of 10,000 concurrent callers with random aborts', () => {
  // The full 10,000 without a fallback (every kind of answer visible); a smaller burst with one.
  it.each([
    [false, 1, 10_000],
    [true, 2, 2_000],
  ])(
    'every caller is answered once and everything goes idle (fallback: %s, seed %i, %i callers)',
    async (withFallback, seed, CALLERS) => {
      const r = await burst(withFallback, seed, CALLERS);
      expect(r.problems.slice(0, 10)).toEqual([]);
      const c = r.counts;
      expect(c.value + c.fallback + c.upstream + c.timeout + c.open + c.rejected + c.aborted).toBe(CALLERS);
      // The scenario really exercised every path.
      expect(c.value).toBeGreaterThan(CALLERS / 10);
      expect(c.aborted).toBeGreaterThan(CALLERS / 100);
      if (withFallback) expect(c.fallback).toBeGreaterThan(CALLERS / 100);
      else {
        expect(c.upstream).toBeGreaterThan(0);
        expect(c.timeout).toBeGreaterThan(0);
        expect(c.open).toBeGreaterThan(0);
        expect(c.rejected).toBeGreaterThan(0);
      }
      // The upstream honours its signal, so the bulkhead bounds it exactly.
      expect(r.maxRunning).toBeLessThanOrEqual(64);
      expect(r.bulkhead).toEqual([0, 0]);
      expect(r.breakerConcurrent).toBe(0);
      expect(r.timeoutPending).toBe(0);
      // Thousands of calls shared one long-lived signal: it holds no listener afterwards.
      expect(r.sharedListenersPeak).toBeGreaterThan(0);
      expect(r.sharedListeners).toBe(0);
      expect(r.timers).toBe(0);
    },
    60_000,
  );
});
