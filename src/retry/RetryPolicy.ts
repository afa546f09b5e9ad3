import { sleep } from '../core/abort.js';
import { acts, type Classifier, type ClassifyOptions, classifier } from '../core/classify.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Context, proceed } from '../core/context.js';
import type { ErrorMatcher } from '../core/match.js';
import { Stage } from '../core/policy.js';
import { reportError } from '../core/report.js';
import {
  checkOptions,
  clockOption,
  functionOption,
  MAX_TIMER_DELAY,
  numberOption,
  showValue,
} from '../core/validate.js';
import { type Backoff, exponential } from './backoff.js';

/** What the retry saw fail: a thrown error, or a result classified as a failure. */
export type RetryOutcome =
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'result'; readonly result: unknown };

/**
 * Options of {@link RetryPolicy}. Every one is optional. Which failures are retried is said with
 * the options every policy shares ({@link ClassifyOptions}: `handle`, `exclude`, `handleResult`);
 * `retryOn`, `failOn` and `retryResult` are their older names here and stay (giving an option
 * under both names is a TypeError).
 */
export interface RetryOptions extends ClassifyOptions {
  /**
   * Retries after the first attempt (so at most `maxRetries + 1` attempts); `Infinity` retries
   * until success, a non-retryable error or the caller's abort. Default: the length of `backoff`
   * when it is an array, else 3. When the backoff runs out first, its last delay repeats.
   */
  readonly maxRetries?: number;
  /**
   * Delays before each retry, in milliseconds: an array (its length is the retry count, as in
   * go-resiliency), any iterable, or a helper ({@link constant}, {@link exponential},
   * {@link decorrelatedJitter}). Default `exponential({ initial: 100, factor: 2 })`:
   * 100, 200, 400, ... ms. An array's delays are checked here; a custom iterable that throws or
   * yields a bad delay when read (at failure time) ends the retries: the call fails with its own
   * last failure, unchanged, and the backoff's mistake goes to the error reporter
   * (`setErrorReporter`).
   */
  readonly backoff?: Backoff;
  /**
   * Randomises each delay `d` uniformly in `[d(1-j), d(1+j))` (go-resiliency's formula), 0..1.
   * Default 0 (no jitter).
   */
  readonly jitter?: number;
  /**
   * Allow-list: only errors that match are retried; any other error fails at once
   * (go-resiliency's `WhitelistClassifier`). Default: every error is retried. Also spelt `retryOn`.
   */
  readonly handle?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Deny-list: errors that match fail at once; the rest are retried (go-resiliency's
   * `BlacklistClassifier`). Wins over `handle`. Default: none. Also spelt `failOn`.
   */
  readonly exclude?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Classifies a successful result as a retryable failure (return a truthy value), e.g. an HTTP
   * 503 `Response`. When the retries run out, the last such result is returned. A predicate that
   * throws is a bug, not a transient failure: the call rejects at once with the predicate's error.
   * Default: none. Also spelt `retryResult`.
   */
  readonly handleResult?: (result: unknown) => boolean;
  /** The older name of `handle` (the same option; give one of the two). Default: every error. */
  readonly retryOn?: ErrorMatcher | readonly ErrorMatcher[];
  /** The older name of `exclude` (the same option; give one of the two). Default: none. */
  readonly failOn?: ErrorMatcher | readonly ErrorMatcher[];
  /** The older name of `handleResult` (the same option; give one of the two). Default: none. */
  readonly retryResult?: (result: unknown) => boolean;
  /**
   * A delay hint from the failure itself (e.g. a `Retry-After` header), in milliseconds; when it
   * returns a number, that delay replaces the backoff's for this retry (jitter is not applied).
   * Return `undefined` to keep the backoff's delay. A hint function that throws or returns
   * something other than a delay (NaN, negative, not a number) never replaces the call's failure:
   * its error goes to the error reporter (`setErrorReporter`) and the backoff's delay is used. A delay (from here or the backoff) that is at
   * least what is left of an enclosing `Timeout`'s deadline ends the retries at once: the last
   * failure is returned or rethrown unchanged (`giveUp` with reason `'deadline'`).
   */
  readonly retryAfter?: (outcome: RetryOutcome, attempt: number) => number | undefined;
  /** Time source, for tests. Default {@link systemClock}. */
  readonly clock?: Clock;
  /** Uniform random numbers in [0, 1) for jitter, for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/** Events of a {@link RetryPolicy}. */
export interface RetryEvents {
  /** An attempt failed and a retry is scheduled after `delay` ms. `attempt` is the failed one. */
  readonly retry: { readonly attempt: number; readonly delay: number; readonly outcome: RetryOutcome };
  /**
   * No more retries: the last failure is returned or rethrown, unchanged. `reason` says why:
   * `'exhausted'` — the retries ran out; `'deadline'` — the next delay (`delay`, ms) would end at or
   * after the deadline of an enclosing {@link Timeout}, so the retry was not made (the call fails
   * now, with its own failure, rather than with a `TimeoutError` later).
   */
  readonly giveUp: {
    readonly attempts: number;
    readonly outcome: RetryOutcome;
    readonly reason: 'exhausted' | 'deadline';
    /** For `'deadline'`: the delay that did not fit, in ms. */
    readonly delay?: number;
  };
  /** A call succeeded, after `attempts` attempts. */
  readonly success: { readonly attempts: number };
}

const OWNER = 'RetryPolicy';
const KNOWN = [
  'maxRetries',
  'backoff',
  'jitter',
  'handle',
  'exclude',
  'handleResult',
  'retryOn',
  'failOn',
  'retryResult',
  'retryAfter',
  'clock',
  'random',
] as const;
const ALIASES = { handle: 'retryOn', exclude: 'failOn', handleResult: 'retryResult' } as const;
const DEFAULT_BACKOFF = exponential({ initial: 100, factor: 2 });

/**
 * Retries a failing call (go-resiliency's `retrier`).
 *
 * - Attempts are `1 + maxRetries`; the delays come from `backoff`, optionally jittered.
 * - Which failures are retried: every error by default, or an allow-list (`handle`, or `retryOn`)
 *   or deny-list (`exclude`, or `failOn`); results too, with `handleResult` (or `retryResult`).
 * - The caller's own cancellation is never retried, and an abort during a backoff delay rejects at
 *   once with the caller's reason, leaving no timer behind.
 * - When retries run out, the last error is rethrown unchanged (same object).
 * - Deadline-aware: inside a {@link Timeout} (`pipeline(timeout, retry)`), a retry whose delay
 *   (backoff or `retryAfter`) is at least what is left of the deadline is not made: the call fails
 *   at once with its last failure, unchanged, so an outer {@link Fallback} can answer, instead of
 *   sleeping into a `TimeoutError`. Each enclosing Timeout's time left is read on that Timeout's
 *   own clock; only durations (ms) are compared with the delay. `giveUp` then has reason
 *   `'deadline'`.
 */
export class RetryPolicy extends Stage<never, RetryEvents> {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** The jitter factor, 0..1. */
  readonly jitter: number;
  private readonly _backoff: Backoff;
  private readonly _repeatLast: boolean;
  /** What is retried; undefined: every error, no result. */
  private readonly _classifier: Classifier | undefined;
  /** The result predicate (read on every success, so kept at hand). */
  private readonly _handleResult: ((result: unknown) => boolean) | undefined;
  private readonly _retryAfter: RetryOptions['retryAfter'];
  private readonly _clock: Clock;
  private readonly _random: () => number;

