import { afterEach, expect, vi } from 'vitest';

// Every test leaves the clock as it found it and no fake timer pending: a policy that leaves a
// timer behind fails the test that caused it.
afterEach(() => {
  if (vi.isFakeTimers()) {
    const pending = vi.getTimerCount();
    vi.useRealTimers();
    expect(pending, 'fake timers still pending at the end of the test').toBe(0);
  }
});
