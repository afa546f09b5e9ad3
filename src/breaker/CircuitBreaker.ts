import { type Clock, monotonic, systemClock } from '../core/clock.js';
import { Context, type ExecutionContext, proceed } from '../core/context.js';
import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../core/errors.js';
import { type ErrorMatcher, matchers, matchesAny } from '../core/match.js';
import { Stage } from '../core/policy.js';
import { reportError } from '../core/report.js';
import { checkNumber, checkOptions, clockOption, functionOption, numberOption, showValue } from '../core/validate.js';
import type { Backoff } from '../retry/backoff.js';
import { HalfOpenGate } from './HalfOpenGate.js';
import { type LatencyMetrics, latencyMetrics } from './LatencyHistogram.js';
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
import { type CircuitBreakerRule, evaluator, normaliseRule, type TripEvaluator } from './rules.js';
import { type CircuitState, StateMachine } from './StateMachine.js';

/** Options of {@link CircuitBreaker}. Every one is optional. */
export interface CircuitBreakerOptions {
  /** Name, for metrics and messages. Default `'circuit-breaker'`. */
  readonly name?: string;
  /** Group, for metrics (Hystrix's command group). Default: the name. */
  readonly group?: string;
  /**
   * How the breaker decides to trip: {@link hystrix} (default), {@link goResiliency},
   * {@link consecutiveFailures} or {@link slowCalls}.
   */
  readonly rule?: CircuitBreakerRule;
  /** Hystrix rule: error percentage (0..100) of the window that trips the breaker. Default 50. */
  readonly errorThresholdPercentage?: number;
  /** Hystrix rule: counted calls the window must hold before it may trip (integer >= 0). Default 20. */
  readonly volumeThreshold?: number;
  /**
   * Length of the rolling statistics window, in milliseconds (> 0, a multiple of `buckets`, so each
   * bucket is a whole number of milliseconds, at least 1). Default 10000.
   */
  readonly rollingWindow?: number;
  /**
   * Buckets the window is cut into: an integer from 1 to 1000 that divides `rollingWindow` evenly
   * (as in Hystrix). The window's storage grows with it (about 0.8 KB per bucket once latencies are
   * recorded). Default 10.
   */
  readonly buckets?: number;
  /**
   * How long the breaker stays open before a trial call, in milliseconds (> 0): a number, or a
   * backoff (e.g. `exponential({ initial: 5000, max: 60000 })`) whose n-th delay is used for the
   * n-th consecutive open (the last repeats when it runs out; closing starts it over). The backoff
   * is iterated afresh each time (an array or a staunch backoff helper; not a one-shot generator).
   * It is followed for the first 1000 consecutive opens; later opens keep the 1000th delay (every
   * practical backoff has reached its maximum long before). A backoff that throws or yields a bad
   * delay does not fail the call: the last good delay is kept and a throw goes to the error
   * reporter (`setErrorReporter`). Default 5000, or the go-resiliency rule's `timeout`.
   */
  readonly sleepWindow?: number | Backoff;
  /** Trial calls admitted at once in half-open (integer >= 1 or Infinity). Default 1. */
  readonly trialCalls?: number;
  /**
   * Trial successes that close the breaker (integer >= 1). Default 1, or the go-resiliency rule's
   * `successThreshold`.
   */
  readonly trialSuccesses?: number;
  /**
   * Errors that are not counted at all (neither success nor failure) and are rethrown unchanged,
   * e.g. a validation error that says nothing about the dependency's health. A predicate that
   * throws counts as "not excluded" (the error is counted as a failure, and the call still rejects
   * with its own error); the predicate's error goes to the error reporter (`setErrorReporter`).
   */
  readonly exclude?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Classifies a result as a failure (return `true`); the result is still returned. A classifier
   * that throws counts as `false` (the result is a success, a half-open trial's included, so its
   * trial slot is never held), the call still resolves with its result, and the classifier's error
   * goes to the error reporter (`setErrorReporter`).
   */
  readonly failureResult?: (result: unknown) => boolean;
  /**
   * Time source, for tests. Default {@link systemClock}. Its readings are made monotonic: a step
   * backwards (a `Date.now`-based clock after an NTP correction) counts as no time passing, so it
   * cannot keep the breaker open longer than its sleep window of forward time.
   */
  readonly clock?: Clock;
}

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
   * An outcome was not counted: an `exclude`d error, the caller's own cancellation, or a `stale`
   * outcome of a call that started before the last state change.
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
 * What {@link CircuitBreaker.toJSON} saves: enough to restore an open or forced circuit in another
 * process. Times are durations and wall-clock milliseconds, never the monotonic clock's values.
 */