  /** @throws TypeError or RangeError naming the option, for any invalid option. */
  constructor(options: RetryOptions = {}) {
    super();
    checkOptions(OWNER, options, KNOWN);
    // Only an absent (undefined) backoff means the default; null is a TypeError below.
    const backoff = options.backoff === undefined ? DEFAULT_BACKOFF : options.backoff;
    if (
      typeof backoff !== 'object' ||
      backoff === null ||
      typeof (backoff as Backoff)[Symbol.iterator] !== 'function'
    ) {
      throw new TypeError(
        `${OWNER}: backoff must be an array of delays (ms) or an iterable of them, got ${showValue(backoff)}`,
      );
    }
    if (Array.isArray(backoff)) {
      backoff.forEach((d, i) => {
        checkDelay(d, `backoff[${i}]`);
      });
    }
    this._backoff = backoff;
    const defaultRetries = Array.isArray(backoff) ? backoff.length : 3;
    this.maxRetries = numberOption(OWNER, 'maxRetries', options.maxRetries, defaultRetries, {
      min: 0,
      integer: true,
      allowInfinity: true,
    });
    this._repeatLast = options.maxRetries !== undefined;
    this.jitter = numberOption(OWNER, 'jitter', options.jitter, 0, { min: 0, max: 1 });
    this._classifier = classifier(OWNER, options, ALIASES);
    this._handleResult = this._classifier?.handleResult;
    this._retryAfter = functionOption(OWNER, 'retryAfter', options.retryAfter);
    this._clock = clockOption(OWNER, options.clock) ?? systemClock;
    this._random = functionOption<() => number>(OWNER, 'random', options.random) ?? Math.random;
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    const attemptContext = context.attempt === 1 ? context : context.withAttempt(1);
    let first: Promise<unknown>;
    try {
      first = proceed(attemptContext, next);
    } catch (error) {
      first = Promise.reject(error);
    }
    if (this._handleResult !== undefined) {
      return new Promise((resolve, reject) => {
        void this._attempts(context, next, 1, first, new Backoffs(), undefined, resolve, reject);
      });
    }
    // Fast path: a first attempt that succeeds costs one reaction with a shared handler (no async
    // function, no per-call closure). Every path settles in the same microtask as an `async` loop
    // would, so the timing seen by callers and enclosing policies is unchanged.
    return first.then(this._onFirstSuccess, (error: unknown) => {
      if (!acts(this._classifier, context, error)) throw error;
      const backoffs = new Backoffs();
      const delay = this._delayAfter(1, { kind: 'error', error }, backoffs, context);
      if (delay === undefined) throw error;
      // A thenable rather than a promise: the loop settles the returned promise itself, without
      // the two extra ticks of adopting a promise.
      const resume = {
        // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, see above.
        then: (resolve: (value: unknown) => void, reject: (error: unknown) => void): void => {
          void this._attempts(context, next, 2, undefined, backoffs, delay, resolve, reject);
        },
      };
      return resume as unknown as PromiseLike<unknown>;
    });
  }

