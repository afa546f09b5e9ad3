import { type AbortSubscription, onAbort } from '../core/abort.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Context, proceed } from '../core/context.js';
import { BulkheadRejectedError, type BulkheadRejectionReason } from '../core/errors.js';
import { Stage } from '../core/policy.js';
import { checkOptions, MAX_TIMER_DELAY, numberOption } from '../core/validate.js';

/** Options of {@link Bulkhead}. */
export interface BulkheadOptions {
  /**
   * How many calls may run at once: an integer >= 1, or `Infinity` (no limit). Default 10
   * (Hystrix's `maxConcurrentRequests`).
   */
  readonly maxConcurrent?: number;
  /**
   * How many calls may wait, in FIFO order, for a slot: an integer >= 0, or `Infinity` (an
   * unbounded queue: memory grows with the backlog, so prefer a bound). Default 0: a call that
   * finds every slot taken is rejected at once (Hystrix's semaphore isolation).
   */
  readonly maxQueue?: number;
  /**
   * How long a call may wait in the queue, in milliseconds (> 0, at most 2^31 - 1); then it is
   * rejected with reason `'queue-timeout'` (go-resiliency's `semaphore` timeout). Default: no
   * limit. Needs `maxQueue > 0`.
   */
  readonly queueTimeout?: number;
  /** Time source, for tests. Default {@link systemClock}. */
  readonly clock?: Clock;
}

/** Events of a {@link Bulkhead}. Payloads give the figures right after the event. */
export interface BulkheadEvents {
  /** A call got a slot and starts running; `queued` tells whether it waited for it. */
  readonly admit: { readonly running: number; readonly queued: number; readonly fromQueue: boolean };
  /** A call found every slot taken and joined the queue. */
  readonly queue: { readonly running: number; readonly queued: number };
  /** A call was turned away: the queue was full, or it waited longer than `queueTimeout`. */
  readonly reject: {
    readonly reason: BulkheadRejectionReason;
    readonly error: BulkheadRejectedError;
    readonly running: number;
    readonly queued: number;
  };
}

const OWNER = 'Bulkhead';
const KNOWN = ['maxConcurrent', 'maxQueue', 'queueTimeout', 'clock'] as const;

/**
 * Limits how many calls run at once (Hystrix's semaphore isolation), with an optional bounded
 * FIFO queue (go-resiliency's `semaphore`) and an optional limit on the time spent queued.
 *
 * A call that finds every slot taken waits in the queue if there is room, else it is rejected at
 * once with a {@link BulkheadRejectedError} (`reason: 'queue-full'`); a queued call that waits
 * longer than `queueTimeout` is rejected with `reason: 'queue-timeout'`. A queued caller that
 * aborts leaves the queue at once, rejected with its signal's reason, and frees its place.
 *
 * **What a slot means.** A slot is taken when the call starts and given back when the protected
 * function's promise settles — not when the caller stops waiting. If a {@link Timeout} outside the
 * bulkhead (or the caller's own signal) gives up on a call whose work ignores `ctx.signal`, the
 * caller is rejected at once but the slot stays taken until the work really ends: the limit
 * counts the work actually running against the resource, which is what it protects. (hystrix-go
 * returns the ticket when its timeout fires, so the real concurrency can exceed the limit.) Work
 * that honours `ctx.signal` ends promptly and frees its slot. Each admitted call gives its slot
 * back exactly once, whether it succeeds, fails or is abandoned; a freed slot goes straight to
 * the head of the queue.
 *
 * Cost: admitting a call when a slot is free is a counter increment; the queue is a linked list
 * (O(1) to join, leave or be admitted), and all queued calls share one timer for `queueTimeout`
 * (their deadlines expire in FIFO order). Nothing is scheduled while the queue is empty.
 *
 * @example
 * ```ts
 * const bulkhead = new Bulkhead({ maxConcurrent: 4, maxQueue: 100, queueTimeout: 2_000 });
 * const rows = await bulkhead.execute(({ signal }) => db.query(sql, { signal }));
 * ```
 */
export class Bulkhead extends Stage<never, BulkheadEvents> {
  /** How many calls may run at once. */
  readonly maxConcurrent: number;
  /** How many calls may wait for a slot. */
  readonly maxQueue: number;
  /** The longest wait in the queue, in milliseconds, or `undefined` for no limit. */
  readonly queueTimeout: number | undefined;
  private readonly _clock: Clock;
  private _running = 0;
  private _queued = 0;
  private _head: Waiter | undefined = undefined;
  private _tail: Waiter | undefined = undefined;
  private _timer: unknown = undefined;

  /**
   * @throws TypeError for an unknown option or a value of the wrong type.
   * @throws RangeError for an out-of-range value (`maxConcurrent` < 1 or not an integer,
   *   `maxQueue` < 0 or not an integer, `queueTimeout` <= 0, or `queueTimeout` with `maxQueue: 0`).
   */
  constructor(options?: BulkheadOptions) {
    super();
    checkOptions(OWNER, options, KNOWN);
    this.maxConcurrent = numberOption(OWNER, 'maxConcurrent', options?.maxConcurrent, 10, {
      min: 1,
      integer: true,
      allowInfinity: true,
    });
    this.maxQueue = numberOption(OWNER, 'maxQueue', options?.maxQueue, 0, {
      min: 0,
      integer: true,
      allowInfinity: true,
    });
    const queueTimeout = options?.queueTimeout;
    if (queueTimeout === undefined) this.queueTimeout = undefined;
    else {
      this.queueTimeout = numberOption(OWNER, 'queueTimeout', queueTimeout, 0, {
        min: 0,
        minExclusive: true,
        max: MAX_TIMER_DELAY,
      });
      if (this.maxQueue === 0) {
        throw new RangeError(
          `${OWNER}: queueTimeout (${queueTimeout} ms) needs maxQueue > 0; with maxQueue 0 no call ever waits`,
        );
      }
    }
    this._clock = options?.clock ?? systemClock;
  }

