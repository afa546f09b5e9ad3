import { type AbortSubscription, isAbortSignal, onAbort } from '../core/abort.js';
import { type Clock, clearTimer, systemClock } from '../core/clock.js';
import { SemaphoreReleaseError, SemaphoreTimeoutError } from '../core/errors.js';
import { List, type ListNode } from '../core/list.js';
import { checkNumber, checkOptions, clockOption, MAX_TIMER_DELAY, numberOption } from '../core/validate.js';

/** Options of {@link Semaphore}. */
export interface SemaphoreOptions {
  /**
   * The default longest wait of {@link Semaphore.acquire}, in milliseconds (> 0, at most
   * 2^31 - 1); then it rejects with a {@link SemaphoreTimeoutError}. Default: wait without limit.
   */
  readonly timeout?: number;
  /** Time source, for tests. Default {@link systemClock}. */
  readonly clock?: Clock;
}

/** Options of one {@link Semaphore.acquire}. */
export interface AcquireOptions {
  /** Gives up waiting when aborted: the acquire rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /** This wait's limit, in milliseconds; overrides the semaphore's `timeout`. */
  readonly timeout?: number | undefined;
}

const OWNER = 'Semaphore';
const KNOWN = ['timeout', 'clock'] as const;
const ACQUIRE_KNOWN = ['signal', 'timeout'] as const;

/**
 * A counting semaphore (go-resiliency's `semaphore`): `permits` holders at once, the others wait
 * in FIFO order. Each {@link Semaphore.acquire} that resolves must be paired with exactly one
 * {@link Semaphore.release}; a release without an acquire throws a {@link SemaphoreReleaseError}.
 * A released permit goes straight to the longest waiter, so a newcomer cannot overtake the queue.
 *
 * A waiter leaves the queue at once (O(1)) when its signal aborts or its timeout passes; a timed
 * wait holds one timer, cleared when it ends, and nothing is scheduled while nobody waits. The
 * queue is the core's linked list: an idle semaphore holds no storage, whatever the size of the
 * last burst. For limiting calls of a function, prefer {@link Bulkhead}, which is built on a
 * semaphore and pairs acquire and release for you.
 *
 * @example
 * ```ts
 * const connections = new Semaphore(5, { timeout: 1_000 });
 * await connections.acquire({ signal });
 * try {
 *   await useConnection();
 * } finally {
 *   connections.release();
 * }
 * ```
 */
export class Semaphore {
  /** The number of permits. */
  readonly permits: number;
  /** The default longest wait, in milliseconds, or `undefined` for no limit. */
  readonly timeout: number | undefined;
  private readonly _clock: Clock;
  private _available: number;
  /** @internal The callers waiting for a permit, longest first. */
  readonly _queue = new List<Waiter>();

  /**
   * @param permits how many holders at once: an integer >= 1.
   * @throws TypeError / RangeError for a bad `permits` or option, naming it and its value.
   */
  constructor(permits: number, options?: SemaphoreOptions) {
    this.permits = checkNumber(OWNER, 'permits', permits, { min: 1, integer: true });
    checkOptions(OWNER, options, KNOWN);
    this.timeout = checkTimeout(OWNER, options?.timeout);
    this._clock = clockOption(OWNER, options?.clock) ?? systemClock;
    this._available = this.permits;
  }

  /** Permits free now. */
  get available(): number {
    return this._available;
  }

  /** Callers waiting for a permit now. */
  get waiting(): number {
    return this._queue.size;
  }

