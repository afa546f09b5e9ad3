import { type AbortSubscription, isAbortSignal, onAbort } from '../core/abort.js';
import { type Clock, systemClock } from '../core/clock.js';
import { SemaphoreReleaseError, SemaphoreTimeoutError } from '../core/errors.js';
import { reportError } from '../core/report.js';
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
 * wait holds one timer, cleared when it ends, and nothing is scheduled while nobody waits. For
 * limiting calls of a function, prefer {@link Bulkhead}, which pairs acquire and release for you.
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
  private _waiting = 0;
  private _head: Acquirer | undefined = undefined;
  private _tail: Acquirer | undefined = undefined;

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
    return this._waiting;
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
      const acquirer = new Acquirer(resolve, reject);
      this._enqueue(acquirer);
      try {
        if (signal !== undefined) {
          const s = signal;
          acquirer.subscription = onAbort(s, () => this._leave(acquirer, s.reason));
        }
        if (timeout !== undefined) {
          acquirer.timer = this._clock.setTimeout(
            () => this._leave(acquirer, new SemaphoreTimeoutError(timeout, this.permits)),
            timeout,
          );
        }
      } catch (error) {
        // A signal or an injected clock that throws: the waiter leaves the queue with that error, so
        // no permit is ever handed to an acquire that already rejected.
        this._leave(acquirer, error);
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
    const head = this._head;
    if (head !== undefined) {
      this._dequeue(head);
      head.resolve();
      return;
    }
    if (this._available >= this.permits) throw new SemaphoreReleaseError(this.permits);
    this._available++;
  }

  /** A waiter gave up (abort or timeout): it leaves the queue with `error`. */
  private _leave(acquirer: Acquirer, error: unknown): void {
    if (!acquirer.queued) return;
    this._dequeue(acquirer);
    acquirer.reject(error);
  }

  private _enqueue(acquirer: Acquirer): void {
    const tail = this._tail;
    if (tail === undefined) this._head = acquirer;
    else {
      tail.after = acquirer;
      acquirer.before = tail;
    }
    this._tail = acquirer;
    acquirer.queued = true;
    this._waiting++;
  }

  private _dequeue(acquirer: Acquirer): void {
    acquirer.queued = false;
    const { before, after } = acquirer;
    if (before === undefined) this._head = after;
    else before.after = after;
    if (after === undefined) this._tail = before;
    else after.before = before;
    acquirer.before = acquirer.after = undefined;
    this._waiting--;
    if (acquirer.subscription !== undefined) {
      // Never throws (a look-alike signal's failing removeEventListener is reported).
      acquirer.subscription.dispose();
      acquirer.subscription = undefined;
    }
    if (acquirer.timer !== undefined) {
      const timer = acquirer.timer;
      acquirer.timer = undefined;
      try {
        this._clock.clearTimeout(timer);
      } catch (error) {
        // The waiter is already out of the queue: an injected clock that throws must not stop the
        // permit from reaching it (the timer, if it fires, finds it gone).
        reportError(error, `${OWNER} clock.clearTimeout`);
      }
    }
  }
}

function checkTimeout(owner: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return numberOption(owner, 'timeout', value, 0, { min: 0, minExclusive: true, max: MAX_TIMER_DELAY });
}

/** A caller waiting in a {@link Semaphore}: a node of its queue. */
class Acquirer {
  before: Acquirer | undefined = undefined;
  after: Acquirer | undefined = undefined;
  queued = false;
  subscription: AbortSubscription | undefined = undefined;
  timer: unknown = undefined;

  constructor(
    readonly resolve: () => void,
    readonly reject: (error: unknown) => void,
  ) {}
}
