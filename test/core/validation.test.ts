import { describe, expect, it } from 'vitest';
import {
  constant,
  decorrelatedJitter,
  exponential,
  Fallback,
  RetryPolicy,
  setErrorReporter,
  Timeout,
} from '../../src/index.js';

type Case = [label: string, make: () => unknown, error: typeof TypeError | typeof RangeError, message: RegExp];

const cases: Case[] = [
  ['retry: options not an object', () => new RetryPolicy(5 as never), TypeError, /options must be an object, got 5/],
  [
    'retry: unknown option with hint',
    () => new RetryPolicy({ maxRetry: 3 } as never),
    TypeError,
    /unknown option "maxRetry" \(did you mean "maxRetries"\?\)/,
  ],
  [
    'retry: maxRetries negative',
    () => new RetryPolicy({ maxRetries: -1 }),
    RangeError,
    /maxRetries must be >= 0, got -1/,
  ],
  [
    'retry: maxRetries fractional',
    () => new RetryPolicy({ maxRetries: 1.5 }),
    RangeError,
    /maxRetries must be an integer, got 1.5/,
  ],
  [
    'retry: maxRetries NaN',
    () => new RetryPolicy({ maxRetries: Number.NaN }),
    RangeError,
    /maxRetries must be a number, got NaN/,
  ],
  [
    'retry: maxRetries string',
    () => new RetryPolicy({ maxRetries: '3' as never }),
    TypeError,
    /maxRetries must be a number, got "3"/,
  ],
  [
    'retry: maxRetries -Infinity',
    () => new RetryPolicy({ maxRetries: -Infinity }),
    RangeError,
    /maxRetries must be finite, got -Infinity/,
  ],
  ['retry: jitter above 1', () => new RetryPolicy({ jitter: 1.5 }), RangeError, /jitter must be <= 1, got 1.5/],
  ['retry: jitter negative', () => new RetryPolicy({ jitter: -0.1 }), RangeError, /jitter must be >= 0, got -0.1/],
  [
    'retry: backoff a number',
    () => new RetryPolicy({ backoff: 100 as never }),
    TypeError,
    /backoff must be an array of delays/,
  ],
  [
    'retry: backoff with a negative delay',
    () => new RetryPolicy({ backoff: [10, -5] }),
    RangeError,
    /backoff\[1\] must be a finite number of milliseconds >= 0, got -5/,
  ],
  ['retry: backoff with NaN', () => new RetryPolicy({ backoff: [Number.NaN] }), RangeError, /backoff\[0\].*got NaN/],
  [
    'retry: retryOn not a matcher',
    () => new RetryPolicy({ retryOn: 42 as never }),
    TypeError,
    /retryOn must be an Error class, a predicate or an error code string, got 42/,
  ],
  [
    'retry: failOn list with a bad entry',
    () => new RetryPolicy({ failOn: [Error, null as never] }),
    TypeError,
    /failOn\[1\] must be .* got null/,
  ],
  [
    'retry: retryResult not a function',
    () => new RetryPolicy({ retryResult: true as never }),
    TypeError,
    /retryResult must be a function, got true/,
  ],
  [
    'retry: retryAfter not a function',
    () => new RetryPolicy({ retryAfter: 5 as never }),
    TypeError,
    /retryAfter must be a function, got 5/,
  ],
  [
    'retry: random not a function',
    () => new RetryPolicy({ random: 0.5 as never }),
    TypeError,
    /random must be a function/,
  ],
  ['timeout: zero', () => new Timeout(0), RangeError, /Timeout: timeout must be > 0, got 0/],
  ['timeout: negative', () => new Timeout(-5), RangeError, /timeout must be > 0, got -5/],
  ['timeout: NaN', () => new Timeout(Number.NaN), RangeError, /timeout must be a number, got NaN/],
  ['timeout: Infinity', () => new Timeout(Infinity), RangeError, /timeout must be finite, got Infinity/],
  ['timeout: beyond setTimeout', () => new Timeout(2 ** 31), RangeError, /timeout must be <= 2147483647/],
  ['timeout: a string', () => new Timeout('100' as never), TypeError, /options must be an object, got "100"/],
  ['timeout: missing', () => new Timeout(undefined as never), TypeError, /a timeout in milliseconds is required/],
  [
    'timeout: options without timeout',
    () => new Timeout({} as never),
    TypeError,
    /timeout must be a number, got undefined/,
  ],
  [
    'timeout: unknown option',
    () => new Timeout({ timeout: 5, coop: true } as never),
    TypeError,
    /unknown option "coop"/,
  ],
  [
    'timeout: cooperative not boolean',
    () => new Timeout({ timeout: 5, cooperative: 'yes' as never }),
    TypeError,
    /cooperative must be a boolean, got "yes"/,
  ],
  [
    'fallback: handler missing',
    () => new Fallback(undefined as never),
    TypeError,
    /handler must be a function, got undefined/,
  ],
  ['fallback: handler a value', () => new Fallback('x' as never), TypeError, /handler must be a function, got string/],
  [
    'fallback: unknown option',
    () => new Fallback(() => 1, { ignore: Error } as never),
    TypeError,
    /unknown option "ignore"/,
  ],
  [
    'fallback: exclude not a matcher',
    () => new Fallback(() => 1, { exclude: 3 as never }),
    TypeError,
    /exclude must be/,
  ],
  ['constant: negative', () => constant(-1), RangeError, /constant\(\): delay must be >= 0, got -1/],
  ['exponential: factor below 1', () => exponential({ factor: 0.5 }), RangeError, /factor must be >= 1, got 0.5/],
  [
    'exponential: unknown option',
    () => exponential({ initialDelay: 5 } as never),
    TypeError,
    /unknown option "initialDelay"/,
  ],
  ['exponential: max NaN', () => exponential({ max: Number.NaN }), RangeError, /max must be a number, got NaN/],
  [
    'decorrelatedJitter: negative median',
    () => decorrelatedJitter({ median: -3 }),
    RangeError,
    /median must be >= 0, got -3/,
  ],
];

