import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  consecutiveFailures,
  goResiliency,
  hystrix,
  slowCalls,
} from '../../src/breaker/index.js';
import { CircuitOpenError } from '../../src/core/errors.js';
import { deferred, ManualClock, settle } from './helpers.js';

function setup(options: CircuitBreakerOptions) {
  const clock = new ManualClock(0);
  const breaker = new CircuitBreaker({ clock, ...options });
  const ok = () => breaker.execute(() => 'ok');
  const fail = () =>
    settle(
      breaker.execute(() => {
        throw new Error('boom');
      }),
    );
  /** A call that takes `ms` on the manual clock, then succeeds. */
  const slow = async (ms: number) => {
    const d = deferred<string>();
    const p = breaker.execute(() => d.promise);
    clock.advance(ms);
    d.resolve('slow');
    return p;
  };
  return { clock, breaker, ok, fail, slow };
}

describe('go-resiliency rule (SEMANTICS §3)', () => {
  const rule = goResiliency({ errorThreshold: 3, successThreshold: 2, timeout: 1000 });

  it('opens when errorThreshold errors come within timeout of each other; successes do not reset the count', async () => {
    const { breaker, ok, fail, clock } = setup({ rule });
    await fail();
    await ok();
    clock.advance(900);
    await fail();
    await ok();
    await ok();
    clock.advance(900);
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('restarts the count when the last error is older than timeout', async () => {
    const { breaker, fail, clock } = setup({ rule });
    await fail();
    await fail();
    clock.advance(1001);
    await fail(); // count restarts: 1
    await fail(); // 2
    expect(breaker.state).toBe('closed');
    await fail(); // 3
    expect(breaker.state).toBe('open');
  });

  it('an error exactly timeout after the last one still counts (go-resiliency: strictly older restarts)', async () => {
    const { breaker, fail, clock } = setup({ rule });
    await fail();
    clock.advance(1000);
    await fail();
    clock.advance(1000);
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('stays open for timeout, then half-open; successThreshold successes close', async () => {
    const { breaker, ok, fail, clock } = setup({ rule });
    for (let i = 0; i < 3; i++) await fail();
    expect(breaker.sleepWindow).toBe(1000);
    expect(breaker.trialSuccesses).toBe(2);
    clock.advance(999);
    await expect(ok()).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(1);
    await ok();
    expect(breaker.state).toBe('half-open');
    await ok();
    expect(breaker.state).toBe('closed');
    // The count starts over after closing.
    await fail();
    await fail();
    expect(breaker.state).toBe('closed');
  });

  it('any error in half-open re-opens', async () => {
    const { breaker, ok, fail, clock } = setup({ rule });
    for (let i = 0; i < 3; i++) await fail();
    clock.advance(1000);
    await ok();
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('ignores errors of calls that started before it opened', async () => {
    const { breaker, fail, clock } = setup({ rule });
    const late = deferred<string>();
    const p = settle(breaker.execute(() => late.promise));
    for (let i = 0; i < 3; i++) await fail();
    clock.advance(1000);
    late.reject(new Error('late'));
    await p;
    expect(breaker.state).toBe('half-open');
  });

  it('lets sleepWindow override the open duration', () => {
    expect(new CircuitBreaker({ rule, sleepWindow: 30 }).sleepWindow).toBe(30);
  });
});

describe('consecutive failures rule', () => {
  it('opens after N consecutive errors; a success resets the count', async () => {
    const { breaker, ok, fail } = setup({ rule: consecutiveFailures(3) });
    await fail();
    await fail();
    await ok();
    await fail();
    await fail();
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('ignores the volume threshold and the window', async () => {
    const { breaker, fail, clock } = setup({ rule: consecutiveFailures(2) });
    await fail();
    clock.advance(60_000);
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('starts counting afresh after a half-open success', async () => {
    const { breaker, ok, fail, clock } = setup({ rule: consecutiveFailures(2) });
    await fail();
    await fail();
    clock.advance(5000);
    await ok();
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('closed');
  });
});

describe('slow-call rule', () => {
  it('trips on the slow-call rate once the volume is reached', async () => {
    const { breaker, slow, ok } = setup({
      rule: slowCalls({ slowCallDuration: 100, slowCallRateThreshold: 50 }),
      volumeThreshold: 4,
    });
    await slow(150);
    await ok();
    await slow(99); // not slow
    expect(breaker.slowCallCount()).toBe(1);
    expect(breaker.state).toBe('closed');
    await slow(100); // 2 of 4 slow = 50 %
    expect(breaker.state).toBe('open');
    // Slow successes are successes unless configured otherwise.
    expect(breaker.metrics()).toMatchObject({ requests: 4, errors: 0, successes: 4 });
  });

  it('still trips on the error percentage', async () => {
    const { breaker, fail } = setup({ rule: slowCalls({ slowCallDuration: 100 }), volumeThreshold: 2 });
    await fail();
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('counts a slow success as a failure (kind slow) with slowCallIsFailure', async () => {
    const { breaker, slow } = setup({
      rule: slowCalls({ slowCallDuration: 100, slowCallIsFailure: true, slowCallRateThreshold: 100 }),
      volumeThreshold: 10,
      errorThresholdPercentage: 50,
    });
    const kinds: string[] = [];
    breaker.on('failure', (e) => kinds.push(e.kind));
    await expect(slow(200)).resolves.toBe('slow');
    expect(kinds).toEqual(['slow']);
    expect(breaker.metrics()).toMatchObject({ requests: 1, errors: 1, failures: 1 });
  });

  it('re-opens on a slow trial in half-open', async () => {
    const { breaker, slow, fail, clock } = setup({
      rule: slowCalls({ slowCallDuration: 100 }),
      volumeThreshold: 1,
    });
    await fail();
    clock.advance(5000);
    await slow(100);
    expect(breaker.state).toBe('open');
  });

  it('times every call under the slow-call rule', async () => {
    const { breaker, slow } = setup({ rule: slowCalls({ slowCallDuration: 1000 }) });
    for (let i = 1; i <= 5; i++) await slow(i * 10);
    expect(breaker.metrics().latency.mean).toBe(30);
  });
});

describe('rule helpers', () => {
  it('build plain descriptors that can also be written by hand', async () => {
    expect(hystrix()).toEqual({ kind: 'hystrix' });
    expect(consecutiveFailures(4)).toEqual({ kind: 'consecutive', failures: 4 });
    const { breaker, fail } = setup({ rule: { kind: 'consecutive', failures: 1 } });
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('a rule object shared by two breakers shares no state', async () => {
    const rule = consecutiveFailures(2);
    const a = setup({ rule });
    const b = setup({ rule });
    await a.fail();
    await b.fail();
    expect(a.breaker.state).toBe('closed');
    expect(b.breaker.state).toBe('closed');
  });
});

describe('rules carry their own thresholds (issue 12)', () => {
  it('hystrix({ ... }) trips on its own thresholds; the breaker reports them', async () => {
    const { breaker, ok, fail } = setup({ rule: hystrix({ errorThresholdPercentage: 25, volumeThreshold: 4 }) });
    expect(breaker.errorThresholdPercentage).toBe(25);
    expect(breaker.volumeThreshold).toBe(4);
    expect(breaker.rule).toEqual({ kind: 'hystrix', errorThresholdPercentage: 25, volumeThreshold: 4 });
    for (let i = 0; i < 3; i++) await ok();
    await fail(); // 1 of 4 = 25 %
    expect(breaker.state).toBe('open');
  });

  it('a threshold the rule leaves out comes from the option of the same name', async () => {
    const { breaker, fail } = setup({ rule: hystrix({ volumeThreshold: 2 }), errorThresholdPercentage: 100 });
    expect(breaker.errorThresholdPercentage).toBe(100);
    expect(breaker.volumeThreshold).toBe(2);
    await fail();
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('slowCalls({ ... }) carries the error-percentage thresholds too', async () => {
    const rule = slowCalls({ slowCallDuration: 1000, volumeThreshold: 2, errorThresholdPercentage: 50 });
    const { breaker, ok, fail } = setup({ rule });
    await ok();
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('a hand-written rule with thresholds is checked like the helper', () => {
    expect(new CircuitBreaker({ rule: { kind: 'hystrix', volumeThreshold: 3 } }).volumeThreshold).toBe(3);
    expect(() => new CircuitBreaker({ rule: { kind: 'hystrix', volumeThreshold: -1 } })).toThrow(
      /hystrix\(\): volumeThreshold must be >= 0/,
    );
    expect(() => hystrix({ errorThresholdPercentage: 101 })).toThrow(RangeError);
    expect(() => hystrix({ errorTreshold: 5 } as never)).toThrow(/unknown option "errorTreshold"/);
  });

  it('a threshold given both in the rule and as an option is a TypeError', () => {
    expect(() => new CircuitBreaker({ rule: hystrix({ volumeThreshold: 3 }), volumeThreshold: 3 })).toThrow(
      /volumeThreshold is given both in the rule and as an option/,
    );
  });
});
