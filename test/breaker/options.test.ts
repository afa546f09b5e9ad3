import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  consecutiveFailures,
  goResiliency,
  slowCalls,
} from '../../src/breaker/index.js';

const bad = (options: unknown) => () => new CircuitBreaker(options as CircuitBreakerOptions);

describe('CircuitBreaker options', () => {
  it('rejects unknown option names, with a hint', () => {
    expect(bad({ errorTreshold: 5 })).toThrow(TypeError);
    expect(bad({ sleepWindw: 5 })).toThrow(/sleepWindow/);
    expect(bad('fast')).toThrow(TypeError);
  });

  it.each([
    ['errorThresholdPercentage', -1, RangeError],
    ['errorThresholdPercentage', 101, RangeError],
    ['errorThresholdPercentage', Number.NaN, RangeError],
    ['errorThresholdPercentage', '50', TypeError],
    ['volumeThreshold', -1, RangeError],
    ['volumeThreshold', 1.5, RangeError],
    ['rollingWindow', 0, RangeError],
    ['rollingWindow', -10, RangeError],
    ['rollingWindow', Number.POSITIVE_INFINITY, RangeError],
    ['buckets', 0, RangeError],
    ['buckets', 2.5, RangeError],
    ['sleepWindow', 0, RangeError],
    ['sleepWindow', -5, RangeError],
    ['sleepWindow', 'soon', TypeError],
    ['sleepWindow', [], RangeError],
    ['sleepWindow', [-1], RangeError],
    ['trialCalls', 0, RangeError],
    ['trialSuccesses', 0, RangeError],
    ['trialSuccesses', Number.POSITIVE_INFINITY, RangeError],
    ['name', 3, TypeError],
    ['group', null, TypeError],
    ['exclude', 42, TypeError],
    ['failureResult', true, TypeError],
    ['clock', {}, TypeError],
    ['rule', 'hystrix', TypeError],
    ['rule', { kind: 'fancy' }, TypeError],
    ['rule', { kind: 'consecutive', failures: 0 }, RangeError],
    ['rule', { kind: 'consecutive', n: 3 }, TypeError],
  ])('%s = %o throws %o naming the option', (name, value, type) => {
    const fn = bad({ [name]: value });
    expect(fn).toThrow(type);
    expect(fn).toThrow(name === 'rule' && typeof value === 'object' ? /failures|n|rule/ : new RegExp(name));
  });

  it('requires the window to divide evenly into buckets', () => {
    expect(bad({ rollingWindow: 1000, buckets: 3 })).toThrow(/divisible/);
    expect(new CircuitBreaker({ rollingWindow: 1000, buckets: 4 }).buckets).toBe(4);
  });

  it('validates the rule helpers', () => {
    expect(() => consecutiveFailures(0)).toThrow(RangeError);
    expect(() => goResiliency({ errorThreshold: 1, successThreshold: 1, timeout: 0 })).toThrow(/timeout/);
    expect(() => goResiliency({ errorThreshold: 1, successThreshold: 0, timeout: 1 })).toThrow(/successThreshold/);
    expect(() => goResiliency({ errorThreshold: 1, successThreshold: 1 } as never)).toThrow(/timeout/);
    expect(() => slowCalls({ slowCallDuration: 0 })).toThrow(/slowCallDuration/);
    expect(() => slowCalls({ slowCallDuration: 10, slowCallRateThreshold: 120 })).toThrow(/slowCallRateThreshold/);
    expect(() => slowCalls({ slowCallDuration: 10, slowCallIsFailure: 'yes' as never })).toThrow(TypeError);
  });

  it('does not write defaults into the caller’s options object', () => {
    const options = { volumeThreshold: 3 };
    new CircuitBreaker(options);
    expect(options).toEqual({ volumeThreshold: 3 });
  });
});
