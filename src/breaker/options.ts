import { type Classifier, type ClassifyOptions, classifier } from '../core/classify.js';
import { type Clock, monotonic, systemClock } from '../core/clock.js';
import type { ErrorMatcher } from '../core/match.js';
import { checkNumber, checkOptions, clockOption, numberOption, showValue } from '../core/validate.js';
import type { Backoff } from '../retry/backoff.js';
import { type CircuitBreakerRule, normaliseRule, type ResolvedRule } from './rules.js';
import type { CircuitState } from './StateMachine.js';

/**
 * The circuit breaker's options: their type, their defaults and all their validation, in one place
 * (as Polly's options classes). {@link resolveOptions} turns what the user gave into a frozen
 * {@link ResolvedOptions} that the controller and the policy read; {@link checkSnapshot} checks a
 * persisted snapshot the same way.
 */

/**
 * Options of {@link CircuitBreaker}. Every one is optional. What counts as a failure is said with
 * the options every policy shares ({@link ClassifyOptions}: `handle`, `exclude`, `handleResult`);
 * `failureResult` is the older name of `handleResult` here and stays (giving both is a TypeError).
 */
export interface CircuitBreakerOptions extends ClassifyOptions {
  /** Name, for metrics and messages. Default `'circuit-breaker'`. */
  readonly name?: string;
  /** Group, for metrics (Hystrix's command group). Default: the name. */
  readonly group?: string;
  /**
   * How the breaker decides to trip: {@link hystrix} (default), {@link goResiliency},
   * {@link consecutiveFailures} or {@link slowCalls}. A rule carries its own thresholds; the
   * error-percentage rules (`hystrix`, `slowCalls`) take those they leave out from
   * `errorThresholdPercentage` and `volumeThreshold` below (giving one in both places is a
   * TypeError).
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
   * Allow-list: only errors that match are counted as failures (timeouts and bulkhead rejections
   * from inner policies included: list `TimeoutError` and `BulkheadRejectedError` to count them);
   * any other error is treated as an `exclude`d one: not counted at all (an `ignored` event with
   * reason `'excluded'`) and rethrown unchanged. `exclude` wins over it. A predicate that throws
   * counts as "no match" and its error goes to the error reporter. Default: every error counts.
   */
  readonly handle?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Classifies a result as a failure (return `true`); the result is still returned. A classifier
   * that throws counts as `false` (the result is a success, a half-open trial's included, so its
   * trial slot is never held), the call still resolves with its result, and the classifier's error
   * goes to the error reporter (`setErrorReporter`). Default: no result is a failure. Also spelt
   * `failureResult`.
   */
  readonly handleResult?: (result: unknown) => boolean;
  /**
   * The older name of `handleResult` (the same option; give one of the two). Default: no result
   * is a failure.
   */
  readonly failureResult?: (result: unknown) => boolean;
  /**
   * Time source, for tests. Default {@link systemClock}. Its readings are made monotonic: a step
   * backwards (a `Date.now`-based clock after an NTP correction) counts as no time passing, so it
   * cannot keep the breaker open longer than its sleep window of forward time.
   */
  readonly clock?: Clock;
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

/** @internal Every option checked, with its default applied. Frozen. */
export interface ResolvedOptions {
  readonly name: string;
  readonly group: string;
  /** The rule as given (checked), as the breaker's `rule` property shows it. */
  readonly rule: CircuitBreakerRule;
  /** The rule with every threshold it trips on filled in. */
  readonly trip: ResolvedRule;
  /** Effective thresholds of the error-percentage test (the rule's own when it carries them). */
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly rollingWindow: number;
  readonly buckets: number;
  /** The sleep window as given (a number or a backoff) and its first delay. */
  readonly sleepWindow: number | Backoff;
  readonly firstSleep: number;
  readonly trialCalls: number;
  readonly trialSuccesses: number;
  /** What counts as a failure (`handle`, `exclude`, `handleResult`); undefined: every error, no result. */
  readonly classifier: Classifier | undefined;
  /** The clock, read as a monotonic, finite counter (see `monotonic`). */
  readonly now: () => number;
  /** Calls at least this long (ms) are slow; Infinity without the slow-call rule. */
  readonly slowCallDuration: number;
  /** A slow success counts as a failure (slow-call rule with `slowCallIsFailure`). */
  readonly slowCallIsFailure: boolean;
  /** Where a breaker names itself in reported errors: `CircuitBreaker "name"`. */
  readonly source: string;
}

/** @internal Names the breaker in messages. */
export const OWNER = 'CircuitBreaker';
/** The most buckets a rolling window may have. */
const MAX_BUCKETS = 1000;
/** The latest wall-clock time a `Date` can hold, in ms since the epoch. */
const MAX_DATE = 8.64e15;
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
  'handle',
  'exclude',
  'handleResult',
  'failureResult',
  'clock',
] as const;
const RULES = ['hystrix', 'go-resiliency', 'consecutive', 'slow-calls'];
const STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated', 'forced-closed'];

/**
 * @internal Checks `options` and applies the defaults.
 * @throws TypeError for an unknown option or an option of the wrong type; RangeError for a value
 *   out of range (each message names the option).
 */
