import { type AbortSubscription, onAbort } from '../core/abort.js';
import { type Clock, monotonic, setTimerRef, systemClock } from '../core/clock.js';
import { Context, proceed, signalContexts } from '../core/context.js';
import { TimeoutError } from '../core/errors.js';
import { List, type ListNode } from '../core/list.js';
import { Stage } from '../core/policy.js';
import { reportError } from '../core/report.js';
import { booleanOption, checkNumber, checkOptions, clockOption, MAX_TIMER_DELAY } from '../core/validate.js';

/** Options of {@link Timeout}. */
export interface TimeoutOptions {
  /** The deadline of each call, in milliseconds (> 0, at most 2^31 - 1). Required. */
  readonly timeout: number;
  /**
   * `false` (default): at the deadline the call rejects at once with a {@link TimeoutError} and
   * `ctx.signal` is aborted with it; a late result is discarded. `true`: the signal is aborted
   * but the call waits for the function to settle — a rejection then becomes a `TimeoutError`
   * (with the function's error as `cause`), a value is returned as is (Polly v8's behaviour).
   */
  readonly cooperative?: boolean;
  /**
   * Time source, for tests. Default {@link systemClock}. Its `now()` is read as a monotonic counter:
   * a backward step (an injected `Date.now`) counts as no time passing, never as time running
   * backwards, so it can't stretch or disable a deadline; and a deadline is also reached when the
   * clock's timer armed for it fires, so a clock whose `now()` stalls or returns nothing can't keep a
   * call past it.
   */
  readonly clock?: Clock;
}

/** Events of a {@link Timeout}. */
export interface TimeoutEvents {
  /** A call passed its deadline. */
  readonly timeout: { readonly timeout: number; readonly attempt: number; readonly error: TimeoutError };
}

const OWNER = 'Timeout';
const KNOWN = ['timeout', 'cooperative', 'clock'] as const;

/**
 * Bounds how long a call may take (Hystrix's timeout, go-resiliency's `deadline`).
 *
 * At the deadline the call rejects at once with a {@link TimeoutError} and `ctx.signal` is aborted
 * with that error as reason, so the work can stop (the `stopper` of go-resiliency). A late result
 * or rejection is swallowed. The caller's own abort rejects with the caller's reason, never a
 * `TimeoutError`.
 *
 * A call cancelled from above — by the caller's signal, or by an enclosing `Timeout`'s deadline —
 * leaves the deadline list at once (so the process is not kept alive for a call nobody waits for):
 * its `ctx.signal` is aborted with the canceller's reason and, unless `cooperative`, it rejects at
 * once with that reason (so a `Bulkhead` outside gets its slot back then, as at the deadline); a
 * cooperative `Timeout` waits for the function as usual.
 *
 * The deadline is known to a {@link RetryPolicy} inside: a retry whose delay would end at or after
 * it is not made, and the last failure surfaces at once instead of a `TimeoutError` later.
 *
 * Cost: no timer per call. Deadlines of one `Timeout` all have the same length, so they expire in
 * the order they were set; they wait in the core's list (O(1) to join and to leave) behind a
 * single timer. When the policy goes
 * idle that timer no longer keeps a Node process alive (it is `unref`'d), and it goes off at most
 * once more, within `timeout` ms, without re-arming: an idle `Timeout` keeps nothing scheduled.
 */
export class Timeout extends Stage<never, TimeoutEvents> {
  /** The deadline of each call, in milliseconds. */
  readonly timeout: number;
  /** Whether the timeout waits for the function to honour its abort. Default `false`. */
  readonly cooperative: boolean;
  private readonly _clock: Clock;
  /** @internal The clock read as a monotonic counter (ms); deadlines are in its units. */
  readonly _now: () => number;
  /** The calls running under this timeout, oldest (earliest deadline) first. */
  private readonly _deadlines = new List<TimeoutScope>();
  private _timer: unknown = undefined;
  private _timerRef = false;
  /** When the armed timer is due (in `_now` units): its firing proves that this time was reached. */
  private _due = 0;

  /**
   * @param options the deadline in milliseconds, or {@link TimeoutOptions}.
   * @throws RangeError when the deadline is not a finite number in (0, 2^31 - 1].
   */
  constructor(options: number | TimeoutOptions) {
    super();
    if (typeof options === 'number') {
      this.timeout = checkNumber(OWNER, 'timeout', options, { min: 0, minExclusive: true, max: MAX_TIMER_DELAY });
      this.cooperative = false;
      this._clock = systemClock;
    } else {
      checkOptions(OWNER, options, KNOWN);
      if (options === undefined) throw new TypeError(`${OWNER}: a timeout in milliseconds is required`);
      this.timeout = checkNumber(OWNER, 'timeout', options.timeout, {
        min: 0,
        minExclusive: true,
        max: MAX_TIMER_DELAY,
      });
      this.cooperative = booleanOption(OWNER, 'cooperative', options.cooperative, false);
      this._clock = clockOption(OWNER, options.clock) ?? systemClock;
    }
    this._now = monotonic(this._clock);
  }

