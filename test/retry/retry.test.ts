import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  constant,
  decorrelatedJitter,
  exponential,
  type RetryOutcome,
  RetryPolicy,
  setErrorReporter,
  TimeoutError,
} from '../../src/index.js';

class Transient extends Error {}
class Fatal extends Error {}

/** Runs `policy.execute(fn)` to completion under fake timers, recording the delays slept. */
async function run<T>(policy: RetryPolicy, fn: (attempt: number) => T | Promise<T>) {
  const delays: number[] = [];
  const off = policy.on('retry', (e) => delays.push(e.delay));
  let attempts = 0;
  const promise = policy.execute((ctx) => {
    attempts = ctx.attempt;
    return fn(ctx.attempt);
  });
  const settled = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await vi.runAllTimersAsync();
  const result = await settled;
  off();
  return { result, delays, attempts };
}

describe('RetryPolicy: attempts and backoff (go-resiliency retrier)', () => {
  it('makes 1 + maxRetries attempts and rethrows the last error unchanged', async () => {
    vi.useFakeTimers();
    const errors: Error[] = [];
    const { result, attempts } = await run(new RetryPolicy({ maxRetries: 3, backoff: constant(10) }), (n) => {
      const e = new Error(`attempt ${n}`);
      errors.push(e);
      throw e;
    });
    expect(attempts).toBe(4);
    expect(result).toEqual({ ok: false, error: errors[3] });
    expect(result.ok === false && result.error).toBe(errors[3]);
  });

  it('defaults to 3 retries with exponential delays of 100, 200, 400 ms', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy();
    expect(policy.maxRetries).toBe(3);
    const { delays, attempts } = await run(policy, () => Promise.reject(new Error('x')));
    expect(attempts).toBe(4);
    expect(delays).toEqual([100, 200, 400]);
  });

  it('a list of delays is the backoff and its length is the retry count', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy({ backoff: [5, 50, 500] });
    expect(policy.maxRetries).toBe(3);
    const { delays, attempts } = await run(policy, () => {
      throw new Error('x');
    });
    expect(delays).toEqual([5, 50, 500]);
    expect(attempts).toBe(4);
  });

  it('sleeps exactly the delays: no attempt before its delay has passed', async () => {
    vi.useFakeTimers();
    let attempts = 0;
    const p = new RetryPolicy({ backoff: [100, 300] }).execute(() => {
      attempts++;
      throw new Error('x');
    });
    const check = expect(p).rejects.toThrow('x');
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(299);
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(3);
    await check;
  });

  it('maxRetries beyond the list repeats its last delay; below it truncates', async () => {
    vi.useFakeTimers();
    const more = await run(new RetryPolicy({ backoff: [1, 2], maxRetries: 4 }), () => Promise.reject(new Error()));
    expect(more.delays).toEqual([1, 2, 2, 2]);
    const fewer = await run(new RetryPolicy({ backoff: [1, 2, 3], maxRetries: 1 }), () => Promise.reject(new Error()));
    expect(fewer.delays).toEqual([1]);
    const none = await run(new RetryPolicy({ backoff: [], maxRetries: 2 }), () => Promise.reject(new Error()));
    expect(none.delays).toEqual([0, 0]);
  });

  it('exponential: d0 * factor^i, capped by max, never NaN or Infinity', () => {
    const take = (it: Iterable<number>, n: number) => {
      const out: number[] = [];
      for (const d of it) {
        out.push(d);
        if (out.length === n) break;
      }
      return out;
    };
    expect(take(exponential({ initial: 10 }), 5)).toEqual([10, 20, 40, 80, 160]);
    expect(take(exponential({ initial: 10, factor: 3 }), 4)).toEqual([10, 30, 90, 270]);
    expect(take(exponential({ initial: 10, max: 50 }), 6)).toEqual([10, 20, 40, 50, 50, 50]);
    const many = take(exponential({ initial: 1 }), 3000);
    expect(many.every((d) => Number.isFinite(d) && d <= 2 ** 31 - 1)).toBe(true);
    expect(take(constant(7), 3)).toEqual([7, 7, 7]);
  });

  it('decorrelated jitter: non-negative, capped, finite after thousands of retries, fresh per call', () => {
    const random = () => 0.5;
    const a = [...take(decorrelatedJitter({ median: 100, max: 10_000, random }), 5000)];
    expect(a.every((d) => d >= 0 && d <= 10_000 && Number.isFinite(d))).toBe(true);
    expect(a[0]).toBeGreaterThan(0);
    expect(a[4999]).toBe(10_000);
    // The median of the first delay is about `median` (uniform randoms).
    const firsts = Array.from({ length: 2001 }, () => take(decorrelatedJitter({ median: 100 }), 1)[0] as number).sort(
      (x, y) => x - y,
    );
    expect(firsts[1000]).toBeGreaterThan(60);
    expect(firsts[1000]).toBeLessThan(160);
    // Each iteration starts afresh.
    const backoff = decorrelatedJitter({ median: 100, random });
    expect(take(backoff, 3)).toEqual(take(backoff, 3));
    function take(it: Iterable<number>, n: number) {
      const out: number[] = [];
      for (const d of it) {
        out.push(d);
        if (out.length === n) break;
      }
      return out;
    }
  });

  it('Infinity retries until success', async () => {
    vi.useFakeTimers();
    const { result, attempts } = await run(new RetryPolicy({ maxRetries: Infinity, backoff: constant(1) }), (n) => {
      if (n < 250) throw new Error('not yet');
      return 'done';
    });
    expect(result).toEqual({ ok: true, value: 'done' });
    expect(attempts).toBe(250);
  });

  it('jitter spreads each delay uniformly in [d(1-j), d(1+j))', async () => {
    vi.useFakeTimers();
    const randoms = [0, 0.5, 0.999999];
    let i = 0;
    const policy = new RetryPolicy({ backoff: [100, 100, 100], jitter: 0.2, random: () => randoms[i++] as number });
    const { delays } = await run(policy, () => Promise.reject(new Error()));
    expect(delays[0]).toBeCloseTo(80);
    expect(delays[1]).toBeCloseTo(100);
    expect(delays[2]).toBeCloseTo(120, 3);
    expect(delays[2]).toBeLessThan(120);
  });

  it('a delay can come from the failure (Retry-After)', async () => {
    vi.useFakeTimers();
    const seen: Array<[RetryOutcome, number]> = [];
    const policy = new RetryPolicy({
      backoff: [10, 10],
      jitter: 0.5,
      retryAfter: (outcome, attempt) => {
        seen.push([outcome, attempt]);
        return outcome.kind === 'error' && outcome.error instanceof Transient ? 2500 : undefined;
      },
      random: () => 0.5,
    });
    const first = new Transient('429');
    const { delays } = await run(policy, (n) => {
      throw n === 1 ? first : new Error('other');
    });
    expect(delays).toEqual([2500, 10]);
    expect(seen[0]).toEqual([{ kind: 'error', error: first }, 1]);
  });
});

