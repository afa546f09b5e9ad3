/**
 * Clocks for reliability tests that run on real time: a clock that counts the timers a policy
 * has scheduled and not yet run or cleared (unref'd ones included, which Node's
 * `process.getActiveResourcesInfo()` does not list).
 */
import { type Clock, systemClock } from '../../src/core/clock.js';

export interface TrackingClock extends Clock {
  /** Timers scheduled through this clock that have neither fired nor been cleared. */
  live(): number;
  /** Resolves once `live()` is 0 (polling), or rejects after `within` ms. */
  idle(within: number): Promise<void>;
}

export function trackingClock(base: Clock = systemClock): TrackingClock {
  const live = new Set<unknown>();
  return {
    now: () => base.now(),
    setTimeout(callback, ms) {
      const handle = base.setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      base.clearTimeout(handle);
    },
    live: () => live.size,
    async idle(within) {
      const until = performance.now() + within;
      while (live.size > 0) {
        if (performance.now() > until) throw new Error(`${live.size} timer(s) still scheduled after ${within} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