export interface CircuitBreakerSnapshot {
  /** Format version. */
  readonly version: 1;
  /** The state at `savedAt`. */
  readonly state: CircuitState;
  /** Milliseconds, at `savedAt`, until a trial call is allowed (0 unless open). */
  readonly retryAfter: number;
  /** Consecutive opens so far (the position in a sleep-window backoff). */
  readonly opens: number;
  /** Wall-clock time of the snapshot (`Date.now()`), in milliseconds since the epoch. */
  readonly savedAt: number;
}

const OWNER = 'CircuitBreaker';
/** The most buckets a rolling window may have. */
const MAX_BUCKETS = 1000;
/** The latest wall-clock time a `Date` can hold, in ms since the epoch. */
const MAX_DATE = 8.64e15;
/** Closed-state calls timed for latency metrics: one in `SAMPLE_MASK + 1`. */
const SAMPLE_MASK = 7;
const KNOWN = [
  'name',
  'group',
  'rule',
  'errorThresholdPercentage',
  'volumeThreshold',
  'rollingWindow',
  'buckets',
  'sleepWindow',
  'trialCalls',
  'trialSuccesses',
  'exclude',
  'failureResult',
  'clock',
] as const;
const RULES = ['hystrix', 'go-resiliency', 'consecutive', 'slow-calls'];
const STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated', 'forced-closed'];

/**
 * Stops calling a failing dependency for a while (Hystrix's circuit breaker), then lets trial
 * calls probe it.
 *
 * - **closed**: calls run; each counted outcome goes into a rolling window and the trip rule
 *   decides, as each call completes, whether to open.
 * - **open**: calls are rejected at once with a {@link CircuitOpenError} (`retryAt`, `retryAfter`)
 *   for `sleepWindow` ms.
 * - **half-open**: `trialCalls` trials run at a time (others are rejected); `trialSuccesses`
 *   successes close the breaker with a fresh window, a failure re-opens it. A trial still running
 *   one sleep window after it was admitted no longer blocks: another is admitted.
 * - **isolated** / **forced-closed**: manual overrides, left with {@link CircuitBreaker.reset}.
 *
 * Counted: successes, failures, `TimeoutError`s and `BulkheadRejectedError`s from inner policies.
 * Not counted: short circuits, `exclude`d errors, the caller's own cancellation, and outcomes of
 * calls that started before the last state change. No timers: an idle breaker holds no window
 * storage and schedules nothing.
 */