  /** Calls currently running under this timeout. */
  get pending(): number {
    return this._deadlines.size;
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    const now = this._now();
    const scope = new TimeoutScope(this, context, now + this.timeout);
    this._enqueue(scope, now);
    // A shared executor stores the settle functions on the scope: no closure per call for it, and
    // the handlers below are not nested in one (V8 then allocates one context fewer).
    capturing = scope;
    const promise = new Promise<unknown>(capture);
    capturing = undefined;
    const cancelled = scope.watch();
    if (cancelled !== NOT_CANCELLED) this._cancel(scope, cancelled);
    let inner: Promise<unknown>;
    try {
      inner = proceed(scope, next);
    } catch (error) {
      // As when this ran inside the promise executor: the call rejects (and leaves the deadlines).
      this._dequeue(scope);
      (scope.reject as (error: unknown) => void)(error);
      return promise;
    }
    // Bound methods of the scope: smaller than two closures and the context they would share.
    inner.then(scope.onValue.bind(scope), scope.onError.bind(scope));
    return promise;
  }

  /** @internal The call of `scope` fulfilled. */
  _settled(scope: TimeoutScope, value: unknown): void {
    this._dequeue(scope);
    (scope.resolve as (value: unknown) => void)(value);
  }

  /** @internal The call of `scope` rejected. */
  _failed(scope: TimeoutScope, error: unknown): void {
    this._dequeue(scope);
    const reject = scope.reject as (error: unknown) => void;
    if (scope.expired && this.cooperative) reject(new TimeoutError(this.timeout, { cause: error }));
    else reject(error);
  }

  /**
   * @internal The call of `scope` was cancelled from above (the caller's abort, an enclosing
   * Timeout's deadline): it leaves the deadlines at once.
   */
  _cancel(scope: TimeoutScope, reason: unknown): void {
    if (scope.expired || scope.cancelled) return;
    this._unlist(scope);
    scope.end(reason, false);
    if (!this.cooperative) scope.reject?.(reason);
  }

  private _enqueue(scope: TimeoutScope, now: number): void {
    this._deadlines.push(scope);
    if (this._timer === undefined) {
      try {
        this._arm(this.timeout, now);
      } catch (error) {
        // An injected clock whose setTimeout throws: the call rejects (see `execute`) and must not
        // stay on the deadline list.
        this._unlist(scope);
        throw error;
      }
    } else if (!this._timerRef) {
      setTimerRef(this._timer, true);
      this._timerRef = true;
    }
    // Otherwise the timer is set for an earlier deadline; it re-arms for this one when it fires.
  }

  private _dequeue(scope: TimeoutScope): void {
    scope.release();
    this._unlist(scope);
  }

  /** Takes `scope` off the deadline list (if on it); an empty list's timer stops holding the process. */
  private _unlist(scope: TimeoutScope): void {
    const deadlines = this._deadlines;
    if (!deadlines.remove(scope)) return;
    if (deadlines.size === 0 && this._timerRef) {
      setTimerRef(this._timer, false);
      this._timerRef = false;
    }
  }

  private _arm(ms: number, now: number): void {
    this._due = now + ms;
    this._timer = this._clock.setTimeout(this._fire, ms);
    this._timerRef = true;
  }

  private readonly _fire = (): void => {
    this._timer = undefined;
    // The timer's firing proves its due time was reached, even if the clock stalls.
    const now = Math.max(this._now(), this._due);
    // From the head each time: expiring a call can cancel calls nested in it, on this same list.
    const deadlines = this._deadlines;
    let scope = deadlines.head;
    while (scope !== undefined && scope.deadline <= now) {
      this._unlist(scope);
      this._expire(scope);
      scope = deadlines.head;
    }
    const head = deadlines.head;
    // (A listener may have started a call, and armed the timer, meanwhile.)
    if (head === undefined) {
      if (this._timer === undefined) this._timerRef = false;
    } else if (this._timer === undefined) {
      try {
        this._arm(Math.max(1, Math.ceil(head.deadline - now)), now);
      } catch (error) {
        // Never throw out of a timer callback; the next call to start re-arms the timer.
        this._timerRef = false;
        reportError(error, 'Timeout clock.setTimeout');
      }
    }
  };

  private _expire(scope: TimeoutScope): void {
    const error = new TimeoutError(this.timeout);
    scope.end(error, true);
    if (this._events.listening('timeout')) {
      this._events.emit('timeout', { timeout: this.timeout, attempt: scope.attempt, error });
    }
    if (!this.cooperative) scope.reject?.(error);
  }
}

/** The scope whose promise is being created (see `capture`). */
let capturing: TimeoutScope | undefined;
function capture(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
  const scope = capturing as TimeoutScope;
  scope.resolve = resolve;
  scope.reject = reject;
}

/** What {@link TimeoutScope.watch} returns for a call that is not cancelled already. */
const NOT_CANCELLED: unique symbol = Symbol('not cancelled');

/**
 * The context of one call under a {@link Timeout}: a node of its deadline list, and of the list of
 * scopes nested in the nearest enclosing `TimeoutScope` (which cancels them when it ends).
 */
