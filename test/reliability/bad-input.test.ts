/**
 * Bad input, table-driven: every public constructor and option given wrong types, NaN, negative,
 * non-integer, out-of-range values and misspelt option names. Each must throw at construction a
 * TypeError (wrong type, unknown option) or a RangeError (right type, wrong value) whose message
 * names the option and shows the value. Rows marked with a finding (docs/reliability.md) are
 * known gaps: they run as `it.fails` until fixed.
 *
 * Then functions handed to the policies that misbehave: sync throws, plain values, thenables,
 * throwing predicates and handlers — the call must settle, with the error that explains it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batcher/index.js';
import { CircuitBreaker, consecutiveFailures, goResiliency, slowCalls } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import {
  constant,
  decorrelatedJitter,
  exponential,
  Fallback,
  FallbackError,
  pipeline,
  RetryPolicy,
  setErrorReporter,
  Timeout,
} from '../../src/index.js';
import { createFetch } from '../../src/integrations/fetch/index.js';
import { Semaphore } from '../../src/semaphore/index.js';

type Ctor = typeof TypeError | typeof RangeError;
interface Row {
  /** What is being passed, for the test name. */
  readonly what: string;
  readonly make: () => unknown;
  readonly error: Ctor;
  /** Text the message must contain: the option's name and the value as shown. */
  readonly mentions: readonly string[];
  /** A known gap (docs/reliability.md): the row runs as it.fails. */
  readonly bug?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: bad input on purpose, past the types.
const bad = (value: unknown): any => value;
const T = TypeError;
const R = RangeError;

