import { type Context, proceed } from '../core/context.js';
import { Stage } from '../core/policy.js';
import { type CircuitBreakerEvents, type CircuitBreakerMetrics, CircuitController } from './CircuitController.js';
import { runQueued, SharedOutcome } from './execution.js';
import { type CircuitBreakerOptions, type CircuitBreakerSnapshot, resolveOptions } from './options.js';
import type { CircuitBreakerRule } from './rules.js';
import type { CircuitState } from './StateMachine.js';

export type { CircuitBreakerEvents, CircuitBreakerMetrics, FailureKind } from './CircuitController.js';
export type { CircuitBreakerOptions, CircuitBreakerSnapshot } from './options.js';

/** Closed-state calls timed for latency metrics: one in `SAMPLE_MASK + 1`. */
const SAMPLE_MASK = 7;

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
 * What is a failure is said with the options every policy shares: `handle`, `exclude`,
 * `handleResult` (`failureResult` is its older name).
 * Not counted: short circuits, `exclude`d errors (and, with `handle`, errors outside it), the
 * caller's own cancellation, and outcomes of
 * calls that started before the last state change. No timers: an idle breaker holds no window
 * storage and schedules nothing.
 */
export class CircuitBreaker extends Stage<never, CircuitBreakerEvents> {
  /** Name, for metrics and messages. */
  readonly name: string;
  /** Group, for metrics. */
  readonly group: string;
  /** The trip rule (as given). */
  readonly rule: CircuitBreakerRule;
  /** Error percentage that trips the Hystrix rule (0..100): the rule's own, else the option. */
  readonly errorThresholdPercentage: number;
  /** Counted calls needed before the Hystrix rule may trip: the rule's own, else the option. */
  readonly volumeThreshold: number;
  /** Length of the rolling window, in milliseconds. */
  readonly rollingWindow: number;
  /** Buckets of the rolling window. */
  readonly buckets: number;
  /** @internal State machine, rule, window, gate, metrics and persistence. */
  readonly _controller: CircuitController;
  /** A closed-state call is timed when `tick` passes this: one in 8, or every one under the slow-call rule. */
  private readonly _sampleMask: number;
  /** Closed-state calls since the last timed one. */
  private _tick = 0;
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
    const o = resolveOptions(options);
    this.name = o.name;
    this.group = o.group;
    this.rule = o.rule;
    this.errorThresholdPercentage = o.errorThresholdPercentage;
    this.volumeThreshold = o.volumeThreshold;
    this.rollingWindow = o.rollingWindow;
    this.buckets = o.buckets;
    this._sampleMask = o.rule.kind === 'slow-calls' ? 0 : SAMPLE_MASK;
    this._controller = new CircuitController(o, this._events);
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
    breaker._controller.restore(snapshot);
    return breaker;
  }

  /** The current state. Reading it never changes it; an open breaker reads half-open once its sleep window is over. */
  get state(): CircuitState {
    return this._controller.state;
  }

  /** The sleep window in effect, in milliseconds (it grows with a backoff `sleepWindow`). */
  get sleepWindow(): number {
    return this._controller.machine.sleepWindow;
  }

  /** Trial calls admitted at once in half-open. */
  get trialCalls(): number {
    return this._controller.machine.gate.maxCalls;
  }

  /** Trial successes that close the breaker. */
  get trialSuccesses(): number {
    return this._controller.machine.gate.successesToClose;
  }

  /** Forces the breaker open: every call is rejected until {@link forceClose} or {@link reset}. */
  isolate(): void {
    this._controller.settle('isolated');
  }

  /** Forces the breaker closed: every call runs and outcomes are recorded, but it never trips. */
  forceClose(): void {
    this._controller.settle('forced-closed');
  }

  /** Back to closed, with a fresh window and rule state (also ends a forced state). */
  reset(): void {
    this._controller.settle('closed');
  }

  /**
   * Reports a fallback's outcome into the rolling window (`fallbackSuccesses` /
   * `fallbackFailures` of {@link metrics}), e.g. from a {@link Fallback}'s events.
   */
  recordFallback(success: boolean): void {
    this._controller.recordFallback(success);
  }

  /** The rolling statistics now. Costs O(buckets). */
  metrics(): CircuitBreakerMetrics {
    return this._controller.metrics();
  }

  /** Slow calls (per the slow-call rule) in the rolling window now. */
  slowCallCount(): number {
    return this._controller.slowCallCount();
  }

  /** A snapshot for {@link CircuitBreaker.fromJSON}. */
  toJSON(): CircuitBreakerSnapshot {
    return this._controller.toJSON();
  }

  /**
   * @internal Asks the controller for admission, runs the rest of the chain, reports the outcome.
   * The start time is read only for admission and for the calls whose latency is sampled (the
   * controller reads the clock once at the end).
   */
  _run(context: Context, next: number): Promise<unknown> {
    const c = this._controller;
    const machine = c.machine;
    // A stage inside that can hold the call before it runs (a bulkhead's queue): read once per call.
    const queues = this._queues(context.chain, next);
    let start = Number.NaN;
    let trial = false;
    if (machine.state !== 'closed' && machine.state !== 'forced-closed') {
      start = c.now();
      try {
        trial = c.admit(start);
      } catch (error) {
        return Promise.reject(error);
      }
    } else if (++this._tick > this._sampleMask) {
      this._tick = 0;
      start = c.now();
      if (this._shared === undefined && this._sampleMask !== 0) this._shared = new SharedOutcome(c, machine.generation);
    } else if (this._shared !== undefined && !context.abortable && !queues) {
      // Untimed, not a trial, and never cancelled (so `context` is not needed): no closure per call.
      let shared = this._shared;
      if (shared.generation !== machine.generation) shared = this._shared = new SharedOutcome(c, machine.generation);
      c.concurrent++;
      return proceed(context, next).then(shared.onValue, shared.onError);
    }
    const generation = machine.generation;
    if (queues) return runQueued(c, context, next, generation, start, trial);
    c.concurrent++;
    // `then` rather than an async function: measurably less overhead per call.
    return proceed(context, next).then(
      (result) => {
        c.concurrent--;
        c.onResult(result, generation, start, trial);
        return result;
      },
      (error: unknown) => {
        c.concurrent--;
        c.onError(error, generation, start, trial, context.aborted);
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
}