class TimeoutScope extends Context implements ListNode<TimeoutScope> {
  readonly owner: Timeout;
  /** In the owner's monotonic clock (`owner._now`). */
  readonly deadline: number;
  /** Links in the owner's deadline list. */
  prev: TimeoutScope | undefined = undefined;
  next: TimeoutScope | undefined = undefined;
  /** Ended at its deadline. */
  expired = false;
  /** Ended from above: the caller's abort, or an enclosing scope that ended. */
  cancelled = false;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;
  /** Why it ended: its `TimeoutError`, or the canceller's reason. */
  private _reason: unknown = undefined;
  private _controller: AbortController | undefined = undefined;
  /** On the caller's signal (or, below a foreign context, on the parent's signal). */
  private _link: AbortSubscription | undefined = undefined;
  private _released = false;
  /** A context between this one and the root is not one of this copy's: watch the parent's signal. */
  private _foreign = false;
  /** The enclosing scope this one is nested in (it cancels this one when it ends). */
  private _up: TimeoutScope | undefined = undefined;
  private _firstChild: TimeoutScope | undefined = undefined;
  private _prevSibling: TimeoutScope | undefined = undefined;
  private _nextSibling: TimeoutScope | undefined = undefined;

  constructor(owner: Timeout, parent: Context, deadline: number) {
    super(parent.fn, parent.chain, parent.attempt, parent, undefined);
    this.owner = owner;
    this.deadline = deadline;
  }

  onValue(this: TimeoutScope, value: unknown): void {
    this.owner._settled(this, value);
  }

  onError(this: TimeoutScope, error: unknown): void {
    this.owner._failed(this, error);
  }

  override get abortable(): boolean {
    return true;
  }

  override get aborted(): boolean {
    return this.expired || this.cancelled || (this.parent as Context).aborted;
  }

  /** Milliseconds left before this deadline or an enclosing one, each read on its own clock. */
  override remaining(): number {
    const own = this.expired || this.cancelled ? 0 : this.deadline - this.owner._now();
    const outer = (this.parent as Context).remaining();
    return Math.min(own, outer);
  }

  /**
   * Registers with whatever can cancel the call from above: the nearest enclosing scope (no
   * allocation), else the caller's signal (one subscription, only for calls given a signal).
   * @returns the reason when the call is cancelled already, else {@link NOT_CANCELLED}.
   */
  watch(): unknown {
    let context = this.parent as Context;
    for (;;) {
      if (context instanceof TimeoutScope) {
        if (context.expired || context.cancelled) return context._reason;
        this._up = context;
        const first = context._firstChild;
        if (first !== undefined) {
          first._prevSibling = this;
          this._nextSibling = first;
        }
        context._firstChild = this;
        return NOT_CANCELLED;
      }
      if (!(context instanceof Context)) {
        // Another copy of the package: its scopes are unknown here; link the signal as it is made.
        this._foreign = true;
        return NOT_CANCELLED;
      }
      const parent = context.parent;
      if (parent === undefined) {
        if (!context.abortable) return NOT_CANCELLED;
        const signal = context.signal;
        if (signal.aborted) return signal.reason;
        this._link = onAbort(signal, () => this.owner._cancel(this, signal.reason));
        return NOT_CANCELLED;
      }
      context = parent;
    }
  }

  /** Ends the scope (deadline or cancellation): aborts its signal and cancels the scopes nested in it. */
  end(reason: unknown, expired: boolean): void {
    if (expired) this.expired = true;
    else this.cancelled = true;
    this._reason = reason;
    this._controller?.abort(reason);
    let child = this._firstChild;
    while (child !== undefined) {
      const next = child._nextSibling;
      child.owner._cancel(child, reason);
      child = next;
    }
    this.release();
  }

  /** Detaches from whatever could cancel it, and from the scopes nested in it. Idempotent. */
  release(): void {
    this._released = true;
    if (this._link !== undefined) {
      this._link.dispose();
      this._link = undefined;
    }
    const up = this._up;
    if (up !== undefined) {
      const prev = this._prevSibling;
      const next = this._nextSibling;
      if (prev === undefined) up._firstChild = next;
      else prev._nextSibling = next;
      if (next !== undefined) next._prevSibling = prev;
      this._up = this._prevSibling = this._nextSibling = undefined;
    }
    let child = this._firstChild;
    if (child !== undefined) {
      this._firstChild = undefined;
      while (child !== undefined) {
        const next: TimeoutScope | undefined = child._nextSibling;
        child._up = child._prevSibling = child._nextSibling = undefined;
        child = next;
      }
    }
  }

  protected override createSignal(): AbortSignal {
    const controller = new AbortController();
    this._controller = controller;
    const parent = this.parent as Context;
    if (this.expired || this.cancelled) controller.abort(this._reason);
    else if (parent.aborted) controller.abort(parent.signal.reason);
    else if (this._foreign && !this._released) {
      const parentSignal = parent.signal;
      this._link = onAbort(parentSignal, () => controller.abort(parentSignal.reason));
    }
    // A call given this signal (a nested execute, staunch/fetch) runs under this deadline too.
    signalContexts.set(controller.signal, this);
    return controller.signal;
  }
}
