/**
 * Model-based property test of whole pipelines: random subsets and orders of the policies with
 * random valid options, random scripted functions (succeed, throw, hang, settle late, settle
 * after abort), random caller aborts, all under fake timers. The invariants are checked by
 * `runScenario` (test/support/model.ts): every call settles exactly once, with a value something
 * produced or an error that explains it; no unhandled rejection; bulkheads and timeouts go idle;
 * no listener stays on a caller's signal; no timer stays once the last Timeout's timer went off.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { type Behaviour, type CallSpec, HANG, type PolicySpec, runScenario, type Scenario } from '../support/model.js';

const tens = (max: number) => fc.integer({ min: 0, max: max / 10 }).map((n) => n * 10);

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.record({ kind: fc.constant('succeed' as const), delay: tens(300), bad: fc.boolean() }),
  fc.record({ kind: fc.constant('throw' as const), delay: tens(300), sync: fc.boolean() }),
  fc.record({
    kind: fc.constant('late' as const),
    delay: fc.oneof(tens(3000), fc.constant(HANG)),
    reject: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('afterAbort' as const), delay: tens(50), reject: fc.boolean() }),
);

const policy = {
  retry: fc.record({
    type: fc.constant('retry' as const),
    maxRetries: fc.integer({ min: 0, max: 3 }),
    backoff: fc.array(tens(200), { minLength: 1, maxLength: 3 }),
    retryBad: fc.boolean(),
    jitter: fc.constantFrom(0, 0.5, 1),
  }),
  timeout: fc.record({
    type: fc.constant('timeout' as const),
    timeout: tens(1000).map((t) => t + 10),
    cooperative: fc.boolean(),
  }),
  fallback: fc.record({
    type: fc.constant('fallback' as const),
    handler: fc.constantFrom('value' as const, 'async' as const, 'throw' as const, 'syncThrow' as const),
  }),
  breaker: fc.record({
    type: fc.constant('breaker' as const),
    rule: fc.oneof(fc.constantFrom('hystrix' as const, 'go' as const, 'slow' as const), fc.integer({ min: 1, max: 3 })),
    volumeThreshold: fc.integer({ min: 0, max: 4 }),
    errorThresholdPercentage: fc.constantFrom(0, 1, 50, 100),
    sleepWindow: tens(500).map((t) => t + 10),
    trialCalls: fc.integer({ min: 1, max: 2 }),
    trialSuccesses: fc.integer({ min: 1, max: 2 }),
  }),
  bulkhead: fc
    .record({
      type: fc.constant('bulkhead' as const),
      maxConcurrent: fc.integer({ min: 1, max: 3 }),
      maxQueue: fc.integer({ min: 0, max: 3 }),
      queueTimeout: fc.option(
        tens(500).map((t) => t + 10),
        { nil: undefined },
      ),
    })
    .map((b) => (b.maxQueue === 0 ? { ...b, queueTimeout: undefined } : b)),
} satisfies Record<Exclude<PolicySpec['type'], 'faulty'>, fc.Arbitrary<PolicySpec>>;

type PolicyType = keyof typeof policy;

const policies = (types: readonly PolicyType[]): fc.Arbitrary<PolicySpec[]> =>
  fc
    .shuffledSubarray([...types], { minLength: 1 })
    .chain((chosen) => fc.tuple(...chosen.map((t) => policy[t] as fc.Arbitrary<PolicySpec>)));

const call: fc.Arbitrary<CallSpec> = fc.record({
  start: tens(500),
  // Aborts fall between the 10 ms grid of every other event, so "before" and "after" are clear.
  abortAfter: fc.option(
    fc.oneof(
      fc.constant(-1),
      tens(2000).map((t) => t + 5),
    ),
    { nil: undefined },
  ),
  sharedSignal: fc.boolean(),
  script: fc.array(behaviour, { minLength: 1, maxLength: 4 }),
});

const scenario = (types: readonly PolicyType[]): fc.Arbitrary<Scenario> =>
  fc.record({ policies: policies(types), calls: fc.array(call, { minLength: 1, maxLength: 6 }) });

async function check(s: Scenario): Promise<void> {
  vi.useFakeTimers();
  try {
    const problems = await runScenario(s);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  } finally {
    // Drop whatever a failing run left, so the next run starts clean.
    vi.clearAllTimers();
    vi.useRealTimers();
  }
}

describe('pipeline model (fast-check)', () => {
  it('Retry, Timeout and Fallback in any order keep every invariant', async () => {
    await fc.assert(fc.asyncProperty(scenario(['retry', 'timeout', 'fallback']), check), {
      numRuns: Number(process.env.FC_RUNS ?? 200),
    });
  }, 60_000);

  it('with a Bulkhead too', async () => {
    await fc.assert(fc.asyncProperty(scenario(['retry', 'timeout', 'fallback', 'bulkhead']), check), {
      numRuns: Number(process.env.FC_RUNS ?? 200),
    });
  }, 60_000);

  it('with a CircuitBreaker too', async () => {
    await fc.assert(fc.asyncProperty(scenario(['retry', 'timeout', 'fallback', 'breaker']), check), {
      numRuns: Number(process.env.FC_RUNS ?? 200),
    });
  }, 60_000);

  it('all five policies', async () => {
    await fc.assert(fc.asyncProperty(scenario(['retry', 'timeout', 'fallback', 'breaker', 'bulkhead']), check), {
      numRuns: Number(process.env.FC_RUNS ?? 200),
    });
  }, 60_000);

  it('nested and repeated policies (two retries, two timeouts, ...) keep every invariant', async () => {
    const any = fc.oneof(policy.retry, policy.timeout, policy.fallback, policy.breaker, policy.bulkhead);
    const nested = fc.record({
      policies: fc.array(any, { minLength: 2, maxLength: 6 }),
      calls: fc.array(call, { minLength: 1, maxLength: 6 }),
    });
    await fc.assert(fc.asyncProperty(nested, check), { numRuns: Number(process.env.FC_RUNS ?? 200) });
  }, 60_000);

  it.each([
    ['leakTimer', /timer\(s\) still scheduled/],
    ['leakListener', /listener\(s\) left on the caller's signal/],
    ['wrongValue', /which nothing produced/],
    ['neverSettle', /settled 0 times/],
    ['untypedError', /unexplained/],
    ['unhandled', /unhandled rejection/],
  ] as const)('the harness notices a stage that breaks an invariant: %s', async (fault, message) => {
    vi.useFakeTimers();
    const problems = await runScenario({
      policies: [{ type: 'faulty', fault }],
      calls: [
        // A caller signal that the listener leak can stick to; no abort where it would answer a stuck call.
        { start: 0, abortAfter: fault === 'neverSettle' ? undefined : 1005, script: [{ kind: 'succeed', delay: 10 }] },
      ],
    });
    vi.clearAllTimers();
    expect(problems.join('\n')).toMatch(message);
  });
});