export class CircuitBreaker extends Stage<never, CircuitBreakerEvents> {
  /** Name, for metrics and messages. */
  readonly name: string;
  /** Group, for metrics. */
  readonly group: string;
  /** The trip rule. */
  readonly rule: CircuitBreakerRule;
  /** Error percentage that trips the Hystrix rule (0..100). */
  readonly errorThresholdPercentage: number;
  /** Counted calls needed before the Hystrix rule may trip. */
  readonly volumeThreshold: number;
  /** Length of the rolling window, in milliseconds. */
  readonly rollingWindow: number;
  /** Buckets of the rolling window. */
  readonly buckets: number;
  /** The clock, read as a monotonic, finite counter (see `monotonic`). */
  private readonly _now: () => number;
  private readonly _machine: StateMachine;
  private readonly _window: RollingWindow;
  private readonly _trip: TripEvaluator;
  private readonly _exclude: readonly ErrorMatcher[] | undefined;
  private readonly _failureResult: ((result: unknown) => boolean) | undefined;
  /** Calls at least this long (ms) are slow; Infinity without the slow-call rule. */
  private readonly _slowDuration: number;
  private readonly _slowIsFailure: boolean;
  /** @internal Calls running. */
  _concurrent = 0;
  /** Closed-state calls since the last timed one. */
  private _tick = 0;
  /** A closed-state call is timed when `tick` passes this: one in 8, or every one under the slow-call rule. */
  private readonly _sampleMask: number;
  /**
   * Outcome handlers shared by the untimed closed-state calls of one generation that nothing can
   * abort (they need no per-call state): made at the first timed call, so a breaker that made
   * only a call or two does not hold them.
   */
  private _shared: SharedOutcome | undefined = undefined;
  /** The chain and position last checked for a queue inside the breaker, and the answer. */
  private _scanChain: readonly Stage[] | undefined = undefined;
  private _scanNext = -1;
  private _scanQueues = false;

  /**
   * @throws TypeError for an unknown option or an option of the wrong type; RangeError for a value
   *   out of range (each message names the option).
   */
  constructor(options: CircuitBreakerOptions = {}) {
    super();
    checkOptions(OWNER, options, KNOWN);
    const name = options.name === undefined ? 'circuit-breaker' : options.name;
    if (typeof name !== 'string') throw new TypeError(`${OWNER}: name must be a string, got ${showValue(name)}`);
    const group = options.group === undefined ? name : options.group;
    if (typeof group !== 'string') throw new TypeError(`${OWNER}: group must be a string, got ${showValue(group)}`);
    this.name = name;
    this.group = group;
    const rule = options.rule === undefined ? { kind: 'hystrix' as const } : options.rule;
    if (typeof rule !== 'object' || rule === null || !RULES.includes((rule as { kind?: string }).kind as string)) {
      throw new TypeError(
        `${OWNER}: rule must be hystrix(), goResiliency({...}), consecutiveFailures(n) or slowCalls({...}), got ${showValue(rule)}`,
      );
    }
    this.rule = normaliseRule(rule);
    this.errorThresholdPercentage = numberOption(
      OWNER,
      'errorThresholdPercentage',
      options.errorThresholdPercentage,
      50,
      {
        min: 0,
        max: 100,
      },
    );
    this.volumeThreshold = numberOption(OWNER, 'volumeThreshold', options.volumeThreshold, 20, {
      min: 0,
      integer: true,
    });
    this.rollingWindow = numberOption(OWNER, 'rollingWindow', options.rollingWindow, 10_000, {
      min: 0,
      minExclusive: true,
    });
    this.buckets = numberOption(OWNER, 'buckets', options.buckets, 10, { min: 1, max: MAX_BUCKETS, integer: true });
    // Divisible, with an integer bucket count: each bucket is a whole number of ms, so at least 1 ms.
    if (this.rollingWindow % this.buckets !== 0) {
      throw new RangeError(
        `${OWNER}: rollingWindow (${this.rollingWindow} ms) must be divisible by buckets (${this.buckets}), so that each bucket is a whole number of milliseconds`,
      );
    }
    const goRule = this.rule.kind === 'go-resiliency' ? this.rule : undefined;
    const sleep = options.sleepWindow === undefined ? (goRule?.timeout ?? 5000) : options.sleepWindow;
    let firstSleep: number;
    if (typeof sleep === 'number') {
      firstSleep = checkNumber(OWNER, 'sleepWindow', sleep, { min: 0, minExclusive: true });
    } else if (typeof sleep === 'object' && sleep !== null && typeof sleep[Symbol.iterator] === 'function') {
      const first = sleep[Symbol.iterator]().next();
      if (first.done === true) throw new RangeError(`${OWNER}: sleepWindow backoff yields no delay`);
      firstSleep = checkNumber(OWNER, 'sleepWindow (first delay of the backoff)', first.value, {
        min: 0,
        minExclusive: true,
      });
    } else {
      throw new TypeError(`${OWNER}: sleepWindow must be a number of ms or a backoff, got ${showValue(sleep)}`);
    }
    const trialCalls = numberOption(OWNER, 'trialCalls', options.trialCalls, 1, {
      min: 1,
      integer: true,
      allowInfinity: true,
    });
    const trialSuccesses = numberOption(
      OWNER,
      'trialSuccesses',
      options.trialSuccesses,
      goRule?.successThreshold ?? 1,
      {
        min: 1,
        integer: true,
      },
    );
    this._exclude = matchers(OWNER, 'exclude', options.exclude);
    this._failureResult = functionOption(OWNER, 'failureResult', options.failureResult);
    // Only now() is used; it must return a finite number (read once here).
    const clock = clockOption(OWNER, options.clock, false) ?? systemClock;
    this._now = monotonic(clock);
    const slowRule = this.rule.kind === 'slow-calls' ? this.rule : undefined;
    this._slowDuration = slowRule?.slowCallDuration ?? Number.POSITIVE_INFINITY;
    this._slowIsFailure = slowRule?.slowCallIsFailure === true;
    this._sampleMask = slowRule === undefined ? SAMPLE_MASK : 0;
    this._machine = new StateMachine(
      sleep,
      firstSleep,
      new HalfOpenGate(trialCalls, trialSuccesses),
      `${OWNER} "${name}"`,
    );
    this._window = new RollingWindow(this.rollingWindow, this.buckets);
    this._trip = evaluator(this.rule, this.errorThresholdPercentage, this.volumeThreshold);
  }