describe('RetryPolicy: classification', () => {
  it('retries every error by default', async () => {
    vi.useFakeTimers();
    const { attempts } = await run(new RetryPolicy({ backoff: [0, 0] }), () => {
      throw new Fatal('x');
    });
    expect(attempts).toBe(3);
  });

  it('allow-list: only matching errors are retried, by class, predicate or code', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy({
      backoff: [0, 0, 0],
      retryOn: [Transient, (e) => e instanceof Error && e.message === 'flaky', 'ECONNRESET'],
    });
    const byClass = await run(policy, () => Promise.reject(new Transient()));
    expect(byClass.attempts).toBe(4);
    const byPredicate = await run(policy, () => Promise.reject(new Error('flaky')));
    expect(byPredicate.attempts).toBe(4);
    const byCode = await run(policy, () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })));
    expect(byCode.attempts).toBe(4);
    const fatal = new Fatal('no');
    const other = await run(policy, () => Promise.reject(fatal));
    expect(other.attempts).toBe(1);
    expect(other.result).toEqual({ ok: false, error: fatal });
    const nonError = await run(policy, () => Promise.reject('a string'));
    expect(nonError.attempts).toBe(1);
  });

  it('deny-list: matching errors fail at once, the rest are retried', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy({ backoff: [0, 0], failOn: Fatal });
    expect((await run(policy, () => Promise.reject(new Fatal()))).attempts).toBe(1);
    expect((await run(policy, () => Promise.reject(new Transient()))).attempts).toBe(3);
    // The deny-list wins over the allow-list.
    const both = new RetryPolicy({ backoff: [0, 0], retryOn: Error, failOn: Fatal });
    expect((await run(both, () => Promise.reject(new Fatal()))).attempts).toBe(1);
    expect((await run(both, () => Promise.reject(new Transient()))).attempts).toBe(3);
  });

  it('results can be retryable failures; when retries run out the last one is returned', async () => {
    vi.useFakeTimers();
    const responses = [{ status: 503 }, { status: 503 }, { status: 200 }];
    const policy = new RetryPolicy({ backoff: [1, 1, 1], retryResult: (r) => (r as { status: number }).status >= 500 });
    const ok = await run(policy, (n) => responses[n - 1]);
    expect(ok.result).toEqual({ ok: true, value: { status: 200 } });
    expect(ok.attempts).toBe(3);
    const last = { status: 503 };
    const exhausted = await run(new RetryPolicy({ backoff: [1], retryResult: () => true }), (n) =>
      n === 2 ? last : { status: 500 },
    );
    expect(exhausted.result.ok && exhausted.result.value).toBe(last);
  });

  it('never retries the caller’s own cancellation', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let attempts = 0;
    const p = new RetryPolicy({ backoff: [0, 0, 0] }).execute(
      (ctx) =>
        new Promise((_, reject) => {
          attempts++;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
      { signal: controller.signal },
    );
    controller.abort(new Error('bye'));
    await expect(p).rejects.toThrow('bye');
    await vi.runAllTimersAsync();
    expect(attempts).toBe(1);
  });

  it('checks the signal before every attempt', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let attempts = 0;
    const p = new RetryPolicy({ backoff: [0, 0, 0] }).execute(
      () => {
        attempts++;
        controller.abort('stop'); // aborted during the attempt, which then fails for its own reasons
        throw new Error('fail');
      },
      { signal: controller.signal },
    );
    await expect(p).rejects.toBe('stop');
    await vi.runAllTimersAsync();
    expect(attempts).toBe(1);
  });

  it('stops retrying when an enclosing timeout expires', async () => {
    vi.useFakeTimers();
    const { Timeout, pipeline } = await import('../../src/index.js');
    let attempts = 0;
    // Each attempt takes 8 ms: the delay of 10 fits in what is left after attempt 1 (17 ms), and the
    // deadline passes during attempt 2.
    const p = pipeline(new Timeout(25), new RetryPolicy({ maxRetries: 100, backoff: constant(10) })).execute(
      async () => {
        attempts++;
        await new Promise((resolve) => setTimeout(resolve, 8));
        throw new Error('x');
      },
    );
    const check = expect(p).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(25);
    await check;
    await vi.runAllTimersAsync();
    expect(attempts).toBe(2);
  });
});

