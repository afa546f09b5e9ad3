import { booleanOption, checkNumber, checkOptions, numberOption } from '../core/validate.js';
import type { RollingWindow } from './RollingWindow.js';

/**
 * Hystrix's rule (the default): trip when the rolling window holds at least `volumeThreshold`
 * counted calls and `floor(100 * errors / requests) >= errorThresholdPercentage`. The rule carries
 * its thresholds when given to {@link hystrix}; a threshold it leaves out comes from the breaker's
 * option of the same name (and its default).
 */
export interface HystrixRule {
  readonly kind: 'hystrix';
  /** Error percentage (0..100) that trips the breaker. Absent: the breaker's option (default 50). */
  readonly errorThresholdPercentage?: number;
  /** Counted calls the window must hold before it may trip. Absent: the breaker's option (default 20). */
  readonly volumeThreshold?: number;
}

/**
 * go-resiliency's `breaker` rule: each error first restarts the count if the previous error is
 * older than `timeout`, then adds one; the breaker opens when the count reaches `errorThreshold`.
 * Successes in the closed state do not reset the count. Open for `timeout` ms (unless the breaker's
 * `sleepWindow` is given), then half-open: `successThreshold` trial successes close it, any error
 * re-opens it.
 */
export interface GoResiliencyRule {
  readonly kind: 'go-resiliency';
  /** Errors (each within `timeout` ms of the previous one) that open the breaker. Integer >= 1. */
  readonly errorThreshold: number;
  /** Trial successes in half-open that close the breaker. Integer >= 1. */
  readonly successThreshold: number;
  /** Milliseconds after which the error count starts over; also the default sleep window. > 0. */
  readonly timeout: number;
}

/** The classic rule: `failures` consecutive errors open the breaker; any success resets the count. */
export interface ConsecutiveFailuresRule {
  readonly kind: 'consecutive';
  /** Consecutive errors that open the breaker. Integer >= 1. */
  readonly failures: number;
}

/**
 * resilience4j's slow-call rule, on the rolling window: a call that takes `slowCallDuration` ms or
 * more is slow. The breaker trips when the window holds at least `volumeThreshold` counted calls
 * and either `floor(100 * errors / requests) >= errorThresholdPercentage` or
 * `floor(100 * slow / requests) >= slowCallRateThreshold`. In half-open a slow trial re-opens.
 */
export interface SlowCallRule {
  readonly kind: 'slow-calls';
  /** Calls at least this long, in milliseconds, are slow. > 0. */
  readonly slowCallDuration: number;
  /** Percentage (0..100) of slow calls that trips the breaker. Default 100. */
  readonly slowCallRateThreshold: number;
  /** Count a slow success as a failure (kind `'slow'`) too. Default false. */
  readonly slowCallIsFailure: boolean;
  /** Error percentage (0..100) that trips the breaker. Absent: the breaker's option (default 50). */
  readonly errorThresholdPercentage?: number;
  /** Counted calls the window must hold before it may trip. Absent: the breaker's option (default 20). */
  readonly volumeThreshold?: number;
}

/** Selects how a circuit breaker decides to trip; build one with the helpers below. */
export type CircuitBreakerRule = HystrixRule | GoResiliencyRule | ConsecutiveFailuresRule | SlowCallRule;

/** Parameters of {@link hystrix} (and the error-percentage part of {@link slowCalls}). Every one is optional. */
export interface HystrixOptions {
  /** Error percentage (0..100) of the window that trips the breaker. Default: the breaker's option (50). */
  readonly errorThresholdPercentage?: number;
  /** Counted calls (integer >= 0) the window must hold before it may trip. Default: the breaker's option (20). */
  readonly volumeThreshold?: number;
}

const HYSTRIX_KEYS = ['errorThresholdPercentage', 'volumeThreshold'] as const;

/**
 * Hystrix's error-percentage rule (the default). It carries the thresholds given here; one left
 * out is the breaker's option of the same name (so `hystrix()` is the breaker's top-level options).
 * @throws TypeError / RangeError for an unknown parameter or a threshold out of range.
 */
