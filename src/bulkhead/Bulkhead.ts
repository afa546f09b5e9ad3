import { onAbort } from '../core/abort.js';
import { type Clock, monotonic, systemClock } from '../core/clock.js';
import { type Context, proceed } from '../core/context.js';
import { BulkheadRejectedError, type BulkheadRejectionReason } from '../core/errors.js';
import { Stage } from '../core/policy.js';
import { reportError } from '../core/report.js';
import { adoptOwn } from '../core/thenable.js';
import { checkOptions, clockOption, MAX_TIMER_DELAY, numberOption } from '../core/validate.js';
import { WaitQueue } from './WaitQueue.js';

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
 * the head of the queue. With a non-cooperative `Timeout` *inside* the bulkhead (Hystrix's order),
 * the slot is given back at the deadline, when the timeout rejects, while the aborted work may still
 * be finishing; use `new Timeout({ timeout, cooperative: true })` there for a hard bound on the work
 * itself (the slot is then held until the work has stopped).
 *
 * Cost: admitting a call when a slot is free is a counter increment; the queue is a ring buffer
 * with no object per waiter (O(1) to join, leave on abort, or be admitted), and all queued calls
 * share one timer for `queueTimeout` (their deadlines expire in FIFO order). Nothing is scheduled
 * while the queue is empty; queued callers sharing one signal share one abort listener.
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
  /** The clock read as a monotonic counter (see `monotonic`). */
  private readonly _now: () => number;
  private _running = 0;
  private readonly _queue = new WaitQueue();
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
    this._clock = clockOption(OWNER, options?.clock) ?? systemClock;
    this._now = monotonic(this._clock);
  }

  /** Calls running now (holding a slot). */
  get running(): number {
    return this._running;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this._queue.size;
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
        this._events.emit('admit', { running: this._running, queued: this._queue.size, fromQueue: false });
      }
      return this._start(context, next);
    }
    if (this._queue.size >= this.maxQueue) return Promise.reject(this._rejection('queue-full'));
    if (context.aborted) return Promise.reject(context.signal.reason);
    // One shared executor captures the resolving functions: no closure per queued call.
    const promise = new Promise(this._capture);
    const resolve = this._capturedResolve as (value: unknown) => void;
    const reject = this._capturedReject as (error: unknown) => void;
    this._capturedResolve = this._capturedReject = undefined;
    this._enqueue(context, next, resolve, reject);
    return promise;
  }

  private _capturedResolve: ((value: unknown) => void) | undefined = undefined;
  private _capturedReject: ((error: unknown) => void) | undefined = undefined;
  private readonly _capture = (resolve: (value: unknown) => void, reject: (error: unknown) => void): void => {
    this._capturedResolve = resolve;
    this._capturedReject = reject;
  };

  private _enqueue(
    context: Context,
    next: number,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    const queue = this._queue;
    const timeout = this.queueTimeout;
    // Read before joining: a clock that throws rejects the call and leaves the queue untouched.
    let deadline = 0;
    try {
      if (timeout !== undefined) deadline = this._now() + timeout;
    } catch (error) {
      reject(error);
      return;
    }
    const seq = queue.push(context, next, resolve, reject, deadline);
    try {
      // An armed timer is set for an earlier deadline; it re-arms for the next one when it fires.
      if (timeout !== undefined && this._timer === undefined) {
        this._timer = this._clock.setTimeout(this._expire, timeout);
      }
      if (context.abortable) {
        // The core's shared listener: O(1) to leave, however many waiters share one signal.
        const signal = context.signal;
        queue.subscriptions[queue.slot(seq)] = onAbort(signal, () => this._abandon(seq, signal.reason));
      }
    } catch (error) {
      // A clock or a signal that throws: the call leaves the queue, rejected with that error
      // (never a waiter that no one can settle).
      this._abandon(seq, error);
      return;
    }
    if (this._events.listening('queue')) {
      this._events.emit('queue', { running: this._running, queued: queue.size });
    }
  }

  /** Runs the rest of the chain in a slot already counted in `_running`. */
  private _start(context: Context, next: number): Promise<unknown> {
    let promise: Promise<unknown>;
    try {
      // Settle-once (a no-op for our own stages' native promises): whatever the rest of the chain
      // returns, `_onValue` or `_onError` runs exactly once, so the slot is given back once.
      promise = adoptOwn(proceed(context, next));
    } catch (error) {
      this._release();
      return Promise.reject(error);
    }
    // Shared handlers: no closure per call.
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
    const queue = this._queue;
    const i = queue.size === 0 ? -1 : queue.peek();
    if (i < 0) {
      this._running--;
      return;
    }
    const context = queue.contexts[i] as Context;
    const next = queue.nexts[i] as number;
    const resolve = queue.resolves[i] as (value: unknown) => void;
    const reject = queue.rejects[i] as (error: unknown) => void;
    queue.subscriptions[i]?.dispose();
    queue.take(i);
    this._idle();
    if (this._events.listening('admit')) {
      this._events.emit('admit', { running: this._running, queued: queue.size, fromQueue: true });
    }
    // Settle the caller's promise straight from the call's (cheaper than resolving with a promise).
    this._start(context, next).then(resolve, reject);
  }

  /** A queued caller aborted: it leaves the queue with its reason. */
  private _abandon(seq: number, reason: unknown): void {
    const queue = this._queue;
    const i = queue.locate(seq);
    if (i < 0) return;
    const reject = queue.rejects[i] as (error: unknown) => void;
    queue.subscriptions[i] = undefined; // already fired
    queue.bury(i);
    this._idle();
    reject(reason);
  }

  /** With nobody left waiting, keep nothing scheduled. */
  private _idle(): void {
    if (this._queue.size === 0 && this._timer !== undefined) {
      const timer = this._timer;
      this._timer = undefined;
      try {
        this._clock.clearTimeout(timer);
      } catch (error) {
        // Never let an injected clock stop a slot from being handed on (the timer finds nobody).
        reportError(error, `${OWNER} clock.clearTimeout`);
      }
    }
  }

  /** The queue timer: runs from the clock, so nothing it calls may throw out of it. */
  private readonly _expire = (): void => {
    this._timer = undefined;
    try {
      this._expireDue();
    } catch (error) {
      // Only an injected clock can throw here (now() or setTimeout()). Report it and look again
      // one queueTimeout later, while anyone waits.
      reportError(error, `${OWNER} clock`);
      if (this._queue.size > 0 && this._timer === undefined) {
        try {
          this._timer = this._clock.setTimeout(this._expire, this.queueTimeout as number);
        } catch {
          // The clock cannot schedule at all: the waiters still get the next free slots.
        }
      }
    }
  };

  private _expireDue(): void {
    const queue = this._queue;
    const now = this._now();
    let i = queue.peek();
    while (i >= 0 && (queue.deadlines[i] as number) <= now) {
      const reject = queue.rejects[i] as (error: unknown) => void;
      queue.subscriptions[i]?.dispose();
      queue.take(i);
      reject(this._rejection('queue-timeout'));
      i = queue.peek();
    }
    if (i >= 0) {
      this._timer = this._clock.setTimeout(this._expire, Math.max(1, Math.ceil((queue.deadlines[i] as number) - now)));
    }
  }

  private _rejection(reason: BulkheadRejectionReason): BulkheadRejectedError {
    const limits = `maxConcurrent ${this.maxConcurrent}, maxQueue ${this.maxQueue}`;
    const message =
      reason === 'queue-full'
        ? `Bulkhead is full: ${this._running} running, ${this._queue.size} queued (${limits})`
        : `Bulkhead queue wait exceeded queueTimeout ${this.queueTimeout} ms (${limits})`;
    const error = new BulkheadRejectedError(message, reason, this.maxConcurrent, this.maxQueue);
    if (this._events.listening('reject')) {
      this._events.emit('reject', { reason, error, running: this._running, queued: this._queue.size });
    }
    return error;
  }
}
