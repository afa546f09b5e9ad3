/**
 * A clock for the demo's story. Its time moves only when the story says so, never by itself, so
 * the story is the same on a busy 2-core machine as on an idle laptop:
 *
 * - a wait that shows nothing real (the sleep window of an open breaker, a retry's backoff, the
 *   deadline of a request the upstream has visibly stopped answering) is skipped with
 *   {@link StoryClock.advance} instead of being slept through;
 * - nothing else moves it: a healthy request that is slow because the machine is loaded can never
 *   run into a deadline, and a queued call never into its queue timeout.
 *
 * It implements staunch's `Clock` (`now`, `setTimeout`, `clearTimeout`) in plain code, with no
 * real timer: it keeps nothing alive and leaves nothing behind. Time is counted in whole ms, and a
 * timer set for a fractional delay (a jittered backoff) falls due at the next whole ms, never before
 * its delay, as real timers do.
 */
import type { Clock } from 'staunch';

interface StoryTimer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
}

export class StoryClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Set<StoryTimer>();

  /** Story time in ms, from 0 at the start. */
  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer: StoryTimer = { due: this.#now + Math.max(0, Math.ceil(ms)), seq: this.#seq++, callback };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as StoryTimer);
  }

  /** Moves story time forward by `ms` (whole), running every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + Math.ceil(ms);
    for (;;) {
      let next: StoryTimer | undefined;
      for (const timer of this.#timers) {
        if (
          timer.due <= target &&
          (next === undefined || timer.due < next.due || (timer.due === next.due && timer.seq < next.seq))
        )
          next = timer;
      }
      if (next === undefined) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.due);
      next.callback();
    }
    this.#now = target;
  }

  /**
   * A view of this clock for a policy all of whose waits show nothing (a retry's backoff): every
   * timer it sets is skipped to on the next turn of the event loop, as if the wait had passed.
   */
  readonly skipping: Clock = {
    now: () => this.now(),
    setTimeout: (callback, ms) => {
      const timer = this.setTimeout(callback, ms) as StoryTimer;
      setImmediate(() => {
        if (this.#timers.has(timer)) this.advance(timer.due - this.#now);
      });
      return timer;
    },
    clearTimeout: (handle) => this.clearTimeout(handle),
  };
}
