import { describe, expect, it, vi } from 'vitest';
import { type Clock, Timeout, TimeoutError } from '../../src/index.js';

// Issue 11 item 18: users inject `Date.now`-based clocks, which step backwards. A backward step is
// taken as no time passing: it can neither stretch a pending deadline nor disable later ones.

const never = () => new Promise<never>(() => {});

/** A wall clock on top of the fake timers, which a test can step backwards. */
function steppingClock(start = 1_700_000_000_000) {
  let offset = start;
  const clock: Clock = {
    now: () => Date.now() + offset,
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
  return {
    clock,
    stepBack(ms: number) {
      offset -= ms;
    },
  };
}

/** Settles-at tracking: the fake time at which `promise` settled, or undefined. */
function settledAt(promise: Promise<unknown>, origin: number) {
  const state: { at: number | undefined; error: unknown } = { at: undefined, error: undefined };
  promise.catch((error: unknown) => {
    state.at = Date.now() - origin;
    state.error = error;
  });
  return state;
}

describe.each([
  ['100 ms', 100],
  ['1 hour', 3_600_000],
])('Timeout with an injected clock that steps back %s (item 18)', (_, step) => {
  it('a pending call and a later call still time out at their deadlines', async () => {
    vi.useFakeTimers();
    const origin = Date.now();
    const { clock, stepBack } = steppingClock();
    const timeout = new Timeout({ timeout: 100, clock });
    const first = settledAt(timeout.execute(never), origin);
    await vi.advanceTimersByTimeAsync(50);
    stepBack(step);
    const second = settledAt(timeout.execute(never), origin);
    await vi.advanceTimersByTimeAsync(49);
    expect(first.at).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(first.at).toBe(100);
    expect(first.error).toBeInstanceOf(TimeoutError);
    // The clock was last read at 0 and stepped back at 50: those 50 ms are not seen, so the second
    // deadline may come up to 50 ms early, never late.
    expect(second.at).toBeGreaterThanOrEqual(100);
    await vi.advanceTimersByTimeAsync(50);
    expect(second.at).toBeLessThanOrEqual(150);
    expect(second.error).toBeInstanceOf(TimeoutError);
    // And every call after that, too.
    const third = settledAt(timeout.execute(never), origin);
    await vi.advanceTimersByTimeAsync(100);
    expect(third.at).toBe(250);
    expect(timeout.pending).toBe(0);
  });

  it('a step back while the shared timer waits does not postpone the deadline', async () => {
    vi.useFakeTimers();
    const origin = Date.now();
    const { clock, stepBack } = steppingClock();
    const timeout = new Timeout({ timeout: 100, clock });
    const call = settledAt(timeout.execute(never), origin);
    await vi.advanceTimersByTimeAsync(99);
    stepBack(step);
    await vi.advanceTimersByTimeAsync(1);
    expect(call.at).toBe(100);
    expect(call.error).toBeInstanceOf(TimeoutError);
  });
});

describe('Timeout with a broken clock', () => {
  it('a now() that starts returning nothing: the call still times out when the timer fires, nothing spins', async () => {
    vi.useFakeTimers();
    const origin = Date.now();
    let reads = 0;
    const clock: Clock = {
      // Fine when checked at construction, broken afterwards.
      now: () => (reads++ === 0 ? 0 : (undefined as unknown as number)),
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const timeout = new Timeout({ timeout: 100, clock });
    const call = settledAt(timeout.execute(never), origin);
    await vi.advanceTimersByTimeAsync(100);
    expect(call.at).toBe(100);
    expect(call.error).toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a frozen clock: the timer’s firing is what proves the deadline passed', async () => {
    vi.useFakeTimers();
    const origin = Date.now();
    const clock: Clock = {
      now: () => 42,
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const timeout = new Timeout({ timeout: 100, clock });
    const call = settledAt(timeout.execute(never), origin);
    await vi.advanceTimersByTimeAsync(100);
    expect(call.at).toBe(100);
    await vi.advanceTimersByTimeAsync(100);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a clock whose setTimeout throws (issue 11 item 16)', () => {
  it('rejects the call and leaves nothing on the deadline list', async () => {
    const bug = new Error('setTimeout bug');
    let now = 0;
    const clock = {
      now: () => now,
      setTimeout: () => {
        throw bug;
      },
      clearTimeout: () => {},
    };
    const timeout = new Timeout({ timeout: 100, clock });
    await expect(timeout.execute(() => 1)).rejects.toBe(bug);
    expect(timeout.pending).toBe(0);
    now += 1;
    await expect(timeout.execute(() => 2)).rejects.toBe(bug);
    expect(timeout.pending).toBe(0);
  });
});
