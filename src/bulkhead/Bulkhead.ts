import { type AbortSubscription, onAbort } from '../core/abort.js';
import { type Clock, clearTimer, monotonic, systemClock } from '../core/clock.js';
import { type Context, proceed } from '../core/context.js';
import { BulkheadRejectedError, type BulkheadRejectionReason } from '../core/errors.js';
import { Stage } from '../core/policy.js';
import { reportError } from '../core/report.js';
import { adoptOwn } from '../core/thenable.js';
import { checkOptions, clockOption, MAX_TIMER_DELAY, numberOption } from '../core/validate.js';
import { Semaphore, Waiter } from '../semaphore/Semaphore.js';

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
 * **Built on a {@link Semaphore}** (as go-resiliency builds its bulkhead on a channel): the slots
 * are its permits and the queue is its FIFO queue of waiters; this class adds the policy around
 * them — admission, the queue limit, `queueTimeout` and the events.
 *
 * Cost: admitting a call when a slot is free is a counter decrement; queued calls wait in
 * batches (16, 32, ... 8192 calls), each batch one node of the semaphore's queue (the core's
 * linked list): O(1) to join, leave on abort, or be admitted, no object per queued call, and an
 * idle bulkhead keeps no queue storage after a burst. All queued calls share one timer for
 * `queueTimeout` (their deadlines expire in FIFO order). Nothing is scheduled while the queue is
 * empty; queued callers sharing one signal share one abort listener.
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
  /** @internal The slots: its permits; its queue is the bulkhead's queue. */
  readonly _semaphore: Semaphore;
  private _timer: unknown = undefined;
  /** Calls waiting for a slot. */
  private _queued = 0;
  /** The newest batch of queued calls, while it has room for more. */
  private _tail: Batch | undefined = undefined;

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
    // No limit: more permits than calls could ever run at once (a Semaphore's count is finite).
    const permits = this.maxConcurrent === Number.POSITIVE_INFINITY ? Number.MAX_SAFE_INTEGER : this.maxConcurrent;
    this._semaphore = new Slots(permits, this);
  }

  /** Calls running now (holding a slot). */
  get running(): number {
    const semaphore = this._semaphore;
    return semaphore.permits - semaphore.available;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this._queued;
  }

  /** Free slots now (`maxConcurrent - running`). */
  get available(): number {
    return this.maxConcurrent - this.running;
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    // The queue is only ever non-empty while every slot is taken (a freed slot goes to its head).
    if (this._semaphore.tryAcquire()) {
      if (this._events.listening('admit')) {
        this._events.emit('admit', { running: this.running, queued: this._queued, fromQueue: false });
      }
      return this._start(context, next);
    }
    if (this._queued >= this.maxQueue) return Promise.reject(this._rejection('queue-full'));
    if (context.aborted) return Promise.reject(context.signal.reason);
    // One shared executor captures the resolving functions: no closure per queued call.
    const promise = new Promise(capture);
    const resolve = capturedResolve as (value: unknown) => void;
    const reject = capturedReject as (error: unknown) => void;
    capturedResolve = capturedReject = undefined;
    this._enqueue(context, next, resolve, reject);
    return promise;
  }

  private _enqueue(
    context: Context,
    next: number,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    const timeout = this.queueTimeout;
    // Read before joining: a clock that throws rejects the call and leaves the queue untouched.
    let deadline = 0;
    try {
      if (timeout !== undefined) deadline = this._now() + timeout;
    } catch (error) {
      reject(error);
      return;
    }
    let batch = this._tail;
    if (batch === undefined || batch.end === batch.capacity) {
      // Each batch twice the last while the queue stays non-empty: a short queue allocates
      // little, and a burst's big batches go straight to the old generation, never copied.
      const capacity = batch === undefined || this._queued === 0 ? MIN_BATCH : Math.min(MAX_BATCH, batch.capacity * 2);
      batch = new Batch(capacity, timeout !== undefined);
      this._tail = batch;
      this._semaphore._wait(batch);
    }
    const i = batch.end++;
    const slots = batch.slots;
    const at = i * STRIDE;
    slots[at] = context;
    slots[at + 1] = next;
    slots[at + 2] = resolve;
    slots[at + 3] = reject;
    if (batch.deadlines !== undefined) batch.deadlines[i] = deadline;
    batch.live++;
    this._queued++;
    try {
      // An armed timer is set for an earlier deadline; it re-arms for the next one when it fires.
      if (timeout !== undefined && this._timer === undefined) {
        this._timer = this._clock.setTimeout(this._expire, timeout);
      }
      if (context.abortable) {
        // The core's shared listener: O(1) to leave, however many waiters share one signal.
        const signal = context.signal;
        const b = batch;
        slots[at + 4] = onAbort(signal, () => this._abandon(b, i, signal.reason));
      }
    } catch (error) {
      // A clock or a signal that throws: the call leaves the queue, rejected with that error
      // (never a waiter that no one can settle).
      this._abandon(batch, i, error);
      return;
    }
    if (this._events.listening('queue')) {
      this._events.emit('queue', { running: this.running, queued: this._queued });
    }
  }

  /** Runs the rest of the chain in a slot already held. */
  private _start(context: Context, next: number): Promise<unknown> {
    let promise: Promise<unknown>;
    try {
      // Settle-once (a no-op for our own stages' native promises): whatever the rest of the chain
      // returns, `_onValue` or `_onError` runs exactly once, so the slot is given back once.
      promise = adoptOwn(proceed(context, next));
    } catch (error) {
      this._semaphore.release();
      return Promise.reject(error);
    }
    // Shared handlers: no closure per call.
    return promise.then(this._onValue, this._onError);
  }

  private readonly _onValue = (value: unknown): unknown => {
    // Gives the slot back: straight to the head of the queue (`_admit`) if anyone waits.
    this._semaphore.release();
    return value;
  };

  private readonly _onError = (error: unknown): never => {
    this._semaphore.release();
    throw error;
  };

  /**
   * The oldest queued call: the head batch (its `first` moved past calls that left), or
   * `undefined` when nobody waits.
   */
  private _oldest(): Batch | undefined {
    const batch = this._semaphore._queue.head as Batch | undefined;
    if (batch === undefined) return undefined;
    const slots = batch.slots;
    let i = batch.first;
    while (slots[i * STRIDE + 2] === undefined) i++;
    batch.first = i;
    return batch;
  }

  /** Takes call `i` out of `batch` (it is queued); a batch with nobody left leaves the queue. */
  private _take(batch: Batch, i: number): void {
    const slots = batch.slots;
    const at = i * STRIDE;
    const subscription = slots[at + 4] as AbortSubscription | undefined;
    slots[at] = slots[at + 2] = slots[at + 3] = slots[at + 4] = undefined;
    this._queued--;
    if (--batch.live === 0) {
      this._semaphore._leave(batch);
      if (this._tail === batch) this._tail = undefined;
    }
    // Never throws (a look-alike signal's failing removeEventListener is reported).
    subscription?.dispose();
  }

  /** @internal The semaphore released a slot to the oldest queued call, in `batch`. */
  _admit(batch: Batch): void {
    this._oldest(); // `batch` is the head: move its `first` to the oldest call still waiting
    const i = batch.first;
    const slots = batch.slots;
    const at = i * STRIDE;
    const context = slots[at] as Context;
    const next = slots[at + 1] as number;
    const resolve = slots[at + 2] as (value: unknown) => void;
    const reject = slots[at + 3] as (error: unknown) => void;
    this._take(batch, i);
    this._idle();
    if (this._events.listening('admit')) {
      this._events.emit('admit', { running: this.running, queued: this._queued, fromQueue: true });
    }
    // Settle the caller's promise straight from the call's (cheaper than resolving with a promise).
    this._start(context, next).then(resolve, reject);
  }

  /** A queued caller aborted (or its signal or the clock threw): it leaves the queue with `reason`. */
  private _abandon(batch: Batch, i: number, reason: unknown): void {
    const slots = batch.slots;
    const at = i * STRIDE;
    const reject = slots[at + 3] as ((error: unknown) => void) | undefined;
    if (reject === undefined) return; // admitted or rejected already
    slots[at + 4] = undefined; // already fired (or never made)
    this._take(batch, i);
    this._idle();
    reject(reason);
  }

  /** With nobody left waiting, keep nothing scheduled. */
  private _idle(): void {
    if (this._queued === 0 && this._timer !== undefined) {
      const timer = this._timer;
      this._timer = undefined;
      // Never let an injected clock stop a slot from being handed on (the timer finds nobody).
      clearTimer(this._clock, timer, OWNER);
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
      if (this._queued > 0 && this._timer === undefined) {
        try {
          this._timer = this._clock.setTimeout(this._expire, this.queueTimeout as number);
        } catch {
          // The clock cannot schedule at all: the waiters still get the next free slots.
        }
      }
    }
  };

  private _expireDue(): void {
    const now = this._now();
    let batch = this._oldest();
    while (batch !== undefined && ((batch.deadlines as number[])[batch.first] as number) <= now) {
      const reject = batch.slots[batch.first * STRIDE + 3] as (error: unknown) => void;
      this._take(batch, batch.first);
      reject(this._rejection('queue-timeout'));
      batch = this._oldest();
    }
    if (batch !== undefined) {
      const deadline = (batch.deadlines as number[])[batch.first] as number;
      this._timer = this._clock.setTimeout(this._expire, Math.max(1, Math.ceil(deadline - now)));
    }
  }

  private _rejection(reason: BulkheadRejectionReason): BulkheadRejectedError {
    const limits = `maxConcurrent ${this.maxConcurrent}, maxQueue ${this.maxQueue}`;
    const message =
      reason === 'queue-full'
        ? `Bulkhead is full: ${this.running} running, ${this._queued} queued (${limits})`
        : `Bulkhead queue wait exceeded queueTimeout ${this.queueTimeout} ms (${limits})`;
    const error = new BulkheadRejectedError(message, reason, this.maxConcurrent, this.maxQueue);
    if (this._events.listening('reject')) {
      this._events.emit('reject', { reason, error, running: this.running, queued: this._queued });
    }
    return error;
  }
}

