// Regressions of issue 11 ("0.1.0 under real use") for the circuit breaker: items 8, 15, 16
// (buckets), 18 (backward clock) and 21 (throwing classifier in a half-open trial).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerSnapshot,
  consecutiveFailures,
  slowCalls,
} from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { CircuitOpenError } from '../../src/core/errors.js';
import { pipeline } from '../../src/index.js';
import { exponential } from '../../src/retry/backoff.js';
import { collectReports, type Report } from '../support/reporter.js';
import { deferred, ManualClock, settle } from './helpers.js';

let reported: Report[];
beforeEach(() => {
  reported = collectReports();
});
afterEach(() => {
  vi.useRealTimers();
});

const fail = (b: CircuitBreaker, error: unknown = new Error('down')) =>
  settle(
    b.execute(() => {
      throw error;
    }),
  );

/** A backoff that counts how many delays were taken from it (over all its iterators). */
function countingBackoff(delays: (i: number) => number) {
  const counter = { nexts: 0 };
  const backoff: Iterable<number> = {
    [Symbol.iterator]() {
      let i = 0;
      return {
        next() {
          counter.nexts++;
          return { value: delays(i++), done: false };
        },
      };
    },
  };
  return { backoff, counter };
}

describe('issue 11 item 8: fromJSON in bounded time, every field validated', () => {
  const open = (opens: number): CircuitBreakerSnapshot => ({
    version: 1,
    state: 'open',
    retryAfter: 1000,
    opens,
    savedAt: Date.now(),
  });

  it('steps a sleep-window backoff a bounded number of times however large `opens` is', () => {
    for (const opens of [100_000, 1e9, 1e300]) {
      const { backoff, counter } = countingBackoff((i) => Math.min(100 * 2 ** i, 60_000));
      const clock = new ManualClock();
      const b = CircuitBreaker.fromJSON(open(opens), { clock, sleepWindow: backoff });
      // The constructor reads the first delay once; the restore steps at most 1000 opens.
      expect(counter.nexts).toBeLessThanOrEqual(1 + 1000);
      expect(b.state).toBe('open');
      expect(b.sleepWindow).toBe(60_000);
      expect(b.toJSON().opens).toBe(opens);
      // The restored breaker still works: the remaining sleep window, then a trial.
      clock.advance(1000);
      expect(b.state).toBe('half-open');
    }
  });

  it('restores a huge `opens` with a fixed sleep window and with a staunch backoff', async () => {
    const clock = new ManualClock();
    const fixed = CircuitBreaker.fromJSON(open(1e300), { clock, sleepWindow: 2000 });
    expect(fixed.state).toBe('open');
    expect(fixed.sleepWindow).toBe(2000);
    const backoff = CircuitBreaker.fromJSON(open(1e9), {
      clock,
      sleepWindow: exponential({ initial: 100, max: 30_000 }),
      volumeThreshold: 1,
    });
    expect(backoff.sleepWindow).toBe(30_000);
    clock.advance(1000);
    // A failed trial re-opens with the saturated delay, and the breaker goes on working.
    await fail(backoff);
    expect(backoff.state).toBe('open');
    expect(backoff.sleepWindow).toBe(30_000);
    expect(backoff.toJSON().retryAfter).toBe(30_000);
  });

  it('keeps following a backoff for the first 1000 opens, the same live and restored', () => {
    const linear = () => countingBackoff((i) => 10 + i);
    const b = CircuitBreaker.fromJSON(open(500), { clock: new ManualClock(), sleepWindow: linear().backoff });
    expect(b.sleepWindow).toBe(509);
    const c = CircuitBreaker.fromJSON(open(5000), { clock: new ManualClock(), sleepWindow: linear().backoff });
    expect(c.sleepWindow).toBe(1009);
  });

  const good = { version: 1, state: 'open', retryAfter: 0, opens: 0, savedAt: 0 };
  it.each([
    ['not an object', null, TypeError, /not a circuit breaker snapshot/],
    ['a number', 42, TypeError, /not a circuit breaker snapshot/],
    ['an array', [], TypeError, /not a circuit breaker snapshot/],
    [
      'version missing',
      { ...good, version: undefined },
      TypeError,
      /snapshot\.version must be a number, got undefined/,
    ],
    ['version "1"', { ...good, version: '1' }, TypeError, /snapshot\.version must be a number, got "1"/],
    ['version 2', { ...good, version: 2 }, RangeError, /snapshot\.version must be 1, got 2/],
    ['version NaN', { ...good, version: Number.NaN }, RangeError, /snapshot\.version must be a number, got NaN/],
    ['state 7', { ...good, state: 7 }, TypeError, /snapshot\.state must be a string, got 7/],
    ['state "ajar"', { ...good, state: 'ajar' }, RangeError, /snapshot\.state must be one of .*, got "ajar"/],
    ['retryAfter "5"', { ...good, retryAfter: '5' }, TypeError, /snapshot\.retryAfter must be a number, got "5"/],
    ['retryAfter -1', { ...good, retryAfter: -1 }, RangeError, /snapshot\.retryAfter must be >= 0, got -1/],
    [
      'retryAfter NaN',
      { ...good, retryAfter: Number.NaN },
      RangeError,
      /snapshot\.retryAfter must be a number, got NaN/,
    ],
    [
      'retryAfter Infinity',
      { ...good, retryAfter: Number.POSITIVE_INFINITY },
      RangeError,
      /snapshot\.retryAfter must be finite, got Infinity/,
    ],
    ['opens null', { ...good, opens: null }, TypeError, /snapshot\.opens must be a number, got null/],
    ['opens -1', { ...good, opens: -1 }, RangeError, /snapshot\.opens must be >= 0, got -1/],
    ['opens 1.5', { ...good, opens: 1.5 }, RangeError, /snapshot\.opens must be an integer, got 1\.5/],
    ['opens Infinity', { ...good, opens: Number.POSITIVE_INFINITY }, RangeError, /snapshot\.opens must be finite/],
    ['opens NaN', { ...good, opens: Number.NaN }, RangeError, /snapshot\.opens must be a number, got NaN/],
    ['savedAt "now"', { ...good, savedAt: 'now' }, TypeError, /snapshot\.savedAt must be a number, got "now"/],
    ['savedAt -1', { ...good, savedAt: -1 }, RangeError, /snapshot\.savedAt must be >= 0, got -1/],
    [
      'savedAt 1e16',
      { ...good, savedAt: 1e16 },
      RangeError,
      /snapshot\.savedAt must be <= 8640000000000000, got 10000000000000000/,
    ],
    ['savedAt NaN', { ...good, savedAt: Number.NaN }, RangeError, /snapshot\.savedAt must be a number, got NaN/],
    [
      'savedAt -Infinity',
      { ...good, savedAt: Number.NEGATIVE_INFINITY },
      RangeError,
      /snapshot\.savedAt must be finite, got -Infinity/,
    ],
  ])('rejects %s', (_what, snapshot, type, message) => {
    const restore = () => CircuitBreaker.fromJSON(snapshot as unknown as CircuitBreakerSnapshot);
    expect(restore).toThrow(type);
    expect(restore).toThrow(message);
    expect(restore).toThrow(/CircuitBreaker\.fromJSON\(\)/);
  });

  it('accepts the good snapshot the table starts from', () => {
    expect(CircuitBreaker.fromJSON(good as CircuitBreakerSnapshot, { clock: new ManualClock() }).state).toBe(
      'half-open',
    );
  });
});