const rows: Row[] = [
  // RetryPolicy
  {
    what: 'RetryPolicy options "fast"',
    make: () => new RetryPolicy(bad('fast')),
    error: T,
    mentions: ['options', '"fast"'],
  },
  { what: 'RetryPolicy options null', make: () => new RetryPolicy(bad(null)), error: T, mentions: ['options', 'null'] },
  { what: 'RetryPolicy options []', make: () => new RetryPolicy(bad([])), error: T, mentions: ['options', 'array'] },
  {
    what: 'maxRetries "3"',
    make: () => new RetryPolicy({ maxRetries: bad('3') }),
    error: T,
    mentions: ['maxRetries', '"3"'],
  },
  {
    what: 'maxRetries NaN',
    make: () => new RetryPolicy({ maxRetries: Number.NaN }),
    error: R,
    mentions: ['maxRetries', 'NaN'],
  },
  { what: 'maxRetries -1', make: () => new RetryPolicy({ maxRetries: -1 }), error: R, mentions: ['maxRetries', '-1'] },
  {
    what: 'maxRetries 1.5',
    make: () => new RetryPolicy({ maxRetries: 1.5 }),
    error: R,
    mentions: ['maxRetries', '1.5'],
  },
  {
    what: 'maxRetries -Infinity',
    make: () => new RetryPolicy({ maxRetries: -Infinity }),
    error: R,
    mentions: ['maxRetries', '-Infinity'],
  },
  { what: 'jitter 2', make: () => new RetryPolicy({ jitter: 2 }), error: R, mentions: ['jitter', '2'] },
  { what: 'jitter -0.1', make: () => new RetryPolicy({ jitter: -0.1 }), error: R, mentions: ['jitter', '-0.1'] },
  { what: 'jitter NaN', make: () => new RetryPolicy({ jitter: Number.NaN }), error: R, mentions: ['jitter', 'NaN'] },
  {
    what: 'jitter "0.5"',
    make: () => new RetryPolicy({ jitter: bad('0.5') }),
    error: T,
    mentions: ['jitter', '"0.5"'],
  },
  { what: 'backoff 5', make: () => new RetryPolicy({ backoff: bad(5) }), error: T, mentions: ['backoff', '5'] },
  {
    what: 'backoff "123"',
    make: () => new RetryPolicy({ backoff: bad('123') }),
    error: T,
    mentions: ['backoff', '"123"'],
  },
  {
    what: 'backoff [10, -1]',
    make: () => new RetryPolicy({ backoff: [10, -1] }),
    error: R,
    mentions: ['backoff[1]', '-1'],
  },
  {
    what: 'backoff [NaN]',
    make: () => new RetryPolicy({ backoff: [Number.NaN] }),
    error: R,
    mentions: ['backoff[0]', 'NaN'],
  },
  {
    what: 'backoff [Infinity]',
    make: () => new RetryPolicy({ backoff: [Infinity] }),
    error: R,
    mentions: ['backoff[0]', 'Infinity'],
  },
  {
    // A wrong type, so a TypeError (issue 11 item 16: it was a RangeError).
    what: 'backoff ["5"]',
    make: () => new RetryPolicy({ backoff: bad(['5']) }),
    error: T,
    mentions: ['backoff[0]', '"5"'],
  },
  { what: 'retryOn 5', make: () => new RetryPolicy({ retryOn: bad(5) }), error: T, mentions: ['retryOn', '5'] },
  {
    what: 'retryOn [Error, 5]',
    make: () => new RetryPolicy({ retryOn: bad([Error, 5]) }),
    error: T,
    mentions: ['retryOn[1]', '5'],
  },
  { what: 'failOn {}', make: () => new RetryPolicy({ failOn: bad({}) }), error: T, mentions: ['failOn', 'object'] },
  {
    what: 'RetryPolicy handle 5',
    make: () => new RetryPolicy({ handle: bad(5) }),
    error: T,
    mentions: ['handle', '5'],
  },
  {
    what: 'RetryPolicy exclude [Error, 5]',
    make: () => new RetryPolicy({ exclude: bad([Error, 5]) }),
    error: T,
    mentions: ['exclude[1]', '5'],
  },
  {
    what: 'RetryPolicy handleResult "yes"',
    make: () => new RetryPolicy({ handleResult: bad('yes') }),
    error: T,
    mentions: ['handleResult', '"yes"'],
  },
  {
    what: 'RetryPolicy retryOn and handle both given',
    make: () => new RetryPolicy({ retryOn: Error, handle: Error }),
    error: T,
    mentions: ['retryOn', 'handle'],
  },
  {
    what: 'RetryPolicy failOn and exclude both given',
    make: () => new RetryPolicy({ failOn: Error, exclude: Error }),
    error: T,
    mentions: ['failOn', 'exclude'],
  },
  {
    what: 'RetryPolicy retryResult and handleResult both given',
    make: () => new RetryPolicy({ retryResult: () => true, handleResult: () => true }),
    error: T,
    mentions: ['retryResult', 'handleResult'],
  },
  {
    what: 'retryResult "yes"',
    make: () => new RetryPolicy({ retryResult: bad('yes') }),
    error: T,
    mentions: ['retryResult', '"yes"'],
  },
  {
    what: 'retryAfter 1',
    make: () => new RetryPolicy({ retryAfter: bad(1) }),
    error: T,
    mentions: ['retryAfter', '1'],
  },
  { what: 'random 0.5', make: () => new RetryPolicy({ random: bad(0.5) }), error: T, mentions: ['random', '0.5'] },
  {
    what: 'RetryPolicy clock 5',
    make: () => new RetryPolicy({ clock: bad(5) }),
    error: T,
    mentions: ['clock', '5'],
  },
  {
    what: 'typo maxRetry',
    make: () => new RetryPolicy(bad({ maxRetry: 3 })),
    error: T,
    mentions: ['"maxRetry"', 'did you mean "maxRetries"'],
  },
  {
    what: 'typo jiter',
    make: () => new RetryPolicy(bad({ jiter: 0.1 })),
    error: T,
    mentions: ['"jiter"', 'did you mean "jitter"'],
  },
  // backoff helpers
  { what: 'constant(-5)', make: () => constant(-5), error: R, mentions: ['delay', '-5'] },
  { what: 'constant(NaN)', make: () => constant(Number.NaN), error: R, mentions: ['delay', 'NaN'] },
  { what: 'constant("5")', make: () => constant(bad('5')), error: T, mentions: ['delay', '"5"'] },
  { what: 'exponential initial -1', make: () => exponential({ initial: -1 }), error: R, mentions: ['initial', '-1'] },
  { what: 'exponential factor 0.5', make: () => exponential({ factor: 0.5 }), error: R, mentions: ['factor', '0.5'] },
  {
    what: 'exponential factor Infinity',
    make: () => exponential({ factor: Infinity }),
    error: R,
    mentions: ['factor', 'Infinity'],
  },
  { what: 'exponential max NaN', make: () => exponential({ max: Number.NaN }), error: R, mentions: ['max', 'NaN'] },
  {
    what: 'exponential typo inital',
    make: () => exponential(bad({ inital: 5 })),
    error: T,
    mentions: ['"inital"', 'did you mean "initial"'],
  },
  {
    what: 'decorrelatedJitter median -1',
    make: () => decorrelatedJitter({ median: -1 }),
    error: R,
    mentions: ['median', '-1'],
  },
  {
    what: 'decorrelatedJitter random 5',
    make: () => decorrelatedJitter({ random: bad(5) }),
    error: T,
    mentions: ['random', '5'],
  },
  // Timeout
  { what: 'Timeout(0)', make: () => new Timeout(0), error: R, mentions: ['timeout', '0'] },
  { what: 'Timeout(-1)', make: () => new Timeout(-1), error: R, mentions: ['timeout', '-1'] },
  { what: 'Timeout(NaN)', make: () => new Timeout(Number.NaN), error: R, mentions: ['timeout', 'NaN'] },
  { what: 'Timeout(2^31)', make: () => new Timeout(2 ** 31), error: R, mentions: ['timeout', String(2 ** 31)] },
  { what: 'Timeout(Infinity)', make: () => new Timeout(Infinity), error: R, mentions: ['timeout', 'Infinity'] },
  { what: 'Timeout("100")', make: () => new Timeout(bad('100')), error: T, mentions: ['"100"'] },
  { what: 'Timeout(undefined)', make: () => new Timeout(bad(undefined)), error: T, mentions: ['timeout'] },
  { what: 'Timeout({})', make: () => new Timeout(bad({})), error: T, mentions: ['timeout', 'undefined'] },
  {
    what: 'Timeout cooperative "yes"',
    make: () => new Timeout({ timeout: 10, cooperative: bad('yes') }),
    error: T,
    mentions: ['cooperative', '"yes"'],
  },
  {
    what: 'Timeout clock 5',
    make: () => new Timeout({ timeout: 10, clock: bad(5) }),
    error: T,
    mentions: ['clock', '5'],
  },
  {
    what: 'Timeout typo timout',
    make: () => new Timeout(bad({ timout: 10 })),
    error: T,
    mentions: ['"timout"', 'did you mean "timeout"'],
  },
  // Fallback
  { what: 'Fallback(5)', make: () => new Fallback(bad(5)), error: T, mentions: ['handler', 'number'] },
  { what: 'Fallback(null)', make: () => new Fallback(bad(null)), error: T, mentions: ['handler', 'null'] },
  {
    what: 'Fallback handle 5',
    make: () => new Fallback(() => 1, { handle: bad(5) }),
    error: T,
    mentions: ['handle', '5'],
  },
  {
    what: 'Fallback handleResult true',
    make: () => new Fallback(() => 1, { handleResult: bad(true) }),
    error: T,
    mentions: ['handleResult', 'true'],
  },
  {
    what: 'Fallback typo exlude',
    make: () => new Fallback(() => 1, bad({ exlude: Error })),
    error: T,
    mentions: ['"exlude"', 'did you mean "exclude"'],
  },
  // CircuitBreaker
  {
    what: 'errorThresholdPercentage 101',
    make: () => new CircuitBreaker({ errorThresholdPercentage: 101 }),
    error: R,
    mentions: ['errorThresholdPercentage', '101'],
  },
  {
    what: 'errorThresholdPercentage -1',
    make: () => new CircuitBreaker({ errorThresholdPercentage: -1 }),
    error: R,
    mentions: ['errorThresholdPercentage', '-1'],
  },
  {
    what: 'errorThresholdPercentage "50"',
    make: () => new CircuitBreaker({ errorThresholdPercentage: bad('50') }),
    error: T,
    mentions: ['errorThresholdPercentage', '"50"'],
  },
  {
    what: 'volumeThreshold -1',
    make: () => new CircuitBreaker({ volumeThreshold: -1 }),
    error: R,
    mentions: ['volumeThreshold', '-1'],
  },
  {
    what: 'volumeThreshold 1.5',
    make: () => new CircuitBreaker({ volumeThreshold: 1.5 }),
    error: R,
    mentions: ['volumeThreshold', '1.5'],
  },
  {
    what: 'rollingWindow 0',
    make: () => new CircuitBreaker({ rollingWindow: 0 }),
    error: R,
    mentions: ['rollingWindow', '0'],
  },
  {
    what: 'rollingWindow Infinity',
    make: () => new CircuitBreaker({ rollingWindow: Infinity }),
    error: R,
    mentions: ['rollingWindow', 'Infinity'],
  },
  { what: 'buckets 0', make: () => new CircuitBreaker({ buckets: 0 }), error: R, mentions: ['buckets', '0'] },
  {
    what: 'buckets 3 of 10000',
    make: () => new CircuitBreaker({ buckets: 3 }),
    error: R,
    mentions: ['rollingWindow', '10000', 'buckets', '3'],
  },
  {
    what: 'sleepWindow 0',
    make: () => new CircuitBreaker({ sleepWindow: 0 }),
    error: R,
    mentions: ['sleepWindow', '0'],
  },
  {
    what: 'sleepWindow NaN',
    make: () => new CircuitBreaker({ sleepWindow: Number.NaN }),
    error: R,
    mentions: ['sleepWindow', 'NaN'],
  },
  {
    what: 'sleepWindow "5s"',
    make: () => new CircuitBreaker({ sleepWindow: bad('5s') }),
    error: T,
    mentions: ['sleepWindow', '"5s"'],
  },
  { what: 'sleepWindow []', make: () => new CircuitBreaker({ sleepWindow: [] }), error: R, mentions: ['sleepWindow'] },
  { what: 'trialCalls 0', make: () => new CircuitBreaker({ trialCalls: 0 }), error: R, mentions: ['trialCalls', '0'] },
  {
    what: 'trialSuccesses 1.5',
    make: () => new CircuitBreaker({ trialSuccesses: 1.5 }),
    error: R,
    mentions: ['trialSuccesses', '1.5'],
  },
  {
    what: 'rule "hystrix"',
    make: () => new CircuitBreaker({ rule: bad('hystrix') }),
    error: T,
    mentions: ['rule', '"hystrix"'],
  },
  { what: 'exclude 5', make: () => new CircuitBreaker({ exclude: bad(5) }), error: T, mentions: ['exclude', '5'] },
  {
    what: 'CircuitBreaker handle ["x", 5]',
    make: () => new CircuitBreaker({ handle: bad(['x', 5]) }),
    error: T,
    mentions: ['handle[1]', '5'],
  },
  {
    what: 'CircuitBreaker handleResult 5',
    make: () => new CircuitBreaker({ handleResult: bad(5) }),
    error: T,
    mentions: ['handleResult', '5'],
  },
  {
    what: 'CircuitBreaker failureResult and handleResult both given',
    make: () => new CircuitBreaker({ failureResult: () => true, handleResult: () => true }),
    error: T,
    mentions: ['failureResult', 'handleResult'],
  },
  {
    what: 'failureResult 5',
    make: () => new CircuitBreaker({ failureResult: bad(5) }),
    error: T,
    mentions: ['failureResult', '5'],
  },
  {
    what: 'CircuitBreaker clock 5',
    make: () => new CircuitBreaker({ clock: bad(5) }),
    error: T,
    mentions: ['clock', '5'],
  },
  {
    what: 'CircuitBreaker name 5',
    make: () => new CircuitBreaker({ name: bad(5) }),
    error: T,
    mentions: ['name', '5'],
  },
  {
    what: 'CircuitBreaker typo volumeTreshold',
    make: () => new CircuitBreaker(bad({ volumeTreshold: 5 })),
    error: T,
    mentions: ['"volumeTreshold"', 'did you mean "volumeThreshold"'],
  },
  {
    what: 'goResiliency errorThreshold 0',
    make: () => goResiliency({ errorThreshold: 0, successThreshold: 1, timeout: 1 }),
    error: R,
    mentions: ['errorThreshold', '0'],
  },
  {
    what: 'goResiliency timeout Infinity',
    make: () => goResiliency({ errorThreshold: 1, successThreshold: 1, timeout: Infinity }),
    error: R,
    mentions: ['timeout', 'Infinity'],
  },
  { what: 'consecutiveFailures(1.5)', make: () => consecutiveFailures(1.5), error: R, mentions: ['failures', '1.5'] },
  {
    what: 'slowCalls slowCallDuration 0',
    make: () => slowCalls({ slowCallDuration: 0 }),
    error: R,
    mentions: ['slowCallDuration', '0'],
  },
  {
    what: 'slowCalls slowCallIsFailure "y"',
    make: () => slowCalls({ slowCallDuration: 5, slowCallIsFailure: bad('y') }),
    error: T,
    mentions: ['slowCallIsFailure', '"y"'],
  },
  // Bulkhead
  { what: 'Bulkhead null', make: () => new Bulkhead(bad(null)), error: T, mentions: ['options', 'null'] },
  {
    what: 'maxConcurrent 0',
    make: () => new Bulkhead({ maxConcurrent: 0 }),
    error: R,
    mentions: ['maxConcurrent', '0'],
  },
  {
    what: 'maxConcurrent 1.5',
    make: () => new Bulkhead({ maxConcurrent: 1.5 }),
    error: R,
    mentions: ['maxConcurrent', '1.5'],
  },
  {
    what: 'maxConcurrent NaN',
    make: () => new Bulkhead({ maxConcurrent: Number.NaN }),
    error: R,
    mentions: ['maxConcurrent', 'NaN'],
  },
  {
    what: 'maxConcurrent "10"',
    make: () => new Bulkhead({ maxConcurrent: bad('10') }),
    error: T,
    mentions: ['maxConcurrent', '"10"'],
  },
  { what: 'maxQueue -1', make: () => new Bulkhead({ maxQueue: -1 }), error: R, mentions: ['maxQueue', '-1'] },
  {
    what: 'queueTimeout 0',
    make: () => new Bulkhead({ maxQueue: 1, queueTimeout: 0 }),
    error: R,
    mentions: ['queueTimeout', '0'],
  },
  {
    what: 'queueTimeout without a queue',
    make: () => new Bulkhead({ queueTimeout: 100 }),
    error: R,
    mentions: ['queueTimeout', '100', 'maxQueue'],
  },
  {
    what: 'Bulkhead clock 5',
    make: () => new Bulkhead({ clock: bad(5) }),
    error: T,
    mentions: ['clock', '5'],
  },
  {
    what: 'Bulkhead typo maxConcurent',
    make: () => new Bulkhead(bad({ maxConcurent: 5 })),
    error: T,
    mentions: ['"maxConcurent"', 'did you mean "maxConcurrent"'],
  },
  // Semaphore
  { what: 'Semaphore(0)', make: () => new Semaphore(0), error: R, mentions: ['permits', '0'] },
  { what: 'Semaphore(1.5)', make: () => new Semaphore(1.5), error: R, mentions: ['permits', '1.5'] },
  { what: 'Semaphore("2")', make: () => new Semaphore(bad('2')), error: T, mentions: ['permits', '"2"'] },
  { what: 'Semaphore(Infinity)', make: () => new Semaphore(Infinity), error: R, mentions: ['permits', 'Infinity'] },
  { what: 'Semaphore timeout 0', make: () => new Semaphore(1, { timeout: 0 }), error: R, mentions: ['timeout', '0'] },
  {
    what: 'Semaphore clock 5',
    make: () => new Semaphore(1, { clock: bad(5) }),
    error: T,
    mentions: ['clock', '5'],
  },
  {
    what: 'Semaphore typo timout',
    make: () => new Semaphore(1, bad({ timout: 5 })),
    error: T,
    mentions: ['"timout"', 'did you mean "timeout"'],
  },
  // Batcher
  { what: 'Batcher without run', make: () => new Batcher(bad({})), error: T, mentions: ['run'] },
  { what: 'Batcher run 5', make: () => new Batcher({ run: bad(5) }), error: T, mentions: ['run', '5'] },
  {
    what: 'Batcher window 0',
    make: () => new Batcher({ run: () => [], window: 0 }),
    error: R,
    mentions: ['window', '0'],
  },
  {
    what: 'Batcher window NaN',
    make: () => new Batcher({ run: () => [], window: Number.NaN }),
    error: R,
    mentions: ['window', 'NaN'],
  },
  {
    what: 'Batcher maxBatchSize 0',
    make: () => new Batcher({ run: () => [], maxBatchSize: 0 }),
    error: R,
    mentions: ['maxBatchSize', '0'],
  },
  { what: 'Batcher key 5', make: () => new Batcher({ run: () => [], key: bad(5) }), error: T, mentions: ['key', '5'] },
  {
    what: 'Batcher clock 5',
    make: () => new Batcher({ run: () => [], clock: bad(5) }),
    error: T,
    mentions: ['clock', '5'],
  },
  {
    what: 'Batcher typo maxBatch',
    make: () => new Batcher(bad({ run: () => [], maxBatch: 5 })),
    error: T,
    mentions: ['"maxBatch"', 'did you mean "maxBatchSize"'],
  },
  // pipeline
  { what: 'pipeline(5)', make: () => pipeline(bad(5)), error: T, mentions: ['argument 0', 'number'] },
  {
    what: 'pipeline(retry, {})',
    make: () => pipeline(new RetryPolicy(), bad({})),
    error: T,
    mentions: ['argument 1', 'Object'],
  },
  // staunch/fetch
  {
    what: 'createFetch typo polcy',
    make: () => createFetch(bad({ polcy: 1 })),
    error: T,
    mentions: ['"polcy"', 'did you mean "policy"'],
  },
  {
    what: 'createFetch retryMethods "GET"',
    make: () => createFetch({ retryMethods: bad('GET') }),
    error: T,
    mentions: ['retryMethods', '"GET"'],
  },
  {
    what: 'createFetch maxRetryAfter NaN',
    make: () => createFetch({ maxRetryAfter: Number.NaN }),
    error: R,
    mentions: ['maxRetryAfter', 'NaN'],
  },
  {
    what: 'createFetch failureStatus 5',
    make: () => createFetch({ failureStatus: bad(5) }),
    error: T,
    mentions: ['failureStatus', '5'],
  },
  {
    what: 'createFetch onFailureStatus "ignore"',
    make: () => createFetch({ onFailureStatus: bad('ignore') }),
    error: T,
    mentions: ['onFailureStatus', 'ignore'],
  },
];

