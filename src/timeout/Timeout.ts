import { type AbortSubscription, onAbort } from '../core/abort.js';
import { type Clock, setTimerRef, systemClock } from '../core/clock.js';
import { Context, proceed } from '../core/context.js';
import { TimeoutError } from '../core/errors.js';
import { Stage } from '../core/policy.js';
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
  /** Time source, for tests. Default {@link systemClock}. */
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
 * Cost: no timer per call. Deadlines of one `Timeout` all have the same length, so they expire in
 * the order they were set; they wait in a linked list behind a single timer. When the policy goes
 * idle that timer no longer keeps a Node process alive (it is `unref`'d), and it goes off at most
 * once more, within `timeout` ms, without re-arming: an idle `Timeout` keeps nothing scheduled.
 */
export class Timeout extends Stage<never, TimeoutEvents> {
  /** The deadline of each call, in milliseconds. */
  readonly timeout: number;
  /** Whether the timeout waits for the function to honour its abort. Default `false`. */
  readonly cooperative: boolean;
  private readonly _clock: Clock;
  private _head: TimeoutScope | undefined = undefined;
  private _tail: TimeoutScope | undefined = undefined;
  private _timer: unknown = undefined;
  private _timerRef = false;

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
  }

  /** Calls currently running under this timeout. */
  get pending(): number {
    let n = 0;
    for (let s = this._head; s !== undefined; s = s.next) n++;
    return n;
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    const scope = new TimeoutScope(this, context, this._clock.now() + this.timeout);
    this._enqueue(scope);
    // A shared executor stores the settle functions on the scope: no closure per call for it, and
    // the handlers below are not nested in one (V8 then allocates one context fewer).
    capturing = scope;
    const promise = new Promise<unknown>(capture);
    capturing = undefined;
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

  private _enqueue(scope: TimeoutScope): void {
    const tail = this._tail;
    if (tail === undefined) this._head = scope;
    else {
      tail.next = scope;
      scope.prev = tail;
    }
    this._tail = scope;
    scope.queued = true;
    if (this._timer === undefined) this._arm(this.timeout);
    else if (!this._timerRef) {
      setTimerRef(this._timer, true);
      this._timerRef = true;
    }
    // Otherwise the timer is set for an earlier deadline; it re-arms for this one when it fires.
  }

  private _dequeue(scope: TimeoutScope): void {
    scope.release();
    if (!scope.queued) return;
    scope.queued = false;
    const { prev, next } = scope;
    if (prev === undefined) this._head = next;
    else prev.next = next;
    if (next === undefined) this._tail = prev;
    else next.prev = prev;
    scope.prev = scope.next = undefined;
    if (this._head === undefined && this._timerRef) {
      setTimerRef(this._timer, false);
      this._timerRef = false;
    }
  }

  private _arm(ms: number): void {
    this._timer = this._clock.setTimeout(this._fire, ms);
    this._timerRef = true;
  }

  private readonly _fire = (): void => {
    this._timer = undefined;
    const now = this._clock.now();
    let scope = this._head;
    while (scope !== undefined && scope.deadline <= now) {
      const next = scope.next;
      this._dequeue(scope);
      this._expire(scope);
      scope = next;
    }
    const head = this._head;
    if (head !== undefined) this._arm(Math.max(1, Math.ceil(head.deadline - now)));
    else this._timerRef = false;
  };

  private _expire(scope: TimeoutScope): void {
    const error = new TimeoutError(this.timeout);
    scope.expire(error);
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

/** The context of one call under a {@link Timeout}: a node of its deadline list. */
class TimeoutScope extends Context {
  readonly owner: Timeout;
  readonly deadline: number;
  prev: TimeoutScope | undefined = undefined;
  next: TimeoutScope | undefined = undefined;
  queued = false;
  expired = false;
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;
  private _error: TimeoutError | undefined = undefined;
  private _controller: AbortController | undefined = undefined;
  private _link: AbortSubscription | undefined = undefined;
  private _released = false;

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
    return this.expired || (this.parent as Context).aborted;
  }

  expire(error: TimeoutError): void {
    this.expired = true;
    this._error = error;
    this._controller?.abort(error);
  }

  /** Detaches from the parent's signal; called once the call has settled. */
  release(): void {
    this._released = true;
    if (this._link !== undefined) {
      this._link.dispose();
      this._link = undefined;
    }
  }

  protected override createSignal(): AbortSignal {
    const controller = new AbortController();
    this._controller = controller;
    const parent = this.parent as Context;
    if (this.expired) controller.abort(this._error);
    else if (parent.abortable) {
      const parentSignal = parent.signal;
      if (parentSignal.aborted) controller.abort(parentSignal.reason);
      else if (!this._released) {
        this._link = onAbort(parentSignal, () => controller.abort(parentSignal.reason));
      }
    }
    return controller.signal;
  }
}