describe('issue 11 item 15: metrics', () => {
  it('reports latency percentiles, minimum and maximum in whole milliseconds', async () => {
    const clock = new ManualClock();
    // The slow-call rule times every call (with a threshold nothing reaches, it never trips).
    const b = new CircuitBreaker({ clock, rule: slowCalls({ slowCallDuration: 1e9 }), volumeThreshold: 1000 });
    for (const latency of [3.27, 16.4, 17.9, 40.6, 41.2, 97.8]) {
      await b.execute(() => {
        clock.advance(latency);
        return 'ok';
      });
    }
    const { percentiles, mean } = b.metrics().latency;
    for (const [p, value] of Object.entries(percentiles)) {
      expect(Number.isInteger(value), `percentile ${p} = ${value}`).toBe(true);
    }
    expect(percentiles['0']).toBe(3);
    expect(percentiles['100']).toBe(97);
    // 16.4 is in the bin [16, 17]: its value is 17 (the middle, rounded), not 16.5.
    expect(percentiles['25']).toBe(17);
    // The mean stays exact.
    expect(mean).toBeCloseTo((3.27 + 16.4 + 17.9 + 40.6 + 41.2 + 97.8) / 6, 9);
  });

  it('counts in `concurrent` only calls that reached the function, not those queued in an inner bulkhead', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock });
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const policy = pipeline(breaker, bulkhead);
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const started: number[] = [];
    const calls = gates.map((gate, i) =>
      policy.execute(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    await Promise.resolve();
    expect(bulkhead.running).toBe(1);
    expect(started).toEqual([0]);
    expect(breaker.metrics().concurrent).toBe(1);
    (gates[0] as ReturnType<typeof deferred<string>>).resolve('a');
    await calls[0];
    await vi.waitFor(() => expect(started).toEqual([0, 1]));
    expect(breaker.metrics().concurrent).toBe(1);
    (gates[1] as ReturnType<typeof deferred<string>>).resolve('b');
    (gates[2] as ReturnType<typeof deferred<string>>).resolve('c');
    await expect(Promise.all(calls)).resolves.toEqual(['a', 'b', 'c']);
    expect(breaker.metrics().concurrent).toBe(0);
  });

  it('never counts a queued call that is aborted before it starts', async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock() });
    const policy = pipeline(breaker, new Bulkhead({ maxConcurrent: 1, maxQueue: 5 }));
    const gate = deferred<string>();
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const queued = policy.execute(() => 'never', { signal: controller.signal });
    await Promise.resolve();
    expect(breaker.metrics().concurrent).toBe(1);
    controller.abort(new Error('gone'));
    await expect(queued).rejects.toThrow('gone');
    expect(breaker.metrics().concurrent).toBe(1);
    gate.resolve('done');
    await expect(first).resolves.toBe('done');
    expect(breaker.metrics().concurrent).toBe(0);
  });

  it('still counts every running call when nothing queues inside the breaker', async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock() });
    const policy = pipeline(breaker, new Bulkhead({ maxConcurrent: 5, maxQueue: 0 }));
    const gate = deferred<string>();
    const calls = [policy.execute(() => gate.promise), policy.execute(() => gate.promise)];
    expect(breaker.metrics().concurrent).toBe(2);
    gate.resolve('x');
    await Promise.all(calls);
    expect(breaker.metrics().concurrent).toBe(0);
  });
});