export function hystrix(options?: HystrixOptions): HystrixRule {
  const owner = 'hystrix()';
  checkOptions(owner, options, HYSTRIX_KEYS);
  return { kind: 'hystrix', ...thresholds(owner, options) };
}

/** The thresholds given in `options`, checked; absent ones are left out (not set to undefined). */
function thresholds(owner: string, options: HystrixOptions | undefined): HystrixOptions {
  const out: { errorThresholdPercentage?: number; volumeThreshold?: number } = {};
  if (options?.errorThresholdPercentage !== undefined) {
    out.errorThresholdPercentage = checkNumber(owner, 'errorThresholdPercentage', options.errorThresholdPercentage, {
      min: 0,
      max: 100,
    });
  }
  if (options?.volumeThreshold !== undefined) {
    out.volumeThreshold = checkNumber(owner, 'volumeThreshold', options.volumeThreshold, { min: 0, integer: true });
  }
  return out;
}

/** Parameters of {@link goResiliency}. */
export interface GoResiliencyOptions {
  /** Errors that open the breaker. Integer >= 1. Required. */
  readonly errorThreshold: number;
  /** Trial successes that close it. Integer >= 1. Required. */
  readonly successThreshold: number;
  /** In milliseconds: error-count expiry and open duration. > 0. Required. */
  readonly timeout: number;
}

/** go-resiliency's `breaker.New(errorThreshold, successThreshold, timeout)` as a rule. */
export function goResiliency(options: GoResiliencyOptions): GoResiliencyRule {
  const owner = 'goResiliency()';
  checkOptions(owner, options, ['errorThreshold', 'successThreshold', 'timeout']);
  if (options === undefined) throw new TypeError(`${owner}: options are required`);
  return {
    kind: 'go-resiliency',
    errorThreshold: checkNumber(owner, 'errorThreshold', options.errorThreshold, { min: 1, integer: true }),
    successThreshold: checkNumber(owner, 'successThreshold', options.successThreshold, { min: 1, integer: true }),
    timeout: checkNumber(owner, 'timeout', options.timeout, { min: 0, minExclusive: true }),
  };
}

/** Opens after `failures` consecutive errors (integer >= 1). */
export function consecutiveFailures(failures: number): ConsecutiveFailuresRule {
  return {
    kind: 'consecutive',
    failures: checkNumber('consecutiveFailures()', 'failures', failures, { min: 1, integer: true }),
  };
}

/** Parameters of {@link slowCalls}; the error-percentage thresholds as in {@link hystrix}. */
export interface SlowCallOptions extends HystrixOptions {
  /** Calls at least this long, in milliseconds, are slow. > 0. Required. */
  readonly slowCallDuration: number;
  /** Percentage (0..100) of slow calls in the window that trips the breaker. Default 100. */
  readonly slowCallRateThreshold?: number;
  /** Also count a slow success as a failure (kind `'slow'`). Default false. */
  readonly slowCallIsFailure?: boolean;
}

/** resilience4j's slow-call rule, combined with the Hystrix error-percentage test. */
export function slowCalls(options: SlowCallOptions): SlowCallRule {
  const owner = 'slowCalls()';
  checkOptions(owner, options, ['slowCallDuration', 'slowCallRateThreshold', 'slowCallIsFailure', ...HYSTRIX_KEYS]);
  if (options === undefined) throw new TypeError(`${owner}: options are required`);
  const isFailure = booleanOption(owner, 'slowCallIsFailure', options.slowCallIsFailure, false);
  return {
    kind: 'slow-calls',
    slowCallDuration: checkNumber(owner, 'slowCallDuration', options.slowCallDuration, { min: 0, minExclusive: true }),
    // Only an absent (undefined) threshold means the default; null is a TypeError.
    slowCallRateThreshold: numberOption(owner, 'slowCallRateThreshold', options.slowCallRateThreshold, 100, {
      min: 0,
      max: 100,
    }),
    slowCallIsFailure: isFailure,
    ...thresholds(owner, options),
  };
}

