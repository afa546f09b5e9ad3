import { reportError } from './report.js';

/**
 * Where policies read time and schedule timers. The default reads the globals at call time, so
 * fake timers (vitest, sinon) work; tests or exotic runtimes can inject their own.
 */
export interface Clock {
  /** Current time in milliseconds. Only differences are used, so it should be monotonic. */
  now(): number;
  /** Schedules `callback` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer scheduled with {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/**
 * The default clock: the monotonic `performance.now()` and the global `setTimeout` /
 * `clearTimeout`, looked up on every call (so fake timers that replace them work).
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout(handle) {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]);
  },
};

/**
 * @internal Cancels `handle` on an injected clock without ever throwing: a `clearTimeout` that
 * throws is reported as `'<owner> clock.clearTimeout'` (`setErrorReporter`). Callers clear a
 * timer after their own state is settled (a waiter out of the queue, a batch run), so a broken
 * clock must not stop a permit or a result from reaching anyone; the timer, if it fires, finds
 * nothing to do.
 */
export function clearTimer(clock: Clock, handle: unknown, owner: string): void {
  try {
    clock.clearTimeout(handle);
  } catch (error) {
    reportError(error, `${owner} clock.clearTimeout`);
  }
}

/**
 * Lets a timer keep the process alive (`ref`) or not (`unref`), where the runtime has that notion
 * (Node, Bun, Deno); elsewhere it does nothing.
 */
export function setTimerRef(handle: unknown, keepAlive: boolean): void {
  if (typeof handle !== 'object' || handle === null) return;
  const h = handle as { ref?: () => void; unref?: () => void };
  const method = keepAlive ? h.ref : h.unref;
  if (typeof method === 'function') method.call(h);
}

/**
 * @internal Reads a clock as a monotonic, finite millisecond counter, whatever the clock does.
 * Users inject `Date.now`-based clocks, which step backwards (NTP, manual changes): a backward step
 * is taken as no time passing (the counter continues from its last value and later readings advance
 * from there), never as time running backwards, so an hour's step back cannot keep a breaker open
 * an hour longer or disable a deadline. A reading that is not a finite number (a broken clock) also
 * counts as no time passing. The system clock (`performance.now()`) is monotonic already and is read
 * directly.
 */
export function monotonic(clock: Clock): () => number {
  if (clock === systemClock) return systemNow;
  let last = Number.NEGATIVE_INFINITY;
  let offset = 0;
  return () => {
    const raw = clock.now();
    if (typeof raw !== 'number' || !Number.isFinite(raw)) return last === Number.NEGATIVE_INFINITY ? 0 : last;
    let t = raw + offset;
    if (t < last) {
      offset += last - t;
      t = last;
    }
    last = t;
    return t;
  };
}

function systemNow(): number {
  return performance.now();
}
