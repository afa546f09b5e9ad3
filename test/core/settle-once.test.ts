/**
 * Issue 11 item 22: a promise whose `then` calls back twice (or calls both of its callbacks)
 * corrupted the bulkhead's counters (running = -2, then 3 calls at once under a limit of 1). What
 * the protected function returns is adopted settle-once: the first callback wins, so every policy
 * sees exactly one outcome per call.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { settleOnce } from '../../src/core/thenable.js';
import { BulkheadRejectedError, pipeline, RetryPolicy, setErrorReporter } from '../../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: hostile input on purpose, past the types.
const bad = (value: unknown): any => value;

type Callbacks = [(value: unknown) => unknown, (error: unknown) => unknown];

/** Calls back with 1, then 2, then rejects: synchronously, then again a tick later. */
function callBackTwice(this: unknown, ...[ok, fail]: Callbacks): Promise<unknown> {
  ok?.(1);
  ok?.(2);
  fail?.(new Error('and rejects too'));
  queueMicrotask(() => {
    ok?.(3);
    fail?.(new Error('later'));
  });
  return Promise.resolve();
}

/** Rejects, then fulfils: the rejection must win. */
function failThenSucceed(this: unknown, ...[ok, fail]: Callbacks): Promise<unknown> {
  fail?.(new Error('first: a rejection'));
  ok?.('then a value');
  fail?.(new Error('and another rejection'));
  return Promise.resolve();
}

/** A Promise subclass whose `then` calls back twice. */
class TwiceSubclass<T> extends Promise<T> {}
Object.defineProperty(TwiceSubclass.prototype, 'then', { value: callBackTwice });

/** The hostile shapes a protected function may return. */
const hostile: [string, () => PromiseLike<unknown>, 'fulfils' | 'rejects'][] = [
  ['a Promise subclass whose then calls back twice', () => new TwiceSubclass(() => {}), 'fulfils'],
  [
    'a native promise with an own then calling back twice',
    () => {
      const promise = Promise.resolve(0);
      Object.defineProperty(promise, 'then', { value: callBackTwice });
      return promise;
    },
    'fulfils',
  ],
  [
    'a native promise with an own then that rejects, then fulfils',
    () => {
      const promise = Promise.resolve(0);
      Object.defineProperty(promise, 'then', { value: failThenSucceed });
      return promise;
    },
    'rejects',
  ],
  [
    'a plain thenable calling back twice',
    // biome-ignore lint/suspicious/noThenProperty: a hostile thenable on purpose.
    () => bad({ then: callBackTwice }),
    'fulfils',
  ],
];