/** @internal Validates a rule given as a plain object (the helpers' output passes unchanged). */
export function normaliseRule(rule: CircuitBreakerRule): CircuitBreakerRule {
  const { kind, ...rest } = rule;
  switch (kind) {
    case 'hystrix':
      return Object.keys(rest).length === 0 ? rule : hystrix(rest as HystrixOptions);
    case 'go-resiliency':
      return goResiliency(rest as GoResiliencyOptions);
    case 'consecutive':
      checkOptions('consecutiveFailures()', rest, ['failures']);
      return consecutiveFailures((rest as { failures: number }).failures);
    case 'slow-calls':
      return slowCalls(rest as SlowCallOptions);
  }
}

/** @internal The live form of a rule: decides, as each counted call completes while closed, whether to open. */
export interface TripEvaluator {
  /** Called after the outcome is in `window`. `failed`: the call counts as an error. */
  tripAfter(failed: boolean, window: RollingWindow, now: number): boolean;
  /** Forgets the rule's own state (on closing). */
  reset(): void;
}

/**
 * @internal A rule with every threshold it trips on: the error-percentage rules' thresholds are
 * filled in from the breaker's options where the rule left them out.
 */
export type ResolvedRule =
  | (HystrixRule & { readonly errorThresholdPercentage: number; readonly volumeThreshold: number })
  | (SlowCallRule & { readonly errorThresholdPercentage: number; readonly volumeThreshold: number })
  | GoResiliencyRule
  | ConsecutiveFailuresRule;

/** @internal Builds the evaluator (the rule's live form, Polly's "circuit behavior") for `rule`. */
export function evaluator(rule: ResolvedRule): TripEvaluator {
  switch (rule.kind) {
    case 'hystrix':
      return new ErrorPercentage(rule.errorThresholdPercentage, rule.volumeThreshold);
    case 'slow-calls':
      return new SlowCallRate(rule.errorThresholdPercentage, rule.volumeThreshold, rule.slowCallRateThreshold);
    case 'go-resiliency':
      return new ErrorCount(rule.errorThreshold, rule.timeout);
    case 'consecutive':
      return new Consecutive(rule.failures);
  }
}

class ErrorPercentage implements TripEvaluator {
  constructor(
    private readonly percentage: number,
    private readonly volume: number,
  ) {}
  tripAfter(failed: boolean, window: RollingWindow): boolean {
    // The healthy case: a success in a window without errors cannot trip (unless the threshold is 0).
    if (!failed && this.percentage > 0 && window.errors === 0) return false;
    const requests = window.requests;
    return requests >= this.volume && requests > 0 && Math.floor((100 * window.errors) / requests) >= this.percentage;
  }
  reset(): void {}
}

class SlowCallRate implements TripEvaluator {
  constructor(
    private readonly percentage: number,
    private readonly volume: number,
    private readonly slowPercentage: number,
  ) {}
  tripAfter(_failed: boolean, window: RollingWindow): boolean {
    const requests = window.requests;
    if (requests < this.volume || requests === 0) return false;
    return (
      Math.floor((100 * window.errors) / requests) >= this.percentage ||
      Math.floor((100 * window.slow) / requests) >= this.slowPercentage
    );
  }
  reset(): void {}
}

class ErrorCount implements TripEvaluator {
  private count = 0;
  private lastError = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly threshold: number,
    private readonly timeout: number,
  ) {}
  tripAfter(failed: boolean, _window: RollingWindow, now: number): boolean {
    if (!failed) return false;
    if (now - this.lastError > this.timeout) this.count = 0;
    this.count++;
    this.lastError = now;
    return this.count >= this.threshold;
  }
  reset(): void {
    this.count = 0;
    this.lastError = Number.NEGATIVE_INFINITY;
  }
}

class Consecutive implements TripEvaluator {
  private count = 0;
  constructor(private readonly failures: number) {}
  tripAfter(failed: boolean): boolean {
    if (!failed) {
      this.count = 0;
      return false;
    }
    return ++this.count >= this.failures;
  }
  reset(): void {
    this.count = 0;
  }
}