  /** Calls running now (holding a slot). */
  get running(): number {
    return this._running;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this._queued;
  }

  /** Free slots now (`maxConcurrent - running`). */
  get available(): number {
    return this.maxConcurrent - this._running;
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    // The queue is only ever non-empty while every slot is taken (a freed slot goes to its head).
    if (this._running < this.maxConcurrent) {
      this._running++;
      if (this._events.listening('admit')) {
        this._events.emit('admit', { running: this._running, queued: this._queued, fromQueue: false });
      }
      return this._start(context, next);
    }
    if (this._queued >= this.maxQueue) return Promise.reject(this._reject('queue-full'));
    if (context.aborted) return Promise.reject(context.signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = new Waiter(context, next, resolve, reject);
      this._enqueue(waiter);
      if (context.abortable) {
        // The core's shared listener: O(1) to leave, however many waiters share one signal.
        const signal = context.signal;
        waiter.subscription = onAbort(signal, () => this._abandon(waiter, signal.reason));
      }
      if (this._events.listening('queue')) {
        this._events.emit('queue', { running: this._running, queued: this._queued });
      }
    });
  }

  /** Runs the rest of the chain in a slot already counted in `_running`. */
  private _start(context: Context, next: number): Promise<unknown> {
    let promise: Promise<unknown>;
    try {
      promise = proceed(context, next);
    } catch (error) {
      this._release();
      return Promise.reject(error);
    }
    // Shared handlers: no closure per call. Each fires once per call, so each slot is given back once.
    return promise.then(this._onValue, this._onError);
  }

  private readonly _onValue = (value: unknown): unknown => {
    this._release();
    return value;
  };

  private readonly _onError = (error: unknown): never => {
    this._release();
    throw error;
  };

  /** Gives a slot back: straight to the head of the queue if anyone waits. */
  private _release(): void {
    const waiter = this._head;
    if (waiter === undefined) {
      this._running--;
      return;
    }
    this._dequeue(waiter);
    waiter.detach();
    if (this._events.listening('admit')) {
      this._events.emit('admit', { running: this._running, queued: this._queued, fromQueue: true });
    }
    // Settle the caller's promise straight from the call's (cheaper than resolving with a promise).
    this._start(waiter.context, waiter.next).then(waiter.resolve, waiter.reject);
  }

  /** A queued caller aborted: it leaves the queue with its reason. */
  private _abandon(waiter: Waiter, reason: unknown): void {
    if (!waiter.queued) return;
    this._dequeue(waiter);
    waiter.subscription = undefined;
    waiter.reject(reason);
  }

  private _enqueue(waiter: Waiter): void {
    const tail = this._tail;
    if (tail === undefined) this._head = waiter;
    else {
      tail.after = waiter;
      waiter.before = tail;
    }
    this._tail = waiter;
    waiter.queued = true;
    this._queued++;
    if (this.queueTimeout !== undefined) {
      waiter.deadline = this._clock.now() + this.queueTimeout;
      // An armed timer is set for an earlier deadline; it re-arms for the next one when it fires.
      if (this._timer === undefined) this._timer = this._clock.setTimeout(this._expire, this.queueTimeout);
    }
  }

  private _dequeue(waiter: Waiter): void {
    waiter.queued = false;
    const { before, after } = waiter;
    if (before === undefined) this._head = after;
    else before.after = after;
    if (after === undefined) this._tail = before;
    else after.before = before;
    waiter.before = waiter.after = undefined;
    this._queued--;
    if (this._queued === 0 && this._timer !== undefined) {
      // Idle: keep nothing scheduled.
      this._clock.clearTimeout(this._timer);
      this._timer = undefined;
    }
  }

  private readonly _expire = (): void => {
    this._timer = undefined;
    const now = this._clock.now();
    let waiter = this._head;
    while (waiter !== undefined && waiter.deadline <= now) {
      const after = waiter.after;
      this._dequeue(waiter);
      waiter.detach();
      waiter.reject(this._reject('queue-timeout'));
      waiter = after;
    }
    const head = this._head;
    if (head !== undefined && this._timer === undefined) {
      this._timer = this._clock.setTimeout(this._expire, Math.max(1, Math.ceil(head.deadline - now)));
    }
  };

  private _reject(reason: BulkheadRejectionReason): BulkheadRejectedError {
    const limits = `maxConcurrent ${this.maxConcurrent}, maxQueue ${this.maxQueue}`;
    const message =
      reason === 'queue-full'
        ? `Bulkhead is full: ${this._running} running, ${this._queued} queued (${limits})`
        : `Bulkhead queue wait exceeded queueTimeout ${this.queueTimeout} ms (${limits})`;
    const error = new BulkheadRejectedError(message, reason, this.maxConcurrent, this.maxQueue);
    if (this._events.listening('reject')) {
      this._events.emit('reject', { reason, error, running: this._running, queued: this._queued });
    }
    return error;
  }
}

/** A queued call: a node of the bulkhead's queue. */
class Waiter {
  before: Waiter | undefined = undefined;
  after: Waiter | undefined = undefined;
  queued = false;
  deadline = 0;
  subscription: AbortSubscription | undefined = undefined;

  constructor(
    readonly context: Context,
    readonly next: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  /** Stops listening to the caller's signal. */
  detach(): void {
    if (this.subscription !== undefined) {
      this.subscription.dispose();
      this.subscription = undefined;
    }
  }
}