  /**
   * Restores a breaker saved with {@link CircuitBreaker.toJSON} (e.g. in another process): an open
   * circuit stays open for the rest of its sleep window (wall-clock time that passed meanwhile
   * counts), a half-open one admits a trial at once, forced states stay forced. The rolling window
   * and rule counts start fresh. Takes constant time whatever `opens` is (a sleep-window backoff is
   * stepped at most 1000 times, see `sleepWindow`).
   *
   * Every field is checked: `version` must be 1; `state` one of the five states; `retryAfter` a
   * finite number of ms >= 0; `opens` an integer >= 0 (finite); `savedAt` a finite number of ms
   * since the epoch, from 0 to 8.64e15 (the latest `Date`).
   * @throws TypeError when `snapshot` is not an object or a field has the wrong type; RangeError
   *   when a field's value is out of range (the message names the field and the value); the
   *   constructor's errors for bad `options`.
   */
  static fromJSON(snapshot: CircuitBreakerSnapshot, options?: CircuitBreakerOptions): CircuitBreaker {
    const breaker = new CircuitBreaker(options);
    breaker._restore(snapshot);
    return breaker;
  }

  /** The current state. Reading it never changes it; an open breaker reads half-open once its sleep window is over. */
  get state(): CircuitState {
    return this._machine.read(this._now());
  }

  /** The sleep window in effect, in milliseconds (it grows with a backoff `sleepWindow`). */
  get sleepWindow(): number {
    return this._machine.sleepWindow;
  }

  /** Trial calls admitted at once in half-open. */
  get trialCalls(): number {
    return this._machine.gate.maxCalls;
  }

  /** Trial successes that close the breaker. */
  get trialSuccesses(): number {
    return this._machine.gate.successesToClose;
  }

  /** Forces the breaker open: every call is rejected until {@link forceClose} or {@link reset}. */
  isolate(): void {
    this._settle('isolated');
  }

