/**
 * Regression tests from the reliability suites: shrunk counter-examples of the model-based
 * property test, pinned as plain scenarios, and minimal repros of the findings in
 * docs/reliability.md. A repro of an open finding is `it.fails`: it turns red when
 * the bug is fixed, and then loses its `.fails`.
 */
import { describe, expect, it, vi } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { Fallback, pipeline, RetryPolicy, Timeout } from '../../src/index.js';
import { trackListeners } from '../support/listeners.js';
import { runScenario, type Scenario } from '../support/model.js';

async function clean(s: Scenario): Promise<void> {
  vi.useFakeTimers();
  try {
    expect(await runScenario(s)).toEqual([]);
  } finally {
    vi.clearAllTimers();
  }
}

describe('shrunk counter-examples of the pipeline model', () => {
  // Both first failed through a harness fault (a caller's abort timer still pending when the
  // check ran); they stay as the smallest cases of "abort after the answer changes nothing".
  it('an outermost Fallback answers a rejection; the caller aborts 5 ms later', () =>
    clean({
      policies: [{ type: 'fallback', handler: 'value' }],
      calls: [{ start: 0, abortAfter: 5, script: [{ kind: 'throw', delay: 0 }] }],
    }));

  it('a Timeout around a synchronous value; the caller aborts after the answer, before the deadline', () =>
    clean({
      policies: [{ type: 'timeout', timeout: 10, cooperative: false }],
      calls: [{ start: 0, abortAfter: 15, script: [{ kind: 'succeed', delay: 0 }] }],
    }));

  it('a caller abort during a retry backoff, inside a timeout that would expire later', () =>
    clean({
      policies: [
        { type: 'timeout', timeout: 1_000, cooperative: true },
        { type: 'retry', maxRetries: 3, backoff: [200], retryBad: false, jitter: 0 },
      ],
      calls: [{ start: 0, abortAfter: 105, script: [{ kind: 'throw', delay: 10 }] }],
    }));

  it('a queued bulkhead caller whose signal aborts while a hung call holds the slot behind a timeout', () =>
    clean({
      policies: [
        { type: 'bulkhead', maxConcurrent: 1, maxQueue: 1, queueTimeout: undefined },
        { type: 'timeout', timeout: 300, cooperative: false },
      ],
      calls: [
        { start: 0, script: [{ kind: 'late', delay: 100_000, reject: false }] },
        { start: 10, abortAfter: 55, script: [{ kind: 'succeed', delay: 10 }] },
      ],
    }));
});

describe('findings (docs/reliability.md)', () => {
  // F3 (fixed in e3fe05f): queued bulkhead callers each added a native listener to the caller's
  // signal, where the rest of the core shares one per signal (core/abort.ts onAbort); with a
  // long-lived signal and more than 10 queued callers Node printed MaxListenersExceededWarning.
  it('F3: queued bulkhead callers sharing one signal add one native listener, not one each', async () => {
    const shared = new AbortController();
    const listeners = trackListeners(shared.signal);
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 20 });
    let release: () => void = () => {};
    const first = bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)), {
      signal: shared.signal,
    });
    const queued = Array.from({ length: 20 }, () => bulkhead.execute(() => 'ok', { signal: shared.signal }));
    expect(bulkhead.queued).toBe(20);
    const peak = listeners.peak();
    release();
    await Promise.all([first, ...queued]);
    expect(listeners.active()).toBe(0);
    expect(peak).toBeLessThanOrEqual(1);
  });

  // F4 (fixed): `clock` is validated at construction by every policy, so a bad clock can no longer
  // surface inside a call (for the Timeout it used to throw synchronously from execute()).
  it('F4: a bad clock is a TypeError at construction, naming the option', () => {
    expect(() => new Timeout({ timeout: 10, clock: {} as never })).toThrow(
      /Timeout: clock must be a Clock \(now, setTimeout, clearTimeout\), got object/,
    );
  });

  // F6 (fixed): execute()'s options are checked, so a misspelt `signal` can't silently drop the
  // caller's cancellation.
  it('F6: execute(fn, { sginal }) is a TypeError with a did-you-mean hint', async () => {
    const controller = new AbortController();
    const retry = new RetryPolicy({ maxRetries: 0 });
    const options = { sginal: controller.signal } as never;
    await expect(retry.execute(() => 1, options)).rejects.toThrow(/did you mean "signal"/);
  });

  // F2, pinned: with a cooperative Timeout inside the bulkhead, the slot is held until the work
  // has really stopped, so the work never exceeds maxConcurrent (the suggested remedy works).
  it('F2 remedy: Bulkhead → Timeout({ cooperative: true }) keeps the work itself within the limit', async () => {
    vi.useFakeTimers();
    let running = 0;
    let peak = 0;
    const work = ({ signal }: { signal: AbortSignal }) =>
      new Promise<never>((_, reject) => {
        running++;
        peak = Math.max(peak, running);
        // Honours its signal, but takes 5 ms to wind down.
        const windDown = (): void => {
          running--;
          reject(signal.reason);
        };
        signal.addEventListener('abort', () => setTimeout(windDown, 5), { once: true });
      });
    const run = async (cooperative: boolean) => {
      running = 0;
      peak = 0;
      const p = pipeline(new Bulkhead({ maxConcurrent: 2, maxQueue: 4 }), new Timeout({ timeout: 50, cooperative }));
      const all = Promise.allSettled(Array.from({ length: 6 }, () => p.execute(work)));
      await vi.advanceTimersByTimeAsync(1_000);
      await all;
      return peak;
    };
    expect(await run(true)).toBe(2);
    // Non-cooperative: the slot goes back at the deadline, while the work is still winding down.
    expect(await run(false)).toBeGreaterThan(2);
  });

  it('Fallback outermost keeps answering after the Retry inside gives up (no FallbackError)', async () => {
    const p = pipeline(new Fallback(() => 'fb'), new RetryPolicy({ maxRetries: 0 }));
    await expect(p.execute(() => Promise.reject(new Error('x')))).resolves.toBe('fb');
  });
});