describe('RetryPolicy: events', () => {
  it('reports retries, giving up and success', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy({ backoff: [5, 6] });
    const log: unknown[] = [];
    policy.on('retry', (e) => log.push(['retry', e.attempt, e.delay, (e.outcome as { error: Error }).error.message]));
    policy.on('giveUp', (e) => log.push(['giveUp', e.attempts]));
    const offSuccess = policy.on('success', (e) => log.push(['success', e.attempts]));
    await run(policy, (n) => {
      throw new Error(`e${n}`);
    });
    await run(policy, (n) => {
      if (n === 1) throw new Error('once');
      return 1;
    });
    offSuccess();
    offSuccess();
    await run(policy, () => 1);
    expect(log).toEqual([
      ['retry', 1, 5, 'e1'],
      ['retry', 2, 6, 'e2'],
      ['giveUp', 3],
      ['retry', 1, 5, 'once'],
      ['success', 2],
    ]);
  });

  it('a throwing listener does not disturb the call; its error goes to the error reporter', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy({ backoff: [1] });
    const bug = new Error('listener bug');
    policy.on('retry', () => {
      throw bug;
    });
    const reported: Array<[unknown, string]> = [];
    const previous = setErrorReporter((error, source) => reported.push([error, source]));
    try {
      const { result } = await run(policy, (n) => {
        if (n === 1) throw new Error('x');
        return 'ok';
      });
      expect(result).toEqual({ ok: true, value: 'ok' });
      expect(reported).toEqual([[bug, 'RetryPolicy listener "retry"']]);
    } finally {
      setErrorReporter(previous);
    }
  });
});

describe('RetryPolicy: properties', () => {
  it('attempts <= maxRetries + 1, delays within the jitter bounds, the last error rethrown', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 8 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 16, maxLength: 16 }),
        async (maxRetries, backoff, jitter, failures, randoms) => {
          vi.useFakeTimers();
          try {
            let r = 0;
            const policy = new RetryPolicy({ maxRetries, backoff, jitter, random: () => randoms[r++ % 16] as number });
            const errors: Error[] = [];
            const { result, delays, attempts } = await run(policy, (n) => {
              if (n <= failures) {
                const e = new Error(String(n));
                errors.push(e);
                throw e;
              }
              return n;
            });
            expect(attempts).toBeLessThanOrEqual(maxRetries + 1);
            expect(attempts).toBe(Math.min(failures + 1, maxRetries + 1));
            delays.forEach((d, i) => {
              const base = backoff.length === 0 ? 0 : (backoff[Math.min(i, backoff.length - 1)] as number);
              expect(d).toBeGreaterThanOrEqual(base * (1 - jitter) - 1e-9);
              expect(d).toBeLessThanOrEqual(base * (1 + jitter) + 1e-9);
            });
            if (failures > maxRetries) {
              expect(result.ok).toBe(false);
              expect(!result.ok && result.error).toBe(errors.at(-1));
            } else {
              expect(result).toEqual({ ok: true, value: failures + 1 });
            }
          } finally {
            vi.useRealTimers();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