export function resolveOptions(options: CircuitBreakerOptions = {}): ResolvedOptions {
  checkOptions(OWNER, options, KNOWN);
  const name = options.name === undefined ? 'circuit-breaker' : options.name;
  if (typeof name !== 'string') throw new TypeError(`${OWNER}: name must be a string, got ${showValue(name)}`);
  const group = options.group === undefined ? name : options.group;
  if (typeof group !== 'string') throw new TypeError(`${OWNER}: group must be a string, got ${showValue(group)}`);
  const given = options.rule === undefined ? { kind: 'hystrix' as const } : options.rule;
  if (typeof given !== 'object' || given === null || !RULES.includes((given as { kind?: string }).kind as string)) {
    throw new TypeError(
      `${OWNER}: rule must be hystrix(), goResiliency({...}), consecutiveFailures(n) or slowCalls({...}), got ${showValue(given)}`,
    );
  }
  const rule = normaliseRule(given);
  const percentage = numberOption(OWNER, 'errorThresholdPercentage', options.errorThresholdPercentage, 50, {
    min: 0,
    max: 100,
  });
  const volume = numberOption(OWNER, 'volumeThreshold', options.volumeThreshold, 20, { min: 0, integer: true });
  let trip: ResolvedRule;
  let errorThresholdPercentage = percentage;
  let volumeThreshold = volume;
  if (rule.kind === 'hystrix' || rule.kind === 'slow-calls') {
    errorThresholdPercentage = own(
      rule.errorThresholdPercentage,
      options.errorThresholdPercentage,
      percentage,
      'errorThresholdPercentage',
    );
    volumeThreshold = own(rule.volumeThreshold, options.volumeThreshold, volume, 'volumeThreshold');
    trip = { ...rule, errorThresholdPercentage, volumeThreshold };
  } else {
    trip = rule;
  }
  const rollingWindow = numberOption(OWNER, 'rollingWindow', options.rollingWindow, 10_000, {
    min: 0,
    minExclusive: true,
  });
  const buckets = numberOption(OWNER, 'buckets', options.buckets, 10, { min: 1, max: MAX_BUCKETS, integer: true });
  // Divisible, with an integer bucket count: each bucket is a whole number of ms, so at least 1 ms.
  if (rollingWindow % buckets !== 0) {
    throw new RangeError(
      `${OWNER}: rollingWindow (${rollingWindow} ms) must be divisible by buckets (${buckets}), so that each bucket is a whole number of milliseconds`,
    );
  }
  const goRule = rule.kind === 'go-resiliency' ? rule : undefined;
  const sleepWindow = options.sleepWindow === undefined ? (goRule?.timeout ?? 5000) : options.sleepWindow;
  const firstSleep = firstDelay(sleepWindow);
  const trialCalls = numberOption(OWNER, 'trialCalls', options.trialCalls, 1, {
    min: 1,
    integer: true,
    allowInfinity: true,
  });
  const trialSuccesses = numberOption(OWNER, 'trialSuccesses', options.trialSuccesses, goRule?.successThreshold ?? 1, {
    min: 1,
    integer: true,
  });
  const classify = classifier(OWNER, options, { handleResult: 'failureResult' }, `${OWNER} "${name}"`);
  // Only now() is used; it must return a finite number (read once here).
  const clock = clockOption(OWNER, options.clock, false) ?? systemClock;
  const slowRule = rule.kind === 'slow-calls' ? rule : undefined;
  return Object.freeze({
    name,
    group,
    rule,
    trip,
    errorThresholdPercentage,
    volumeThreshold,
    rollingWindow,
    buckets,
    sleepWindow,
    firstSleep,
    trialCalls,
    trialSuccesses,
    classifier: classify,
    now: monotonic(clock),
    slowCallDuration: slowRule?.slowCallDuration ?? Number.POSITIVE_INFINITY,
    slowCallIsFailure: slowRule?.slowCallIsFailure === true,
    source: `${OWNER} "${name}"`,
  });
}

/** A rule's own threshold, else the breaker's option; both given is a TypeError. */
function own(inRule: number | undefined, option: unknown, resolved: number, name: string): number {
  if (inRule === undefined) return resolved;
  if (option !== undefined) {
    throw new TypeError(`${OWNER}: ${name} is given both in the rule and as an option; give it in one place`);
  }
  return inRule;
}

/** The first delay of a sleep window (a number or a backoff), checked. */
function firstDelay(sleep: unknown): number {
  if (typeof sleep === 'number') return checkNumber(OWNER, 'sleepWindow', sleep, { min: 0, minExclusive: true });
  if (typeof sleep === 'object' && sleep !== null && typeof (sleep as Backoff)[Symbol.iterator] === 'function') {
    const first = (sleep as Backoff)[Symbol.iterator]().next();
    if (first.done === true) throw new RangeError(`${OWNER}: sleepWindow backoff yields no delay`);
    return checkNumber(OWNER, 'sleepWindow (first delay of the backoff)', first.value, {
      min: 0,
      minExclusive: true,
    });
  }
  throw new TypeError(`${OWNER}: sleepWindow must be a number of ms or a backoff, got ${showValue(sleep)}`);
}

/** @internal A snapshot's fields, checked. */
export interface CheckedSnapshot {
  readonly state: CircuitState;
  readonly retryAfter: number;
  readonly opens: number;
  readonly savedAt: number;
}

/**
 * @internal Checks every field of a {@link CircuitBreakerSnapshot} (see `CircuitBreaker.fromJSON`).
 * @throws TypeError for a non-object or a field of the wrong type; RangeError for a value out of range.
 */
export function checkSnapshot(snapshot: unknown): CheckedSnapshot {
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
  return {
    state: s.state as CircuitState,
    retryAfter: checkNumber(where, 'snapshot.retryAfter', s.retryAfter, { min: 0 }),
    opens: checkNumber(where, 'snapshot.opens', s.opens, { min: 0, integer: true }),
    savedAt: checkNumber(where, 'snapshot.savedAt', s.savedAt, { min: 0, max: MAX_DATE }),
  };
}