describe('issue 11 item 16: buckets are bounded', () => {
  it.each([1001, 1e6, 1e8])('rejects buckets: %d with a RangeError naming the value', (buckets) => {
    const make = () => new CircuitBreaker({ rollingWindow: 1e8, buckets });
    expect(make).toThrow(RangeError);
    expect(make).toThrow(
      new RegExp(`CircuitBreaker: buckets must be <= 1000, got ${String(buckets).replace('+', '\\+')}`),
    );
  });

  it('accepts 1000 buckets, and needs whole-millisecond buckets', () => {
    expect(new CircuitBreaker({ rollingWindow: 10_000, buckets: 1000 }).buckets).toBe(1000);
    expect(new CircuitBreaker({ rollingWindow: 1000, buckets: 1000 }).buckets).toBe(1000);
    for (const [rollingWindow, buckets] of [
      [500, 1000],
      [1.5, 1],
      [10.5, 3],
    ] as const) {
      const make = () => new CircuitBreaker({ rollingWindow, buckets });
      expect(make).toThrow(RangeError);
      expect(make).toThrow(`rollingWindow (${rollingWindow} ms) must be divisible by buckets (${buckets})`);
    }
  });
});

describe('issue 11 item 18: an injected clock that steps backwards', () => {
  it('half-opens after the sleep window of forward time even if the clock stepped back an hour', async () => {
    const hour = 3_600_000;
    const clock = new ManualClock(10 * hour);
    const b = new CircuitBreaker({ clock, volumeThreshold: 1, sleepWindow: 5000 });
    await fail(b);
    expect(b.state).toBe('open');
    clock.advance(1000);
    expect(b.state).toBe('open');
    clock.time -= hour; // NTP correction on a Date.now-based clock
    expect(b.state).toBe('open');
    const rejected = await settle(b.execute(() => 'x'));
    expect((rejected as { error: CircuitOpenError }).error).toBeInstanceOf(CircuitOpenError);
    expect((rejected as { error: CircuitOpenError }).error.retryAfter).toBe(4000);
    clock.advance(4000);
    expect(b.state).toBe('half-open');
    await expect(b.execute(() => 'x')).resolves.toBe('x');
    expect(b.state).toBe('closed');
  });

  it('keeps the rolling window counting across a backward step', async () => {
    const clock = new ManualClock(50_000);
    const b = new CircuitBreaker({ clock, volumeThreshold: 1000 });
    await fail(b);
    await b.execute(() => 'ok');
    clock.time -= 30_000;
    await fail(b);
    const m = b.metrics();
    expect(m.requests).toBe(3);
    expect(m.errors).toBe(2);
  });

  it('treats a clock reading that is not a finite number as no time passing (no breaker stuck open)', async () => {
    const clock = new ManualClock(1000);
    const b = new CircuitBreaker({ clock, volumeThreshold: 1, sleepWindow: 100 });
    expect(b.state).toBe('closed');
    clock.time = Number.NaN; // a broken clock while the breaker trips
    await fail(b);
    expect(b.state).toBe('open');
    clock.time = 1100;
    expect(b.state).toBe('half-open');
    await expect(b.execute(() => 'x')).resolves.toBe('x');
  });
});