  /** Forces the breaker closed: every call runs and outcomes are recorded, but it never trips. */
  forceClose(): void {
    this._settle('forced-closed');
  }

  /** Back to closed, with a fresh window and rule state (also ends a forced state). */
  reset(): void {
    this._settle('closed');
  }

  /**
   * Reports a fallback's outcome into the rolling window (`fallbackSuccesses` /
   * `fallbackFailures` of {@link metrics}), e.g. from a {@link Fallback}'s events.
   */
  recordFallback(success: boolean): void {
    this._window.add(success ? FALLBACK_SUCCESS : FALLBACK_FAILURE, this._now());
  }

  /** The rolling statistics now. Costs O(buckets). */
  metrics(): CircuitBreakerMetrics {
    const now = this._now();
    const reading = this._window.read(now);
    const c = reading.counts;
    const successes = c[SUCCESS] as number;
    const failures = c[FAILURE] as number;
    const timeouts = c[TIMEOUT] as number;
    const rejections = c[REJECTION] as number;
    const errors = failures + timeouts + rejections;
    const requests = successes + errors;
    return {
      state: this._machine.read(now),
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
      concurrent: this._concurrent,
      latency: latencyMetrics(
        reading.bins,
        reading.latencyCount,
        reading.latencySum,
        reading.latencyMin,
        reading.latencyMax,
      ),
    };
  }

  /** Slow calls (per the slow-call rule) in the rolling window now. */
  slowCallCount(): number {
    return this._window.read(this._now()).counts[SLOW] as number;
  }

  /** A snapshot for {@link CircuitBreaker.fromJSON}. */
  toJSON(): CircuitBreakerSnapshot {
    const now = this._now();
    const m = this._machine;
    const state = m.read(now);
    return {
      version: 1,
      state,
      retryAfter: state === 'open' ? m.retryAt - now : 0,
      opens: m.opens,
      savedAt: Date.now(),
    };
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    const machine = this._machine;
    // One clock read per call (at the end) is enough for the window; the start is read only for
    // admission and for the calls whose latency is sampled.
    let start = Number.NaN;
    let trial = false;
    if (machine.state !== 'closed' && machine.state !== 'forced-closed') {
      start = this._now();
      try {
        trial = this._admit(start);
      } catch (error) {
        return Promise.reject(error);
      }
    } else if (++this._tick > this._sampleMask) {
      this._tick = 0;
      start = this._now();
      if (this._shared === undefined && this._sampleMask !== 0)
        this._shared = new SharedOutcome(this, machine.generation);
    } else if (this._shared !== undefined && !context.abortable && !this._queues(context.chain, next)) {
      // Untimed, not a trial, and never cancelled (so `context` is not needed): no closure per call.
      let shared = this._shared;
      if (shared.generation !== machine.generation) shared = this._shared = new SharedOutcome(this, machine.generation);
      this._concurrent++;
      return proceed(context, next).then(shared.onValue, shared.onError);
    }
    const generation = machine.generation;
    if (this._queues(context.chain, next)) return this._runQueued(context, next, generation, start, trial);
    this._concurrent++;
    // `then` rather than an async function: measurably less overhead per call.
    return proceed(context, next).then(
      (result) => {
        this._concurrent--;
        this._onResult(result, generation, start, trial);
        return result;
      },
      (error: unknown) => {
        this._concurrent--;
        this._onError(error, generation, start, trial, context);
        throw error;
      },
    );
  }

  /**
   * Whether a stage after position `next` of `chain` can hold a call before it reaches the function
   * (a bulkhead with a queue). Remembered for the last chain seen: a breaker is usually in one.
   */
  private _queues(chain: readonly Stage[], next: number): boolean {
    if (chain !== this._scanChain || next !== this._scanNext) {
      let queues = false;
      for (let i = next; i < chain.length; i++) {
        const maxQueue = (chain[i] as { maxQueue?: unknown }).maxQueue;
        if (typeof maxQueue === 'number' && maxQueue > 0) queues = true;
      }
      this._scanChain = chain;
      this._scanNext = next;
      this._scanQueues = queues;
    }
    return this._scanQueues;
  }

