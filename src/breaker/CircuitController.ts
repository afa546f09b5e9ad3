import type { Classifier } from '../core/classify.js';
import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../core/errors.js';
import type { Emitter } from '../core/events.js';
import { HalfOpenGate } from './HalfOpenGate.js';
import { type LatencyMetrics, latencyMetrics } from './LatencyHistogram.js';
import { type CircuitBreakerSnapshot, checkSnapshot, type ResolvedOptions } from './options.js';
import {
  FAILURE,
  FALLBACK_FAILURE,
  FALLBACK_SUCCESS,
  REJECTION,
  RollingWindow,
  SHORT_CIRCUIT,
  SLOW,
  SUCCESS,
  TIMEOUT,
} from './RollingWindow.js';
import { evaluator, type TripEvaluator } from './rules.js';
import { type CircuitState, StateMachine } from './StateMachine.js';

/** Why a counted call failed. */
export type FailureKind = 'error' | 'timeout' | 'rejection' | 'result' | 'slow';

/** Events of a {@link CircuitBreaker}. */
export interface CircuitBreakerEvents {
  /**
   * The state changed. Open to half-open has no timer behind it: that event comes with the first
   * call after the sleep window (the `state` property reads half-open earlier).
   */
  readonly stateChange: { readonly from: CircuitState; readonly to: CircuitState };
  /**
   * A counted call succeeded. `latency` in milliseconds, or NaN when the call was not timed (in the
   * closed state one call in 8 is timed, every call under the {@link slowCalls} rule).
   */
  readonly success: { readonly latency: number };
  /**
   * A counted call failed. `error` is the thrown error (undefined for `'result'` and `'slow'`,
   * whose value is `result`). `latency` as in `success`.
   */
  readonly failure: {
    readonly kind: FailureKind;
    readonly error: unknown;
    readonly result?: unknown;
    readonly latency: number;
  };
  /** A call was rejected without being run. */
  readonly shortCircuit: { readonly error: CircuitOpenError };
  /**
   * An outcome was not counted: an `exclude`d error (or, with `handle`, one outside it), the
   * caller's own cancellation, or a `stale` outcome of a call that started before the last state
   * change.
   */
  readonly ignored: { readonly reason: 'excluded' | 'cancelled' | 'stale'; readonly error: unknown };
}

/** Rolling statistics of a breaker (Hystrix's set). Counts cover the rolling window. */
export interface CircuitBreakerMetrics {
  /** The state now (as {@link CircuitBreaker.state} reads it). */
  readonly state: CircuitState;
  /** Counted calls: successes + failures + timeouts + rejections. */
  readonly requests: number;
  /** Failures + timeouts + rejections (slow successes are failures under `slowCalls({ slowCallIsFailure })`). */
  readonly errors: number;
  /** Counted successes. */
  readonly successes: number;
  /** Errors other than timeouts and bulkhead rejections, and results classified as failures. */
  readonly failures: number;
  /** `TimeoutError`s from an inner timeout. */
  readonly timeouts: number;
  /** `BulkheadRejectedError`s from an inner bulkhead. */
  readonly rejections: number;
  /** Calls this breaker rejected without running them. */
  readonly shortCircuits: number;
  /** Reported with {@link CircuitBreaker.recordFallback}. */
  readonly fallbackSuccesses: number;
  /** Reported with {@link CircuitBreaker.recordFallback}. */
  readonly fallbackFailures: number;
  /** `floor(100 * errors / requests)`, 0 when there is no request. */
  readonly errorPercentage: number;
  /**
   * Calls running now (Hystrix's `currentConcurrentExecutionCount`): calls that went through the
   * breaker and reached the protected function, until their call through the breaker settles. A
   * call still waiting in the queue of a `Bulkhead` inside the breaker is not counted until
   * it leaves the queue and the function starts (Hystrix counts a command once it runs). A retry
   * inside the breaker keeps its call counted between attempts.
   */
  readonly concurrent: number;
  /** Latency of the counted calls, in milliseconds. */
  readonly latency: LatencyMetrics;
}

/**
 * @internal The breaker's brain (Polly's `CircuitStateController`): the state machine, the trip
 * rule, the rolling window, the half-open gate, the metrics and the persistence math. It knows
 * nothing of the execution chain: the policy asks it to {@link admit} a call and reports the
 * call's outcome with {@link onResult} / {@link onError}, passing the `generation` the call
 * started in, its start time (NaN when not timed) and whether it is a trial.
 */
export class CircuitController {
  /** The clock, read as a monotonic, finite counter. */
  readonly now: () => number;
  readonly machine: StateMachine;
  /** Calls running (see {@link CircuitBreakerMetrics.concurrent}); the policy counts them. */
  concurrent = 0;
  /** @internal (read by a test of the window's storage) */
  readonly _window: RollingWindow;
  private readonly _trip: TripEvaluator;
  private readonly _events: Emitter<CircuitBreakerEvents>;
  // The few options read after construction, copied: the resolved options object is not kept (an
  // idle breaker's footprint counts).
  private readonly _name: string;
  /** What counts as a failure; undefined: every error, no result. */
  private readonly _classifier: Classifier | undefined;
  /** Calls at least this long (ms) are slow; Infinity without the slow-call rule. */
  private readonly _slowDuration: number;
  private readonly _slowIsFailure: boolean;

