import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { CircuitOpenError, TimeoutError } from '../../src/core/errors.js';
import { pipeline } from '../../src/core/policy.js';
import { Fallback } from '../../src/fallback/Fallback.js';
import { RetryPolicy } from '../../src/retry/RetryPolicy.js';
import { Timeout } from '../../src/timeout/Timeout.js';

describe('CircuitBreaker in a pipeline', () => {
  it('counts timeouts from an inner Timeout, short-circuits retries, and feeds the fallback', async () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ volumeThreshold: 3, sleepWindow: 1000 });
    const fallback = new Fallback((error) => (error instanceof CircuitOpenError ? 'open' : 'degraded'));
    fallback.on('fallback', () => breaker.recordFallback(true));
    const retry = new RetryPolicy({ backoff: [10, 10, 10, 10] });
    const policy = pipeline(fallback, retry, breaker, new Timeout(50));
    let calls = 0;
    const hang = () => {
      calls++;
      return new Promise<string>(() => {});
    };
    const result = policy.execute(hang);
    await vi.advanceTimersByTimeAsync(50 + 10 + 50 + 10 + 50 + 10 + 10 + 10);
    // Three timeouts trip the breaker; the last two retries are short-circuited.
    await expect(result).resolves.toBe('open');
    expect(calls).toBe(3);
    expect(breaker.metrics()).toMatchObject({
      state: 'open',
      requests: 3,
      timeouts: 3,
      errors: 3,
      shortCircuits: 2,
      fallbackSuccesses: 1,
    });

    await vi.advanceTimersByTimeAsync(1000);
    expect(breaker.state).toBe('half-open');
    await expect(policy.execute(() => 'back')).resolves.toBe('back');
    expect(breaker.state).toBe('closed');
    // The Timeout's shared timer goes off once more, within its timeout, then nothing is left.
    await vi.advanceTimersByTimeAsync(50);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a retry outside an open breaker sees CircuitOpenError with retryAfter', async () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ volumeThreshold: 1, sleepWindow: 100 });
    const seen: number[] = [];
    const retry = new RetryPolicy({
      maxRetries: 2,
      backoff: [50],
      retryAfter: (outcome) => {
        if (outcome.kind !== 'error' || !(outcome.error instanceof CircuitOpenError)) return undefined;
        seen.push(outcome.error.retryAfter);
        return outcome.error.retryAfter;
      },
    });
    let calls = 0;
    const p = pipeline(retry, breaker).execute(() => {
      calls++;
      if (calls === 1) throw new TimeoutError(5);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(100);
    await expect(p).resolves.toBe('ok');
    // Attempt 1 trips the breaker; attempt 2 (50 ms later) is short-circuited and its retryAfter
    // (50 ms) schedules attempt 3, the half-open trial.
    expect(calls).toBe(2);
    expect(seen).toEqual([50]);
    expect(breaker.state).toBe('closed');
  });
});