let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
/** The shared promise executor of queued calls: hands the resolving functions to `_run`. */
function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The semaphore of a {@link Bulkhead}: its permits are the slots, its queue the bulkhead's. */
class Slots extends Semaphore {
  readonly bulkhead: Bulkhead;
  constructor(permits: number, bulkhead: Bulkhead) {
    super(permits);
    this.bulkhead = bulkhead;
  }
}

/** Queued calls in the first {@link Batch} of a busy period. */
const MIN_BATCH = 16;
/** The most queued calls in a {@link Batch} (its slots then take ~160 KB, a large object). */
const MAX_BATCH = 8192;
/** Slots per call in {@link Batch.slots}: context, step, resolve, reject, abort subscription. */
const STRIDE = 5;

/**
 * Consecutive queued calls of a {@link Bulkhead}, as one waiter of its semaphore: the queue is a
 * list of batches, 16, 32, 64, ... up to {@link MAX_BATCH} calls each. A burst of 100,000 queued
 * calls is then about twenty list nodes, not 100,000 objects for the garbage collector to copy
 * while they wait (an object per queued call made that burst ~35 % slower). Calls are admitted in
 * order from `first`; one that leaves early (an abort, its `queueTimeout`) leaves a hole that
 * admission skips; the batch leaves the queue when its last call does, and nothing of it is kept.
 */
class Batch extends Waiter {
  /** How many calls it can take. */
  readonly capacity: number;
  /** {@link STRIDE} slots per call. */
  readonly slots: unknown[];
  /** Each call's `queueTimeout` deadline (the bulkhead's monotonic clock), with a `queueTimeout`. */
  readonly deadlines: number[] | undefined;
  /** The oldest call that may still wait (calls before it have left). */
  first = 0;
  /** How many calls have joined. */
  end = 0;
  /** How many calls still wait. */
  live = 0;

  constructor(capacity: number, timed: boolean) {
    super();
    this.capacity = capacity;
    this.slots = new Array(capacity * STRIDE);
    this.deadlines = timed ? new Array(capacity).fill(0) : undefined;
  }

  grant(semaphore: Semaphore): void {
    (semaphore as Slots).bulkhead._admit(this);
  }
}