  /**
   * Takes a permit, waiting in FIFO order for one to be free.
   * @returns a promise that resolves once the permit is held; it rejects with `signal.reason` if
   *   the signal aborts first, or with a {@link SemaphoreTimeoutError} if the wait's timeout passes.
   */
  acquire(options?: AcquireOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    let timeout = this.timeout;
    if (options !== undefined) {
      try {
        checkOptions('Semaphore.acquire()', options, ACQUIRE_KNOWN);
        if (options.signal !== undefined && !isAbortSignal(options.signal)) {
          throw new TypeError('Semaphore.acquire(): signal must be an AbortSignal');
        }
        if (options.timeout !== undefined) timeout = checkTimeout('Semaphore.acquire()', options.timeout);
        signal = options.signal;
        if (signal?.aborted === true) return Promise.reject(signal.reason);
      } catch (error) {
        // Always a promise: an options getter or a signal that throws rejects the acquire.
        return Promise.reject(error);
      }
    }
    if (this._available > 0) {
      this._available--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const acquirer = new Acquirer(this, resolve, reject);
      this._queue.push(acquirer);
      try {
        if (signal !== undefined) {
          const s = signal;
          acquirer.subscription = onAbort(s, () => acquirer.leave(s.reason));
        }
        if (timeout !== undefined) {
          acquirer.timer = this._clock.setTimeout(
            () => acquirer.leave(new SemaphoreTimeoutError(timeout, this.permits)),
            timeout,
          );
        }
      } catch (error) {
        // A signal or an injected clock that throws: the waiter leaves the queue with that error, so
        // no permit is ever handed to an acquire that already rejected.
        acquirer.leave(error);
      }
    });
  }

  /** Takes a permit if one is free now; never waits. @returns whether a permit was taken. */
  tryAcquire(): boolean {
    if (this._available === 0) return false;
    this._available--;
    return true;
  }

  /**
   * Gives a permit back: to the longest waiter, if any.
   * @throws SemaphoreReleaseError when no permit is held.
   */
  release(): void {
    const head = this._queue.head;
    if (head !== undefined) {
      head.grant(this);
      return;
    }
    if (this._available >= this.permits) throw new SemaphoreReleaseError(this.permits);
    this._available++;
  }

  /**
   * @internal Queues `waiter` (when {@link Semaphore.tryAcquire} found no permit free): a permit
   * released later goes to it through {@link Waiter.grant}, unless it leaves first.
   */
  _wait(waiter: Waiter): void {
    this._queue.push(waiter);
  }

  /** @internal Takes `waiter` out of the queue. @returns `false` when it was no longer there. */
  _leave(waiter: Waiter): boolean {
    return this._queue.remove(waiter);
  }

  /** @internal Clears a waiter's timer; an injected clock that throws is reported, never thrown. */
  _clearTimer(timer: unknown): void {
    // The waiter is already out of the queue: an injected clock that throws must not stop the
    // permit from reaching it (the timer, if it fires, finds it gone).
    clearTimer(this._clock, timer, OWNER);
  }
}

function checkTimeout(owner: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return numberOption(owner, 'timeout', value, 0, { min: 0, minExclusive: true, max: MAX_TIMER_DELAY });
}

/**
 * @internal A node of a {@link Semaphore}'s queue (of the core's list). A permit released while it
 * is the head goes to it through {@link grant}; it takes itself out of the queue (with
 * {@link Semaphore._leave}) once it needs no more permits, and likewise when it gives up. An
 * {@link Semaphore.acquire} waits as one such node; a `Bulkhead` queues its calls in batches of
 * many to a node, so that a burst of queued calls is not an object apiece.
 */
export abstract class Waiter implements ListNode<Waiter> {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;

  /**
   * Called when a permit of `semaphore` is released to this waiter (the head of its queue): the
   * permit is now held for it. Must not throw. (The semaphore is passed in, so a waiter need not
   * keep a reference to it.)
   */
  abstract grant(semaphore: Semaphore): void;
}

/** A waiter of {@link Semaphore.acquire}. */
class Acquirer extends Waiter {
  /** Its registration on the caller's signal, if any. */
  subscription: AbortSubscription | undefined = undefined;
  timer: unknown = undefined;

  constructor(
    readonly semaphore: Semaphore,
    readonly resolve: () => void,
    readonly reject: (error: unknown) => void,
  ) {
    super();
  }

  grant(): void {
    this.semaphore._leave(this);
    this.detach();
    this.resolve();
  }

  /** Gives up (abort or timeout, or a signal or clock that threw): leaves the queue with `error`. */
  leave(error: unknown): void {
    if (!this.semaphore._leave(this)) return;
    this.detach();
    this.reject(error);
  }

  private detach(): void {
    if (this.subscription !== undefined) {
      // Never throws (a look-alike signal's failing removeEventListener is reported).
      this.subscription.dispose();
      this.subscription = undefined;
    }
    if (this.timer !== undefined) {
      const timer = this.timer;
      this.timer = undefined;
      this.semaphore._clearTimer(timer);
    }
  }
}