describe('issue 11 item 21: a classifier that throws in a half-open trial', () => {
  async function halfOpen(options: ConstructorParameters<typeof CircuitBreaker>[0]) {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock, rule: consecutiveFailures(1), sleepWindow: 1000, ...options });
    await fail(b);
    clock.advance(1000);
    expect(b.state).toBe('half-open');
    reported.length = 0;
    return { b, clock };
  }

  it('a throwing failureResult: the call resolves with its result, the classifier error is reported, the slot is free', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'status')");
    const { b } = await halfOpen({
      failureResult: () => {
        throw bug;
      },
    });
    await expect(b.execute(() => 'result')).resolves.toBe('result');
    expect(reported).toEqual([{ error: bug, source: 'CircuitBreaker "circuit-breaker" failureResult' }]);
    // Counted as the success it is by default (the classifier said nothing): the breaker closed.
    expect(b.state).toBe('closed');
    await expect(b.execute(() => 'next')).resolves.toBe('next');
  });

  it('a throwing failureResult with several trials: no slot is held', async () => {
    const { b } = await halfOpen({
      trialSuccesses: 2,
      failureResult: () => {
        throw new Error('classifier bug');
      },
    });
    await expect(b.execute(() => 1)).resolves.toBe(1);
    expect(b.state).toBe('half-open');
    await expect(b.execute(() => 2)).resolves.toBe(2);
    expect(b.state).toBe('closed');
    expect(reported).toHaveLength(2);
  });

  it('a throwing exclude predicate: the call rejects with its own error, counted as a failure, reported', async () => {
    const bug = new Error('matcher bug');
    const { b, clock } = await halfOpen({
      exclude: () => {
        throw bug;
      },
    });
    const own = new Error('upstream 503');
    const r = await fail(b, own);
    expect(r).toEqual({ ok: false, error: own });
    expect(reported).toHaveLength(1);
    expect(reported[0]?.error).toBe(bug);
    // Not excluded, so the trial failed: the breaker re-opened (no trial slot left held).
    expect(b.state).toBe('open');
    clock.advance(1000);
    await expect(b.execute(() => 'back')).resolves.toBe('back');
    expect(b.state).toBe('closed');
  });

  it('a sleep-window backoff that throws does not replace the call error; the last delay is kept', async () => {
    const bug = new Error('backoff bug');
    const backoff: Iterable<number> = {
      [Symbol.iterator]() {
        let i = 0;
        return {
          next() {
            if (i++ === 0) return { value: 100, done: false };
            throw bug;
          },
        };
      },
    };
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock, volumeThreshold: 1, sleepWindow: backoff });
    await fail(b);
    expect(b.sleepWindow).toBe(100);
    clock.advance(100);
    const own = new Error('still down');
    expect(await fail(b, own)).toEqual({ ok: false, error: own });
    expect(b.state).toBe('open');
    expect(b.sleepWindow).toBe(100);
    expect(reported).toEqual([{ error: bug, source: 'CircuitBreaker "circuit-breaker" sleepWindow backoff' }]);
  });
});
