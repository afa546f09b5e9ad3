import { checkNumber, checkOptions, functionOption, numberOption, showValue } from '../core/validate.js';

/**
 * A backoff is any iterable of delays in milliseconds: a plain array (go-resiliency's model:
 * its length is the number of retries), a generator, or one of the helpers below, which are
 * infinite and leave the count to `maxRetries`. Each execution iterates it afresh, so stateful
 * backoffs (decorrelated jitter) never share state between calls.
 *
 * The helpers check every option when they are called (a `TypeError` for a wrong type, `null`
 * included; a `RangeError` for a wrong value), and an array's delays are checked when a
 * `RetryPolicy` is built. A custom iterable can only be checked as it is read, at failure
 * time: if it throws, or yields something that is not a finite number of milliseconds >= 0, the
 * retry stops there and the call fails with its own last failure (the original error, unchanged,
 * never one about the backoff), and the backoff's mistake goes to the error reporter
 * (`setErrorReporter`).
 */
export type Backoff = Iterable<number>;

/** Shared by the helpers: the largest delay a helper yields, so nothing grows to Infinity/NaN. */
const CEILING = 2 ** 31 - 1;

/** `delay` ms before every retry (go-resiliency `ConstantBackoff`), forever. */
export function constant(delay: number): Backoff {
  checkNumber('constant()', 'delay', delay, { min: 0, max: CEILING });
  return {
    *[Symbol.iterator]() {
      for (;;) yield delay;
    },
  };
}

/** Options of {@link exponential}. */
export interface ExponentialOptions {
  /** The first delay, in milliseconds. Default 100. */
  readonly initial?: number;
  /** The growth factor (>= 1). Default 2. */
  readonly factor?: number;
  /** The largest delay, in milliseconds (go-resiliency's limited exponential). Default 2^31 - 1. */
  readonly max?: number;
}

/**
 * Delay `i` (0-based) is `min(initial * factor^i, max)` (go-resiliency `ExponentialBackoff` and
 * `LimitedExponentialBackoff`), forever. Never NaN or Infinity, however many retries.
 */
export function exponential(options: ExponentialOptions = {}): Backoff {
  const owner = 'exponential()';
  checkOptions(owner, options, ['initial', 'factor', 'max']);
  // Only an absent (undefined) option means its default; null is a TypeError.
  const initial = numberOption(owner, 'initial', options.initial, 100, { min: 0, max: CEILING });
  const factor = numberOption(owner, 'factor', options.factor, 2, { min: 1 });
  const max = numberOption(owner, 'max', options.max, CEILING, { min: 0, max: CEILING });
  return {
    *[Symbol.iterator]() {
      let delay = initial;
      for (;;) {
        // Once the cap is reached it is final: stop multiplying, so the value can't overflow.
        if (delay >= max) {
          for (;;) yield max;
        }
        yield delay;
        delay *= factor;
      }
    },
  };
}

/** Options of {@link decorrelatedJitter}. */
export interface DecorrelatedJitterOptions {
  /** The median of the first delay, in milliseconds. Default 100. */
  readonly median?: number;
  /** The largest delay, in milliseconds. Default 2^31 - 1. */
  readonly max?: number;
  /**
   * Source of uniform randoms in [0, 1), for tests. Default `Math.random`. A value outside [0, 1]
   * (or not a number) makes the backoff throw when it is read: the retry then stops with the call's
   * own failure and reports the mistake (see {@link Backoff}).
   */
  readonly random?: () => number;
}

/**
 * Exponentially growing delays with decorrelated jitter, after the algorithm of Polly v8's
 * `DecorrelatedJitterBackoffV2`: delays spread smoothly around an exponential curve without the
 * clustering of plain "full jitter", and never exceed `max`.
 */
export function decorrelatedJitter(options: DecorrelatedJitterOptions = {}): Backoff {
  const owner = 'decorrelatedJitter()';
  checkOptions(owner, options, ['median', 'max', 'random']);
  // Only an absent (undefined) option means its default; null is a TypeError.
  const median = numberOption(owner, 'median', options.median, 100, { min: 0, max: CEILING });
  const max = numberOption(owner, 'max', options.max, CEILING, { min: 0, max: CEILING });
  const random = functionOption<() => number>(owner, 'random', options.random) ?? Math.random;
  // Constants of the published formula: pFactor tunes the curve's rise, the scaling factor makes
  // the first delay's median equal to `median`.
  const P_FACTOR = 4;
  const RP_SCALING = 1 / 1.4;
  return {
    *[Symbol.iterator]() {
      let previous = 0;
      for (let attempt = 0; ; attempt++) {
        const r = random();
        // A broken random source must not turn into NaN delays (or a delay of the wrong sign).
        if (typeof r !== 'number' || !(r >= 0 && r <= 1)) {
          throw new RangeError(`${owner}: random() must return a number in [0, 1), got ${showValue(r)}`);
        }
        const t = attempt + r;
        const next = 2 ** t * Math.tanh(Math.sqrt(P_FACTOR * t));
        // Past ~2^1000 the formula overflows; from then on the cap is the answer.
        if (!Number.isFinite(next)) {
          for (;;) yield max;
        }
        const delay = Math.min((next - previous) * RP_SCALING * median, max);
        previous = next;
        yield Math.max(0, delay);
      }
    },
  };
}