  constructor(options: ResolvedOptions, events: Emitter<CircuitBreakerEvents>) {
    this._events = events;
    this.now = options.now;
    this._name = options.name;
    this._classifier = options.classifier;
    this._slowDuration = options.slowCallDuration;
    this._slowIsFailure = options.slowCallIsFailure;
    this.machine = new StateMachine(
      options.sleepWindow,
      options.firstSleep,
      new HalfOpenGate(options.trialCalls, options.trialSuccesses),
      options.source,
    );
    this._window = new RollingWindow(options.rollingWindow, options.buckets);
    this._trip = evaluator(options.trip);
  }

  /** The state as seen now (reading never changes it). */
  get state(): CircuitState {
    return this.machine.read(this.now());
  }

  /**
   * For a call while not closed: admits a trial call (true), lets the call run as an ordinary one
   * (false, when a `stateChange` listener closed the breaker meanwhile), or throws a
   * {@link CircuitOpenError} (and counts a short circuit).
   */
  admit(now: number): boolean {
    const m = this.machine;
    switch (m.state) {
      case 'closed':
      case 'forced-closed':
        return false;
      case 'isolated':
        return this._shortCircuit(now, Number.POSITIVE_INFINITY);
      case 'open':
        if (now < m.retryAt) return this._shortCircuit(now, m.retryAt);
        m.halfOpen();
        this._changed('open');
        // A listener may have changed the state (e.g. isolated the breaker): decide again.
        if ((m.state as CircuitState) !== 'half-open') return this.admit(now);
        break;
      default:
        break;
    }
    const gate = m.gate;
    if (!gate.free) {
      if (!gate.stuck(now, m.sleepWindow)) return this._shortCircuit(now, gate.lastAdmission + m.sleepWindow);
      m.newRound();
    }
    gate.admit(now);
    return true;
  }

  /** A call of `generation` returned `result`. */
  onResult(result: unknown, generation: number, start: number, trial: boolean): void {
    const now = this.now();
    const latency = now - start;
    if (generation !== this.machine.generation) {
      if (this._events.listening('ignored')) this._events.emit('ignored', { reason: 'stale', error: undefined });
      return;
    }
    const slow = latency >= this._slowDuration;
    if (this._classifier?.failsResult(result)) {
      this._failed(FAILURE, 'result', undefined, result, now, latency, trial);
    } else if (slow && this._slowIsFailure) {
      this._failed(FAILURE, 'slow', undefined, result, now, latency, trial);
    } else {
      this._window.record(SUCCESS, now, latency, slow);
      if (this._events.listening('success')) this._events.emit('success', { latency });
      const m = this.machine;
      if (trial) {
        // A slow trial under the slow-call rule is a failed probe even when not counted as an error.
        if (slow) this._open(now, 'half-open');
        else if (m.gate.succeed()) this.settle('closed');
      } else if (m.state === 'closed' && this._trip.tripAfter(false, this._window, now)) {
        this._open(now, 'closed');
      }
    }
  }

  /** A call of `generation` threw `error`; `cancelled`: the caller aborted it (not counted). */
  onError(error: unknown, generation: number, start: number, trial: boolean, cancelled: boolean): void {
    const now = this.now();
    const m = this.machine;
    const current = generation === m.generation;
    let reason: 'excluded' | 'cancelled' | 'stale' | undefined;
    if (!current) reason = 'stale';
    else if (cancelled) reason = 'cancelled';
    else if (this._classifier !== undefined && !this._classifier.handles(error)) reason = 'excluded';
    if (reason !== undefined) {
      if (current && trial) m.gate.release();
      if (this._events.listening('ignored')) this._events.emit('ignored', { reason, error });
      return;
    }
    const latency = now - start;
    if (error instanceof TimeoutError) this._failed(TIMEOUT, 'timeout', error, undefined, now, latency, trial);
    else if (error instanceof BulkheadRejectedError) {
      this._failed(REJECTION, 'rejection', error, undefined, now, latency, trial);
    } else this._failed(FAILURE, 'error', error, undefined, now, latency, trial);
  }

  /** Moves to a settled state (closing starts a fresh window and rule state). */
  settle(state: 'closed' | 'forced-closed' | 'isolated'): void {
    if (state === 'closed') {
      this._window.clear();
      this._trip.reset();
    }
    const from = this.machine.read(this.now());
    this.machine.settle(state);
    this._changed(from);
  }