  private readonly _onFirstSuccess = (result: unknown): unknown => {
    if (this._events.listening('success')) this._events.emit('success', { attempts: 1 });
    return result;
  };

  /**
   * The attempts from `attempt` on, settling through `resolve`/`reject`: `first` is that attempt's
   * promise when already running; else the attempt starts after `delay` ms.
   */
  private async _attempts(
    context: Context,
    next: number,
    attempt: number,
    first: Promise<unknown> | undefined,
    backoffs: Backoffs,
    delay: number | undefined,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): Promise<void> {
    try {
      if (delay !== undefined) await sleep(delay, this._clock, context.abortable ? context.signal : undefined);
      for (; ; attempt++) {
        let outcome: RetryOutcome | undefined;
        let result: unknown;
        try {
          const running = first ?? proceed(context.withAttempt(attempt), next);
          first = undefined;
          result = await running;
        } catch (error) {
          // The caller's (or an enclosing timeout's) cancellation is final.
          if (!acts(this._classifier, context, error)) {
            reject(error);
            return;
          }
          outcome = { kind: 'error', error };
        }
        if (outcome === undefined) {
          // Outside the try: a classifier that throws is a bug to report, not a failure to retry.
          if (this._handleResult === undefined || !this._handleResult(result)) {
            if (this._events.listening('success')) this._events.emit('success', { attempts: attempt });
            resolve(result);
            return;
          }
          outcome = { kind: 'result', result };
        }
        const wait = this._delayAfter(attempt, outcome, backoffs, context);
        if (wait === undefined) {
          if (outcome.kind === 'error') reject(outcome.error);
          else resolve(outcome.result);
          return;
        }
        await sleep(wait, this._clock, context.abortable ? context.signal : undefined);
      }
    } catch (error) {
      reject(error);
    }
  }

