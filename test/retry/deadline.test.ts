import { describe, expect, it, vi } from 'vitest';
import { type Clock, Fallback, pipeline, RetryPolicy, Timeout, TimeoutError } from '../../src/index.js';

// Issue 11 item 20 (deadline): a retry knows what is left of an enclosing Timeout's deadline. A
// delay (Retry-After or backoff) that does not fit is not slept: the call fails at once with its own
// last failure, so an outer Fallback can answer, instead of a TimeoutError at the deadline.

/** Tracks when (in fake ms since `origin`) a promise settled, and how. */
function track(promise: Promise<unknown>) {
  const origin = Date.now();
  const state: { at: number | undefined; value: unknown; error: unknown } = {
    at: undefined,
    value: undefined,
    error: undefined,
  };
  promise.then(
    (value) => {
      state.at = Date.now() - origin;
      state.value = value;
    },
    (error: unknown) => {
      state.at = Date.now() - origin;
      state.error = error;
    },
  );
  return state;
}

describe('RetryPolicy inside a Timeout: the remaining deadline', () => {
  it('a Retry-After longer than what is left rejects at once with the original error, not a TimeoutError', async () => {
    vi.useFakeTimers();
    const retry = new RetryPolicy({ maxRetries: 3, retryAfter: () => 10_000 });
    const events: unknown[] = [];
    retry.on('retry', (e) => events.push(['retry', e.delay]));
    retry.on('giveUp', (e) => events.push(['giveUp', e.reason, e.attempts, e.delay]));
    const original = new Error('503 Service Unavailable');
    let attempts = 0;
    const call = track(
      pipeline(new Timeout(1000), retry).execute(() => {
        attempts++;
        throw original;
      }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(call.at).toBe(0);
    expect(call.error).toBe(original);
    expect(call.error).not.toBeInstanceOf(TimeoutError);
    expect(attempts).toBe(1);
    expect(events).toEqual([['giveUp', 'deadline', 1, 10_000]]);
    await vi.advanceTimersByTimeAsync(1000); // the Timeout's idle timer goes off once more
  });

  it('so an outer Fallback answers at once', async () => {
    vi.useFakeTimers();
    const fallback = new Fallback((error) => `cached (after ${(error as Error).message})`);
    const call = track(
      pipeline(fallback, new Timeout(1000), new RetryPolicy({ retryAfter: () => 5000 })).execute(() => {
        throw new Error('429');
      }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(call.at).toBe(0);
    expect(call.value).toBe('cached (after 429)');
    await vi.advanceTimersByTimeAsync(1000);
  });

  it('a backoff delay is measured against what is left after the attempts so far', async () => {
    vi.useFakeTimers();
    let attempts = 0;
    // Attempts take 300 ms each. After attempt 1 (t=300) 700 ms are left: a delay of 200 fits.
    // After attempt 2 (t=800) 200 ms are left: a delay of 200 does not.
    const call = track(
      pipeline(new Timeout(1000), new RetryPolicy({ backoff: [200, 200, 200] })).execute(async () => {
        attempts++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        throw new Error(`failure ${attempts}`);
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(attempts).toBe(2);
    expect(call.at).toBe(800);
    expect((call.error as Error).message).toBe('failure 2');
  });

  it('a delay that fits is slept as usual', async () => {
    vi.useFakeTimers();
    let attempts = 0;
    const call = track(
      pipeline(new Timeout(1000), new RetryPolicy({ maxRetries: 1, retryAfter: () => 999 })).execute(() => {
        attempts++;
        if (attempts === 1) throw new Error('once');
        return 'ok';
      }),
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(call.value).toBe('ok');
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(1000);
  });

  it('the earliest of several enclosing deadlines counts; a Timeout inside the retry does not', async () => {
    vi.useFakeTimers();
    const failing = () => Promise.reject(new Error('down'));
    const outer = track(
      pipeline(new Timeout(60_000), new Timeout(500), new RetryPolicy({ retryAfter: () => 600 })).execute(failing),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(outer.at).toBe(0);
    expect((outer.error as Error).message).toBe('down');
    // A per-attempt Timeout (inside the retry) bounds each attempt, not the wait between them.
    let attempts = 0;
    const inner = track(
      pipeline(new RetryPolicy({ maxRetries: 1, retryAfter: () => 600 }), new Timeout(500)).execute(() => {
        attempts++;
        return Promise.reject(new Error('down'));
      }),
    );
    await vi.advanceTimersByTimeAsync(600);
    expect(attempts).toBe(2);
    expect(inner.at).toBe(600);
    await vi.advanceTimersByTimeAsync(60_000);
  });

  it('each Timeout’s time left is read on its own clock, whatever its readings', async () => {
    vi.useFakeTimers();
    // A wall clock (Date-based, readings near 1.7e12) for the Timeout; the retry keeps the system clock.
    const wall: Clock = {
      now: () => Date.now() + 1_700_000_000_000,
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    let attempts = 0;
    const run = (delay: number) =>
      track(
        pipeline(new Timeout({ timeout: 1000, clock: wall }), new RetryPolicy({ backoff: [delay] })).execute(() => {
          attempts++;
          throw new Error('x');
        }),
      );
    const tooLong = run(1000);
    await vi.advanceTimersByTimeAsync(0);
    expect(tooLong.at).toBe(0);
    expect(attempts).toBe(1);
    const fits = run(900);
    await vi.advanceTimersByTimeAsync(900);
    expect(fits.at).toBe(900);
    expect(attempts).toBe(3);
    await vi.advanceTimersByTimeAsync(1000);
  });
});