  /** Counts a fallback's outcome in the window. */
  recordFallback(success: boolean): void {
    this._window.add(success ? FALLBACK_SUCCESS : FALLBACK_FAILURE, this.now());
  }

  /** The rolling statistics now. Costs O(buckets). */
  metrics(): CircuitBreakerMetrics {
    const now = this.now();
    const reading = this._window.read(now);
    const c = reading.counts;
    const successes = c[SUCCESS] as number;
    const failures = c[FAILURE] as number;
    const timeouts = c[TIMEOUT] as number;
    const rejections = c[REJECTION] as number;
    const errors = failures + timeouts + rejections;
    const requests = successes + errors;
    return {
      state: this.machine.read(now),
      requests,
      errors,
      successes,
      failures,
      timeouts,
      rejections,
      shortCircuits: c[SHORT_CIRCUIT] as number,
      fallbackSuccesses: c[FALLBACK_SUCCESS] as number,
      fallbackFailures: c[FALLBACK_FAILURE] as number,
      errorPercentage: requests === 0 ? 0 : Math.floor((100 * errors) / requests),
      concurrent: this.concurrent,
      latency: latencyMetrics(
        reading.bins,
        reading.latencyCount,
        reading.latencySum,
        reading.latencyMin,
        reading.latencyMax,
      ),
    };
  }

  /** Slow calls in the rolling window now. */
  slowCallCount(): number {
    return this._window.read(this.now()).counts[SLOW] as number;
  }

  /** A snapshot of the state (durations and wall-clock times only). */
  toJSON(): CircuitBreakerSnapshot {
    const now = this.now();
    const m = this.machine;
    const state = m.read(now);
    return {
      version: 1,
      state,
      retryAfter: state === 'open' ? m.retryAt - now : 0,
      opens: m.opens,
      savedAt: Date.now(),
    };
  }

  /** Restores a snapshot (checked first): wall-clock time since `savedAt` counts against the sleep window. */
  restore(snapshot: unknown): void {
    const s = checkSnapshot(snapshot);
    const m = this.machine;
    const now = this.now();
    switch (s.state) {
      case 'open':
      case 'half-open': {
        const elapsed = Math.max(0, Date.now() - s.savedAt);
        const remaining = s.state === 'open' ? Math.max(0, s.retryAfter - elapsed) : 0;
        m.restoreOpen(now, Math.max(1, s.opens), remaining);
        break;
      }
      case 'isolated':
      case 'forced-closed':
        m.settle(s.state);
        break;
      default:
        break;
    }
  }

  private _shortCircuit(now: number, retryAt: number): never {
    this._window.add(SHORT_CIRCUIT, now);
    const retryAfter = retryAt - now;
    const error = stackless(
      retryAt === Number.POSITIVE_INFINITY
        ? `Circuit breaker "${this._name}" is isolated: no call is allowed until it is reset`
        : `Circuit breaker "${this._name}" is ${this.machine.state}: next trial call allowed in ${Math.ceil(retryAfter)} ms`,
      retryAt,
      retryAfter,
    );
    if (this._events.listening('shortCircuit')) this._events.emit('shortCircuit', { error });
    throw error;
  }

  private _failed(
    counter: number,
    kind: FailureKind,
    error: unknown,
    result: unknown,
    now: number,
    latency: number,
    trial: boolean,
  ): void {
    this._window.record(counter, now, latency, latency >= this._slowDuration);
    if (this._events.listening('failure')) {
      this._events.emit(
        'failure',
        kind === 'result' || kind === 'slow' ? { kind, error, result, latency } : { kind, error, latency },
      );
    }
    const m = this.machine;
    if (trial) this._open(now, 'half-open');
    else if (m.state === 'closed' && this._trip.tripAfter(true, this._window, now)) this._open(now, 'closed');
  }

  private _open(now: number, from: CircuitState): void {
    this.machine.open(now);
    this._changed(from);
  }

  /** Emits `stateChange` when the state read now differs from `from`. */
  private _changed(from: CircuitState): void {
    if (!this._events.listening('stateChange')) return;
    const to = this.machine.read(this.now());
    if (from !== to) this._events.emit('stateChange', { from, to });
  }
}

type ErrorWithLimit = { stackTraceLimit?: unknown };

/**
 * Builds a {@link CircuitOpenError} without capturing a stack trace (where the engine lets us, as
 * Node's own internal errors do): its stack would only show the breaker's internals, and capturing
 * it would cost more than the whole rejection. An open breaker under load rejects a lot.
 */
function stackless(message: string, retryAt: number, retryAfter: number): CircuitOpenError {
  const E = Error as ErrorWithLimit;
  const limit = E.stackTraceLimit;
  if (typeof limit !== 'number') return new CircuitOpenError(message, retryAt, retryAfter);
  E.stackTraceLimit = 0;
  try {
    return new CircuitOpenError(message, retryAt, retryAfter);
  } finally {
    E.stackTraceLimit = limit;
  }
}