function check(row: Row): void {
  let thrown: unknown;
  try {
    row.make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${row.what}: nothing thrown`).toBeInstanceOf(row.error);
  const message = (thrown as Error).message;
  for (const part of row.mentions) expect(message, row.what).toContain(part);
}

describe('bad options are rejected at construction, naming the option and the value', () => {
  const good = rows.filter((r) => r.bug === undefined);
  const known = rows.filter((r) => r.bug !== undefined);
  it.each(good.map((r) => [r.what, r] as const))('%s', (_, row) => check(row));
  // Known gaps: each turns red when fixed (then drop its `bug`).
  it.fails.each(known.map((r) => [`${r.what} (${r.bug})`, r] as const))('%s', (_, row) => check(row));
});

/**
 * Issue 11 item 16: `null` silently meant "default" for some options, and some wrong types got a
 * RangeError. Only `undefined` (or an absent option) means the default; `null`, or any value of the
 * wrong type, is a TypeError naming the option and the value. Every option of every constructor is
 * swept: the option lists are read from the constructors' own "known options" messages, so an
 * option added later is covered without touching this table.
 */
describe('null and wrong types are TypeErrors for every option (only undefined means the default)', () => {
  interface Owner {
    readonly name: string;
    /** Builds with `extra` merged into valid options. */
    readonly make: (extra: Record<string, unknown>) => unknown;
    /** Options that are booleans (true is valid there). */
    readonly booleans?: readonly string[];
    /** Options that take a string (a string is valid there). */
    readonly strings?: readonly string[];
  }
  const owners: Owner[] = [
    { name: 'RetryPolicy', make: (o) => new RetryPolicy(bad(o)) },
    { name: 'CircuitBreaker', make: (o) => new CircuitBreaker(bad(o)), strings: ['name', 'group'] },
    { name: 'Bulkhead', make: (o) => new Bulkhead(bad({ maxQueue: 1, ...o })) },
    { name: 'Timeout', make: (o) => new Timeout(bad({ timeout: 10, ...o })), booleans: ['cooperative'] },
    { name: 'Fallback', make: (o) => new Fallback(() => 1, bad(o)) },
    { name: 'Semaphore', make: (o) => new Semaphore(1, bad(o)) },
    { name: 'Batcher', make: (o) => new Batcher(bad({ run: () => [], ...o })) },
    { name: 'exponential()', make: (o) => exponential(bad(o)) },
    { name: 'decorrelatedJitter()', make: (o) => decorrelatedJitter(bad(o)) },
    {
      name: 'goResiliency()',
      make: (o) => goResiliency(bad({ errorThreshold: 1, successThreshold: 1, timeout: 1, ...o })),
    },
    {
      name: 'slowCalls()',
      make: (o) => slowCalls(bad({ slowCallDuration: 5, ...o })),
      booleans: ['slowCallIsFailure'],
    },
  ];

  /** The owner's option names, from its own unknown-option message. */
  function optionsOf(owner: Owner): string[] {
    let message = '';
    try {
      owner.make({ notAnOption__: 1 });
    } catch (error) {
      message = (error as Error).message;
    }
    const match = /known options: (.*)$/.exec(message);
    expect(match, `${owner.name}: no list of known options in ${JSON.stringify(message)}`).not.toBeNull();
    return (match?.[1] ?? '').split(', ');
  }

  function expectTypeError(make: () => unknown, mentions: readonly string[], what: string): void {
    let thrown: unknown;
    try {
      make();
    } catch (error) {
      thrown = error;
    }
    expect(thrown, `${what}: expected a TypeError`).toBeInstanceOf(TypeError);
    for (const part of mentions) expect((thrown as Error).message, what).toContain(part);
  }

  const cases = owners.flatMap((owner) =>
    optionsOf(owner).map((option) => [`${owner.name} ${option}`, owner, option] as const),
  );

  it('the sweep covers every option of every owner', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('%s: null', (what, owner, option) => {
    expectTypeError(() => owner.make({ [option]: null }), [option, 'null'], `${what}: null`);
  });

  it.each(cases)('%s: a symbol, true, {} (wrong types)', (what, owner, option) => {
    expectTypeError(() => owner.make({ [option]: Symbol('x') }), [option], `${what}: a symbol`);
    if (!owner.booleans?.includes(option)) {
      expectTypeError(() => owner.make({ [option]: true }), [option, 'true'], `${what}: true`);
    }
    if (!owner.strings?.includes(option)) {
      // An object that is neither a number, a function, a clock, a backoff nor a rule.
      expectTypeError(() => owner.make({ [option]: {} }), [option], `${what}: {}`);
    }
  });

  it.each([
    ['new RetryPolicy(null)', () => new RetryPolicy(bad(null))],
    ['new CircuitBreaker(null)', () => new CircuitBreaker(bad(null))],
    ['new Bulkhead(null)', () => new Bulkhead(bad(null))],
    ['new Timeout(null)', () => new Timeout(bad(null))],
    ['new Fallback(fn, null)', () => new Fallback(() => 1, bad(null))],
    ['new Semaphore(1, null)', () => new Semaphore(1, bad(null))],
    ['new Batcher(null)', () => new Batcher(bad(null))],
    ['exponential(null)', () => exponential(bad(null))],
    ['decorrelatedJitter(null)', () => decorrelatedJitter(bad(null))],
    ['goResiliency(null)', () => goResiliency(bad(null))],
    ['slowCalls(null)', () => slowCalls(bad(null))],
  ])('%s: options null', (what, make) => {
    expectTypeError(make, ['options', 'null'], what);
  });

  it.each([
    ['new Semaphore(null)', () => new Semaphore(bad(null)), 'permits'],
    ['new Fallback(null)', () => new Fallback(bad(null)), 'handler'],
    ['constant(null)', () => constant(bad(null)), 'delay'],
    ['consecutiveFailures(null)', () => consecutiveFailures(bad(null)), 'failures'],
  ])('%s: a required argument null', (what, make, name) => {
    expectTypeError(make, [name, 'null'], what);
  });

  it('per-call options: null is a TypeError (a rejection, never a throw)', async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.acquire(bad({ timeout: null }))).rejects.toThrow(TypeError);
    await expect(semaphore.acquire(bad({ signal: null }))).rejects.toThrow(TypeError);
    await expect(semaphore.acquire(bad(null))).rejects.toThrow(TypeError);
    const policy = new Bulkhead();
    await expect(policy.execute(() => 1, bad(null))).rejects.toThrow(TypeError);
    await expect(policy.execute(() => 1, bad({ signal: null }))).rejects.toThrow(TypeError);
  });

  it('a null backoff is a TypeError, not the default backoff', () => {
    expectTypeError(() => new RetryPolicy(bad({ backoff: null })), ['backoff', 'null'], 'backoff null');
  });
});

/**
 * Issue 11 item 16: a clock whose now() returns nothing made a Timeout spin a 1 ms timer for ever.
 * Every owner of a clock calls `now()` once at construction and rejects a reading that is not a
 * finite number (or a now() that throws) with a TypeError naming the clock.
 */
describe('a clock whose now() does not return a finite number is rejected at construction', () => {
  const clock = (now: () => unknown) => ({ now, setTimeout: () => 0, clearTimeout: () => {} });
  const owners: [string, (c: unknown) => unknown][] = [
    ['RetryPolicy', (c) => new RetryPolicy({ clock: bad(c) })],
    ['CircuitBreaker', (c) => new CircuitBreaker({ clock: bad(c) })],
    ['Bulkhead', (c) => new Bulkhead({ clock: bad(c) })],
    ['Timeout', (c) => new Timeout({ timeout: 10, clock: bad(c) })],
    ['Semaphore', (c) => new Semaphore(1, { clock: bad(c) })],
    ['Batcher', (c) => new Batcher({ run: () => [], clock: bad(c) })],
  ];
  const readings: [string, () => unknown, string][] = [
    ['nothing', () => undefined, 'undefined'],
    ['NaN', () => Number.NaN, 'NaN'],
    ['Infinity', () => Number.POSITIVE_INFINITY, 'Infinity'],
    ['a string', () => '5', '"5"'],
    ['a bigint', () => 5n, '5'],
  ];
  const cases = owners.flatMap(([owner, make]) =>
    readings.map(([what, now, shown]) => [`${owner}: now() returns ${what}`, make, now, shown] as const),
  );

  it.each(cases)('%s', (_, make, now, shown) => {
    let thrown: unknown;
    try {
      make(clock(now));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toContain('clock.now()');
    expect((thrown as Error).message).toContain(shown);
  });

  it.each(owners)('%s: now() that throws at construction', (_, make) => {
    const cause = new Error('no time');
    let thrown: unknown;
    try {
      make(
        clock(() => {
          throw cause;
        }),
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toContain('clock.now()');
    expect((thrown as Error).cause).toBe(cause);
  });

  it.each(owners)('%s: a clock reading finite numbers is accepted', (_, make) => {
    expect(() => make(clock(() => 0))).not.toThrow();
    expect(() => make(clock(() => -5))).not.toThrow();
  });

  it('a Timeout with a clock whose now() returns nothing is refused, so it cannot spin a 1 ms timer', () => {
    const timers: number[] = [];
    const spinning = {
      now: () => undefined,
      setTimeout: (_: () => void, ms: number) => timers.push(ms),
      clearTimeout: () => {},
    };
    expect(() => new Timeout({ timeout: 100, clock: bad(spinning) })).toThrow(TypeError);
    expect(timers).toEqual([]);
  });
});

describe('misbehaving functions and handlers: the call still settles, with an explaining error', () => {
  // Fake timers: the Timeouts' idle timers are run off at the end of each test.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    await vi.advanceTimersByTimeAsync(1_000);
  });
  const policies = () => [
    new RetryPolicy({ maxRetries: 0 }),
    new Timeout(1_000),
    new Bulkhead(),
    new CircuitBreaker(),
    new Fallback(() => 'fb', { exclude: () => true }),
    pipeline(new RetryPolicy({ maxRetries: 0 }), new CircuitBreaker(), new Bulkhead(), new Timeout(1_000)),
  ];

  it('execute(fn) with a fn that throws synchronously rejects (never throws) with that error', async () => {
    for (const p of policies()) {
      const boom = new Error('sync');
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = p.execute(() => {
          throw boom;
        });
      }).not.toThrow();
      await expect(promise).rejects.toBe(boom);
    }
  });

  it('a fn returning a plain value or a thenable resolves with it', async () => {
    for (const p of policies()) {
      await expect(p.execute(() => 42)).resolves.toBe(42);
      await expect(p.execute(() => undefined)).resolves.toBeUndefined();
      // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a native promise, on purpose.
      const thenable = { then: (ok: (v: string) => void) => ok('thenable') } as unknown as PromiseLike<string>;
      await expect(p.execute(() => thenable)).resolves.toBe('thenable');
    }
  });

  it('a thenable that throws in then() rejects with that error', async () => {
    const boom = new Error('then threw');
    for (const p of policies()) {
      await expect(
        p.execute(() => ({
          // biome-ignore lint/suspicious/noThenProperty: a hostile thenable on purpose.
          then() {
            throw boom;
          },
        })),
      ).rejects.toBe(boom);
    }
  });

  it('execute with a non-function, or a non-signal, rejects with a TypeError', async () => {
    for (const p of policies()) {
      await expect(p.execute(bad(5))).rejects.toBeInstanceOf(TypeError);
      await expect(p.execute(() => 1, { signal: bad({}) })).rejects.toBeInstanceOf(TypeError);
    }
  });

  it('a Fallback handler that throws synchronously gives a FallbackError keeping both errors', async () => {
    const original = new Error('original');
    const handlerError = new Error('handler');
    const f = new Fallback(() => {
      throw handlerError;
    });
    const error = await f.execute(() => Promise.reject(original)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FallbackError);
    expect((error as FallbackError).error).toBe(original);
    expect((error as FallbackError).cause).toBe(handlerError);
  });

  it('a Fallback handler returning a plain value or a rejected promise', async () => {
    await expect(new Fallback(() => 7).execute(() => Promise.reject(new Error('x')))).resolves.toBe(7);
    const e = await new Fallback(() => Promise.reject(new Error('async handler')))
      .execute(() => Promise.reject(new Error('x')))
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(FallbackError);
  });

  it('a retryResult predicate that throws: the call settles, rejecting with the predicate error', async () => {
    const predicateError = new Error('predicate bug');
    let calls = 0;
    const retry = new RetryPolicy({
      maxRetries: 2,
      backoff: [10],
      retryResult: () => {
        throw predicateError;
      },
    });
    const p = retry.execute(() => ++calls);
    const check = expect(p).rejects.toBe(predicateError);
    await vi.advanceTimersByTimeAsync(100);
    await check;
    // Decided (docs/reliability.md F8): a classifier that throws is a bug to report, not a
    // transient failure of the dependency: the call rejects at once, the function ran once.
    expect(calls).toBe(1);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('retryAfter bug');
      },
    ],
    ['returns NaN', () => Number.NaN],
    ['returns -1', () => -1],
    ['returns a string', () => '5' as unknown as number],
  ])('a retryAfter that %s: reported, the backoff delay is used, the original error surfaces', async (_what, hint) => {
    const reported: [unknown, string][] = [];
    const previous = setErrorReporter((error, source) => reported.push([error, source]));
    try {
      const original = new Error('x');
      let calls = 0;
      const r1 = new RetryPolicy({ backoff: [10], retryAfter: hint });
      const p = r1.execute(() => {
        calls++;
        return Promise.reject(original);
      });
      const check = expect(p).rejects.toBe(original);
      await vi.advanceTimersByTimeAsync(9);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      await check;
      expect(calls).toBe(2);
      expect(vi.getTimerCount()).toBe(0);
      expect(reported).toHaveLength(1);
      expect(reported[0]?.[1]).toBe('RetryPolicy retryAfter');
    } finally {
      setErrorReporter(previous);
    }
  });

  it('a failOn predicate that throws is no match: the original error is retried, then surfaces; the bug is reported', async () => {
    const reported: [unknown, string][] = [];
    const previous = setErrorReporter((error, source) => reported.push([error, source]));
    try {
      const e2 = new Error('failOn bug');
      const original = new Error('x');
      let calls = 0;
      const r2 = new RetryPolicy({
        backoff: [10],
        failOn: () => {
          throw e2;
        },
      });
      const p = r2.execute(() => {
        calls++;
        return Promise.reject(original);
      });
      const check = expect(p).rejects.toBe(original);
      await vi.advanceTimersByTimeAsync(10);
      await check;
      expect(calls).toBe(2);
      expect(reported.map(([error]) => error)).toContain(e2);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      setErrorReporter(previous);
    }
  });

  it('a custom backoff yielding a bad delay or throwing: no more retries, the original error surfaces, the mistake is reported', async () => {
    // Decided (issue 11 item 16): a backoff mistake found at failure time must not replace the
    // error the caller needs to see; it ends the retries and goes to the error reporter.
    const reported: [unknown, string][] = [];
    const previous = setErrorReporter((error, source) => reported.push([error, source]));
    try {
      const original = new Error('the dependency failed');
      const badDelay = new RetryPolicy({ backoff: new Set([-1]) });
      let calls = 0;
      await expect(
        badDelay.execute(() => {
          calls++;
          return Promise.reject(original);
        }),
      ).rejects.toBe(original);
      expect(calls).toBe(1);
      expect(reported).toHaveLength(1);
      expect(reported[0]?.[0]).toBeInstanceOf(RangeError);
      expect(String((reported[0]?.[0] as Error | undefined)?.message)).toContain('-1');
      expect(reported[0]?.[1]).toBe('RetryPolicy backoff');

      const backoffBug = new Error('backoff bug');
      const throwing = new RetryPolicy({
        maxRetries: 3,
        backoff: {
          *[Symbol.iterator]() {
            yield 5;
            throw backoffBug;
          },
        },
      });
      calls = 0;
      const p = throwing.execute(() => {
        calls++;
        return Promise.reject(original);
      });
      const check = expect(p).rejects.toBe(original);
      await vi.advanceTimersByTimeAsync(5);
      await check;
      expect(calls).toBe(2);
      expect(reported[1]?.[0]).toBe(backoffBug);

      // decorrelatedJitter with a broken random source: the same.
      const jitter = new RetryPolicy({ backoff: decorrelatedJitter({ random: () => Number.NaN }) });
      await expect(jitter.execute(() => Promise.reject(original))).rejects.toBe(original);
      expect(reported[2]?.[0]).toBeInstanceOf(RangeError);
      expect(String((reported[2]?.[0] as Error | undefined)?.message)).toContain('random()');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      setErrorReporter(previous);
    }
  });

  it('a custom backoff yielding a bad delay after retryResult: the last result is returned', async () => {
    const previous = setErrorReporter(() => {});
    try {
      const retry = new RetryPolicy({ backoff: new Set([Number.NaN]), retryResult: (r) => r === 'busy' });
      await expect(retry.execute(() => 'busy')).resolves.toBe('busy');
    } finally {
      setErrorReporter(previous);
    }
  });

  it('a breaker failureResult predicate that throws: the result is returned, counted as a success, the bug reported', async () => {
    // The breaker's decision (issue 11 item 21): a classifier that throws counts as `false`, so a
    // half-open trial's slot is never held, and the classifier's error goes to the reporter.
    const reported: unknown[] = [];
    const previous = setErrorReporter((error) => reported.push(error));
    try {
      let now = 0;
      const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
      const predicateError = new Error('failureResult bug');
      let throwing = false;
      const breaker = new CircuitBreaker({
        volumeThreshold: 1,
        sleepWindow: 100,
        clock,
        failureResult: () => {
          if (throwing) throw predicateError;
          return false;
        },
      });
      await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
      expect(breaker.state).toBe('open');
      now = 100;
      throwing = true;
      await expect(breaker.execute(() => 'trial')).resolves.toBe('trial');
      expect(reported).toContain(predicateError);
      expect(breaker.state).toBe('closed');
    } finally {
      setErrorReporter(previous);
    }
  });
});