  /**
   * The `retryAfter` hint for this retry, or `undefined` to keep the backoff's delay. A hint
   * function that throws or returns something that is not a delay (NaN, negative, not a number)
   * is a bug of its own: it must not replace the call's failure, so it is reported and the
   * backoff's delay is used.
   */
  private _hint(outcome: RetryOutcome, attempt: number): number | undefined {
    try {
      const hint = (this._retryAfter as NonNullable<RetryOptions['retryAfter']>)(outcome, attempt);
      return hint === undefined ? undefined : checkDelay(hint, 'the delay from retryAfter');
    } catch (error) {
      reportError(error, `${OWNER} retryAfter`);
      return undefined;
    }
  }

  /**
   * The delay before retrying after `attempt` failed with `outcome` (emitting `retry`), or
   * undefined when the retries ran out (emitting `giveUp`).
   */
  private _delayAfter(
    attempt: number,
    outcome: RetryOutcome,
    backoffs: Backoffs,
    context: Context,
  ): number | undefined {
    let delay: number | undefined;
    if (attempt <= this.maxRetries) {
      try {
        backoffs.delays ??= this._backoff[Symbol.iterator]();
        const step = backoffs.delays.next();
        if (!step.done) delay = backoffs.lastDelay = checkDelay(step.value, 'a delay from backoff');
        else if (this._repeatLast) delay = backoffs.lastDelay;
      } catch (error) {
        // A custom backoff that throws or yields a bad delay (see `Backoff`): no more retries, the
        // call fails with its own last failure (not replaced), and the mistake is reported.
        reportError(error, `${OWNER} backoff`);
        delay = undefined;
      }
    }
    if (delay === undefined) {
      if (this._events.listening('giveUp')) {
        this._events.emit('giveUp', { attempts: attempt, outcome, reason: 'exhausted' });
      }
      return undefined;
    }
    const hint = this._retryAfter === undefined ? undefined : this._hint(outcome, attempt);
    if (hint !== undefined) delay = Math.min(hint, MAX_TIMER_DELAY);
    else if (this.jitter > 0)
      delay = Math.min(delay * (1 - this.jitter + 2 * this.jitter * this._random()), MAX_TIMER_DELAY);
    // A wait that would end at or after an enclosing Timeout's deadline is not made: the call fails
    // now with its own failure (an outer Fallback can answer) instead of a TimeoutError later.
    if (delay >= context.remaining()) {
      if (this._events.listening('giveUp')) {
        this._events.emit('giveUp', { attempts: attempt, outcome, reason: 'deadline', delay });
      }
      return undefined;
    }
    if (this._events.listening('retry')) this._events.emit('retry', { attempt, delay, outcome });
    return delay;
  }
}

/** Where a call is in its backoff sequence (created on the first failure only). */
class Backoffs {
  delays: Iterator<number> | undefined = undefined;
  lastDelay = 0;
}

function checkDelay(value: unknown, what: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${OWNER}: ${what} must be a number of milliseconds, got ${showValue(value)}`);
  }
  if (!(value >= 0) || value === Number.POSITIVE_INFINITY) {
    throw new RangeError(`${OWNER}: ${what} must be a finite number of milliseconds >= 0, got ${showValue(value)}`);
  }
  return Math.min(value, MAX_TIMER_DELAY);
}
