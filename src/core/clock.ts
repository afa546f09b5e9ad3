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
 * Lets a timer keep the process alive (`ref`) or not (`unref`), where the runtime has that notion
 * (Node, Bun, Deno); elsewhere it does nothing.
 */
export function setTimerRef(handle: unknown, keepAlive: boolean): void {
  if (typeof handle !== 'object' || handle === null) return;
  const h = handle as { ref?: () => void; unref?: () => void };
  const method = keepAlive ? h.ref : h.unref;
  if (typeof method === 'function') method.call(h);
}