describe('bad input is rejected at construction, naming the option and the value', () => {
  it.each(cases)('%s', (_label, make, error, message) => {
    let thrown: unknown;
    try {
      make();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error);
    expect((thrown as Error).message).toMatch(message);
  });

  it('accepts the edge values that are valid', () => {
    expect(new RetryPolicy({ maxRetries: 0, jitter: 0 }).maxRetries).toBe(0);
    expect(new RetryPolicy({ maxRetries: Infinity, jitter: 1 }).maxRetries).toBe(Infinity);
    expect(new Timeout(2 ** 31 - 1).timeout).toBe(2 ** 31 - 1);
    expect(new Timeout(0.5).timeout).toBe(0.5);
  });

  it('a bad delay from a custom backoff ends the retries: the original error surfaces, the RangeError is reported', async () => {
    const reported: [unknown, string][] = [];
    const previous = setErrorReporter((error, source) => reported.push([error, source]));
    try {
      const policy = new RetryPolicy({
        backoff: {
          *[Symbol.iterator]() {
            yield Number.NaN;
          },
        },
      });
      const original = new Error('x');
      await expect(policy.execute(() => Promise.reject(original))).rejects.toBe(original);
      expect(reported).toHaveLength(1);
      expect(String((reported[0]?.[0] as Error | undefined)?.message)).toMatch(/a delay from backoff .* got NaN/);
      expect(reported[0]?.[0]).toBeInstanceOf(RangeError);
      expect(reported[0]?.[1]).toBe('RetryPolicy backoff');
    } finally {
      setErrorReporter(previous);
    }
  });

  it('a wrong type in an array backoff is a TypeError; null options are TypeErrors', () => {
    expect(() => new RetryPolicy({ backoff: [true as never] })).toThrow(TypeError);
    expect(() => new RetryPolicy({ backoff: null as never })).toThrow(/backoff must be .* got null/);
    expect(() => exponential({ initial: null as never })).toThrow(
      /exponential\(\): initial must be a number, got null/,
    );
    expect(() => decorrelatedJitter({ max: null as never })).toThrow(/max must be a number, got null/);
  });
});