  /**
   * A call with a queue between the breaker and the function: it counts in `concurrent` only from
   * the moment the function starts (a context whose `fn` marks it) until the call settles.
   */
  private _runQueued(
    context: Context,
    next: number,
    generation: number,
    start: number,
    trial: boolean,
  ): Promise<unknown> {
    const fn = context.fn;
    // 0: waiting, 1: reached the function (counted), 2: settled.
    let phase = 0;
    const marked = (ctx: ExecutionContext): unknown => {
      if (phase === 0) {
        phase = 1;
        this._concurrent++;
      }
      return fn(ctx);
    };
    const inner = new Context(marked, context.chain, context.attempt, context, undefined);
    const done = (): void => {
      if (phase === 1) this._concurrent--;
      phase = 2;
    };
    return proceed(inner, next).then(
      (result) => {
        done();
        this._onResult(result, generation, start, trial);
        return result;
      },
      (error: unknown) => {
        done();
        this._onError(error, generation, start, trial, context);
        throw error;
      },
    );
  }

  /**
   * Not closed: admits a trial call (true), lets the call run as an ordinary one (false, when a
   * `stateChange` listener closed the breaker meanwhile), or throws a {@link CircuitOpenError}.
   */
  private _admit(now: number): boolean {
    const m = this._machine;
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
        if ((m.state as CircuitState) !== 'half-open') return this._admit(now);
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

  private _shortCircuit(now: number, retryAt: number): never {
    this._window.add(SHORT_CIRCUIT, now);
    const retryAfter = retryAt - now;
    const error = stackless(
      retryAt === Number.POSITIVE_INFINITY
        ? `Circuit breaker "${this.name}" is isolated: no call is allowed until it is reset`
        : `Circuit breaker "${this.name}" is ${this._machine.state}: next trial call allowed in ${Math.ceil(retryAfter)} ms`,
      retryAt,
      retryAfter,
    );
    if (this._events.listening('shortCircuit')) this._events.emit('shortCircuit', { error });
    throw error;
  }

  /** @internal */
  _onResult(result: unknown, generation: number, start: number, trial: boolean): void {
    const now = this._now();
    const latency = now - start;
    if (generation !== this._machine.generation) {
      if (this._events.listening('ignored')) this._events.emit('ignored', { reason: 'stale', error: undefined });
      return;
    }
    const slow = latency >= this._slowDuration;
    if (this._failureResult !== undefined && this._isFailureResult(result)) {
      this._failed(FAILURE, 'result', undefined, result, now, latency, trial);
    } else if (slow && this._slowIsFailure) {
      this._failed(FAILURE, 'slow', undefined, result, now, latency, trial);
    } else {
      this._window.record(SUCCESS, now, latency, slow);
      if (this._events.listening('success')) this._events.emit('success', { latency });
      const m = this._machine;
      if (trial) {
        // A slow trial under the slow-call rule is a failed probe even when not counted as an error.
        if (slow) this._open(now, 'half-open');
        else if (m.gate.succeed()) this._settle('closed');
      } else if (m.state === 'closed' && this._trip.tripAfter(false, this._window, now)) {
        this._open(now, 'closed');
      }
    }
  }

  /** @internal `context` is undefined for a call that nothing could abort. */
  _onError(error: unknown, generation: number, start: number, trial: boolean, context: Context | undefined): void {
    const now = this._now();
    const m = this._machine;
    const current = generation === m.generation;
    let reason: 'excluded' | 'cancelled' | 'stale' | undefined;
    if (!current) reason = 'stale';
    else if (context?.aborted === true) reason = 'cancelled';
    else if (this._exclude !== undefined && matchesAny(this._exclude, error)) reason = 'excluded';
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

  /** `failureResult`'s verdict; a classifier that throws says no (and is reported). */
  private _isFailureResult(result: unknown): boolean {
    try {
      return (this._failureResult as (result: unknown) => boolean)(result) === true;
    } catch (error) {
      reportError(error, `${OWNER} "${this.name}" failureResult`);
      return false;
    }
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
    const m = this._machine;
    if (trial) this._open(now, 'half-open');
    else if (m.state === 'closed' && this._trip.tripAfter(true, this._window, now)) this._open(now, 'closed');
  }

  private _open(now: number, from: CircuitState): void {
    this._machine.open(now);
    this._changed(from);
  }

  private _settle(state: 'closed' | 'forced-closed' | 'isolated'): void {
    if (state === 'closed') {
      this._window.clear();
      this._trip.reset();
    }
    const from = this._machine.read(this._now());
    this._machine.settle(state);
    this._changed(from);
  }

  /** Emits `stateChange` when the state read now differs from `from`. */
  private _changed(from: CircuitState): void {
    if (!this._events.listening('stateChange')) return;
    const to = this._machine.read(this._now());
    if (from !== to) this._events.emit('stateChange', { from, to });
  }

  private _restore(snapshot: CircuitBreakerSnapshot): void {
    const where = `${OWNER}.fromJSON()`;
    if (typeof snapshot !== 'object' || snapshot === null || Array.isArray(snapshot)) {
      throw new TypeError(`${where}: not a circuit breaker snapshot (version 1): ${showValue(snapshot)}`);
    }
    const s = snapshot as { [K in keyof CircuitBreakerSnapshot]?: unknown };
    checkNumber(where, 'snapshot.version', s.version, {});
    if (s.version !== 1) throw new RangeError(`${where}: snapshot.version must be 1, got ${showValue(s.version)}`);
    if (typeof s.state !== 'string') {
      throw new TypeError(`${where}: snapshot.state must be a string, got ${showValue(s.state)}`);
    }
    if (!STATES.includes(s.state as CircuitState)) {
      throw new RangeError(`${where}: snapshot.state must be one of ${STATES.join(', ')}, got ${showValue(s.state)}`);
    }
    const retryAfter = checkNumber(where, 'snapshot.retryAfter', s.retryAfter, { min: 0 });
    const opens = checkNumber(where, 'snapshot.opens', s.opens, { min: 0, integer: true });
    const savedAt = checkNumber(where, 'snapshot.savedAt', s.savedAt, { min: 0, max: MAX_DATE });
    const m = this._machine;
    const now = this._now();
    switch (s.state) {
      case 'open':
      case 'half-open': {
        const elapsed = Math.max(0, Date.now() - savedAt);
        const remaining = s.state === 'open' ? Math.max(0, retryAfter - elapsed) : 0;
        m.restoreOpen(now, Math.max(1, opens), remaining);
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
}

type ErrorWithLimit = { stackTraceLimit?: unknown };

/**
 * Builds a {@link CircuitOpenError} without capturing a stack trace (where the engine lets us, as
 * Node's own internal errors do): its stack would only show the breaker's internals, and capturing
 * it would cost more than the whole rejection. An open breaker under load rejects a lot.
 */
/** The handlers of untimed, uncancellable closed-state calls of one generation (see `_shared`). */
class SharedOutcome {
  readonly generation: number;
  readonly onValue: (result: unknown) => unknown;
  readonly onError: (error: unknown) => never;
  constructor(breaker: CircuitBreaker, generation: number) {
    this.generation = generation;
    this.onValue = (result) => {
      breaker._concurrent--;
      breaker._onResult(result, generation, Number.NaN, false);
      return result;
    };
    this.onError = (error) => {
      breaker._concurrent--;
      breaker._onError(error, generation, Number.NaN, false, undefined);
      throw error;
    };
  }
}

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