describe('a hostile thenable returned by the function is adopted settle-once', () => {
  let previous: ReturnType<typeof setErrorReporter>;
  beforeEach(() => {
    vi.useFakeTimers();
    previous = setErrorReporter(() => {});
  });
  afterEach(async () => {
    setErrorReporter(previous);
    await vi.advanceTimersByTimeAsync(1_000);
  });

  it.each(hostile)('Bulkhead, %s: running never goes negative and the limit holds', async (_, make, outcome) => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    const admits: number[] = [];
    bulkhead.on('admit', ({ running }) => admits.push(running));
    for (let i = 0; i < 3; i++) {
      const settled = await bulkhead.execute(make).then(
        (value): { ok: boolean; value: unknown } => ({ ok: true, value }),
        (): { ok: boolean; value: unknown } => ({ ok: false, value: undefined }),
      );
      expect(settled.ok).toBe(outcome === 'fulfils');
      if (settled.ok) expect(settled.value).toBe(1);
      await vi.advanceTimersByTimeAsync(0);
      expect(bulkhead.running).toBe(0);
      expect(bulkhead.available).toBe(1);
    }
    // The limit of 1 still holds: a second call while one runs is rejected.
    let release: () => void = () => {};
    const holder = bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)));
    await expect(bulkhead.execute(() => 'second')).rejects.toBeInstanceOf(BulkheadRejectedError);
    expect(bulkhead.running).toBe(1);
    release();
    await holder;
    expect(bulkhead.running).toBe(0);
    expect(Math.max(...admits)).toBe(1);
  });

  it.each(hostile)('Bulkhead with a queue, %s: queued calls are admitted one at a time', async (_, make) => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    let concurrent = 0;
    let peak = 0;
    const work = async () => {
      concurrent++;
      peak = Math.max(peak, concurrent);
      await Promise.resolve();
      concurrent--;
      return 'ok';
    };
    const calls = [bulkhead.execute(make).catch(() => {}), ...Array.from({ length: 5 }, () => bulkhead.execute(work))];
    await Promise.all(calls);
    expect(peak).toBe(1);
    expect(bulkhead.running).toBe(0);
    expect(bulkhead.queued).toBe(0);
  });

  it.each(hostile)('CircuitBreaker, %s: one outcome counted per call, concurrent never negative', async (_, make) => {
    const breaker = new CircuitBreaker({ volumeThreshold: 1_000 });
    const outcomes: string[] = [];
    breaker.on('success', () => outcomes.push('success'));
    breaker.on('failure', () => outcomes.push('failure'));
    for (let i = 0; i < 4; i++) await breaker.execute(make).catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    const metrics = breaker.metrics();
    expect(metrics.concurrent).toBe(0);
    expect(metrics.requests).toBe(4);
    expect(outcomes).toHaveLength(4);
  });

  it.each(hostile)('RetryPolicy, %s: one attempt per outcome, never a retry of a success', async (_, make, outcome) => {
    const retry = new RetryPolicy({ maxRetries: 2, backoff: [10, 10] });
    let attempts = 0;
    const events: string[] = [];
    retry.on('retry', () => events.push('retry'));
    retry.on('success', () => events.push('success'));
    retry.on('giveUp', () => events.push('giveUp'));
    const settled = retry
      .execute(() => {
        attempts++;
        return make();
      })
      .then(
        (value) => ({ ok: true, value }),
        () => ({ ok: false, value: undefined }),
      );
    await vi.advanceTimersByTimeAsync(100);
    const result = await settled;
    if (outcome === 'fulfils') {
      expect(result).toEqual({ ok: true, value: 1 });
      expect(attempts).toBe(1);
      expect(events).toEqual(['success']);
    } else {
      expect(result.ok).toBe(false);
      expect(attempts).toBe(3);
      expect(events).toEqual(['retry', 'retry', 'giveUp']);
    }
  });

  it.each(hostile)('pipeline, %s: every counter is exact', async (_, make, outcome) => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 4 });
    const breaker = new CircuitBreaker({ volumeThreshold: 1_000 });
    // The function runs straight under the bulkhead (an inner Timeout would absorb the extra
    // callbacks itself: its deadline list is left once).
    const policy = pipeline(new RetryPolicy({ maxRetries: 0 }), breaker, bulkhead);
    const results = await Promise.allSettled([
      policy.execute(make),
      policy.execute(make),
      policy.execute(() => 'plain'),
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(results.map((r) => r.status)).toEqual([
      outcome === 'fulfils' ? 'fulfilled' : 'rejected',
      outcome === 'fulfils' ? 'fulfilled' : 'rejected',
      'fulfilled',
    ]);
    expect(bulkhead.running).toBe(0);
    expect(bulkhead.queued).toBe(0);
    expect(breaker.metrics().concurrent).toBe(0);
    expect(breaker.metrics().requests).toBe(3);
  });

  it('a then that throws after calling back changes nothing', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    const promise = Promise.resolve(0);
    Object.defineProperty(promise, 'then', {
      value(ok: (value: unknown) => void) {
        ok('value');
        throw new Error('then threw after calling back');
      },
    });
    await expect(bulkhead.execute(() => promise)).resolves.toBe('value');
    expect(bulkhead.running).toBe(0);
  });

  it('settleOnce: a plain native promise is passed through as is; anything else is adopted', () => {
    // The hot path allocates nothing: the function's own promise is what the policies react to.
    const plain = Promise.resolve(1);
    expect(settleOnce(plain)).toBe(plain);
    const subclass = new TwiceSubclass<number>(() => {});
    const adopted = settleOnce(subclass);
    expect(adopted).not.toBe(subclass);
    expect(Object.getPrototypeOf(adopted)).toBe(Promise.prototype);
    const ownThen = Promise.resolve(2);
    Object.defineProperty(ownThen, 'then', { value: callBackTwice });
    expect(settleOnce(ownThen)).not.toBe(ownThen);
    // A proxy of a promise is not a promise (no internal slots): adopted too.
    const proxy = new Proxy(Promise.resolve(3), {});
    const fromProxy = settleOnce(proxy);
    fromProxy.catch(() => {});
    expect(fromProxy).not.toBe(proxy);
  });
});
