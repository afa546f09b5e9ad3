import { checkNumber, checkOptions, functionOption } from '../core/validate.js';

/**
 * A backoff is any iterable of delays in milliseconds: a plain array (go-resiliency's model:
 * its length is the number of retries), a generator, or one of the helpers below, which are
 * infinite and leave the count to `maxRetries`. Each execution iterates it afresh, so stateful
 * backoffs (decorrelated jitter) never share state between calls.
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
  checkOptions('exponential()', options, ['initial', 'factor', 'max']);
  const initial = checkNumber('exponential()', 'initial', options.initial ?? 100, { min: 0, max: CEILING });
  const factor = checkNumber('exponential()', 'factor', options.factor ?? 2, { min: 1 });
  const max = checkNumber('exponential()', 'max', options.max ?? CEILING, { min: 0, max: CEILING });
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
  /** Source of uniform randoms in [0, 1), for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * Exponentially growing delays with decorrelated jitter, after the algorithm of Polly v8's
 * `DecorrelatedJitterBackoffV2`: delays spread smoothly around an exponential curve without the
 * clustering of plain "full jitter", and never exceed `max`.
 */
export function decorrelatedJitter(options: DecorrelatedJitterOptions = {}): Backoff {
  checkOptions('decorrelatedJitter()', options, ['median', 'max', 'random']);
  const median = checkNumber('decorrelatedJitter()', 'median', options.median ?? 100, { min: 0, max: CEILING });
  const max = checkNumber('decorrelatedJitter()', 'max', options.max ?? CEILING, { min: 0, max: CEILING });
  const random = functionOption<() => number>('decorrelatedJitter()', 'random', options.random) ?? Math.random;
  // Constants of the published formula: pFactor tunes the curve's rise, the scaling factor makes
  // the first delay's median equal to `median`.
  const P_FACTOR = 4;
  const RP_SCALING = 1 / 1.4;
  return {
    *[Symbol.iterator]() {
      let previous = 0;
      for (let attempt = 0; ; attempt++) {
        const t = attempt + random();
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
