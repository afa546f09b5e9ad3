import type { Attributes } from '@opentelemetry/api';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { BulkheadRejectedError, Fallback, pipeline, RetryPolicy, Timeout, TimeoutError } from '../../src/index.js';
import {
  ATTRIBUTES,
  errorType,
  instrument,
  instrumented,
  METRICS,
} from '../../src/integrations/opentelemetry/index.js';

/** A reader we collect from by hand. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let provider: MeterProvider | undefined;
afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
});

function setup() {
  const reader = new TestReader();
  provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('test');
  const collect = async () => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics;
  };
  return { meter, collect };
}

function points(metrics: ResourceMetrics, name: string): DataPoint<unknown>[] {
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name === name) return metric.dataPoints as DataPoint<unknown>[];
    }
  }
  return [];
}

function count(metrics: ResourceMetrics, name: string, match: Attributes): number {
  return points(metrics, name)
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (p.value as number), 0);
}

describe('staunch/opentelemetry', () => {
  it('counts retry events with policy name, kind, event and error.type', async () => {
    const { meter, collect } = setup();
    const retry = new RetryPolicy({ backoff: [0, 0] });
    const stop = instrument(retry, { name: 'payments', meter });
    let n = 0;
    await retry.execute(() => {
      if (++n < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      return 'ok';
    });
    await retry
      .execute(() => {
        throw new TypeError('bad');
      })
      .catch(() => {});
    const m = await collect();
    const base = { [ATTRIBUTES.policyName]: 'payments', [ATTRIBUTES.policyKind]: 'retry' };
    expect(
      count(m, METRICS.events, { ...base, [ATTRIBUTES.event]: 'retry', [ATTRIBUTES.errorType]: 'ECONNRESET' }),
    ).toBe(2);
    expect(
      count(m, METRICS.events, { ...base, [ATTRIBUTES.event]: 'retry', [ATTRIBUTES.errorType]: 'TypeError' }),
    ).toBe(2);
    expect(
      count(m, METRICS.events, { ...base, [ATTRIBUTES.event]: 'give_up', [ATTRIBUTES.errorType]: 'TypeError' }),
    ).toBe(1);
    expect(count(m, METRICS.events, { ...base, [ATTRIBUTES.event]: 'success' })).toBe(1);

    // Unsubscribed: nothing more is counted.
    stop();
    stop();
    await retry.execute(() => 'ok');
    expect(count(await collect(), METRICS.events, { ...base, [ATTRIBUTES.event]: 'success' })).toBe(1);
  });

  it('counts timeout, fallback, bulkhead and breaker events of a whole pipeline', async () => {
    const { meter, collect } = setup();
    const breaker = new CircuitBreaker({ name: 'b', volumeThreshold: 1 });
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    const fallback = new Fallback(() => 'fallback value');
    const policy = pipeline(fallback, breaker, bulkhead, new Timeout(20));
    const stop = instrument(policy, { name: 'search', meter, attributes: { service: 'test' } });
    vi.useFakeTimers();
    const slow = policy.execute(() => new Promise(() => {}));
    await vi.advanceTimersByTimeAsync(20);
    expect(await slow).toBe('fallback value');
    vi.useRealTimers();
    // The breaker is open now: short-circuited, then rescued by the fallback.
    expect(await policy.execute(() => 'x')).toBe('fallback value');
    const m = await collect();
    const at = (kind: string, event: string, extra: Attributes = {}) =>
      count(m, METRICS.events, {
        [ATTRIBUTES.policyName]: 'search',
        [ATTRIBUTES.policyKind]: kind,
        [ATTRIBUTES.event]: event,
        service: 'test',
        ...extra,
      });
    expect(at('timeout', 'timeout', { [ATTRIBUTES.errorType]: 'STAUNCH_TIMEOUT' })).toBe(1);
    expect(at('bulkhead', 'admit')).toBe(1);
    expect(at('circuit_breaker', 'failure', { [ATTRIBUTES.failureKind]: 'timeout' })).toBe(1);
    expect(at('circuit_breaker', 'state_change', { [ATTRIBUTES.breakerState]: 'open' })).toBe(1);
    expect(at('circuit_breaker', 'short_circuit')).toBe(1);
    expect(at('fallback', 'fallback', { [ATTRIBUTES.errorType]: 'STAUNCH_CIRCUIT_OPEN' })).toBe(1);

    // The breaker's state as a state-set gauge.
    const states = points(m, METRICS.breakerState).filter((p) => p.attributes[ATTRIBUTES.policyName] === 'search');
    expect(states.find((p) => p.attributes[ATTRIBUTES.breakerState] === 'open')?.value).toBe(1);
    expect(states.find((p) => p.attributes[ATTRIBUTES.breakerState] === 'closed')?.value).toBe(0);
    breaker.reset();
    const after = points(await collect(), METRICS.breakerState);
    expect(after.find((p) => p.attributes[ATTRIBUTES.breakerState] === 'closed')?.value).toBe(1);
    expect(points(m, METRICS.bulkheadRunning)[0]?.value).toBe(0);

    stop();
    // No longer observed: a later state change is not reported.
    breaker.isolate();
    const stale = points(await collect(), METRICS.breakerState);
    expect(stale.find((p) => p.attributes[ATTRIBUTES.breakerState] === 'isolated')?.value ?? 0).toBe(0);
  });

  it('counts bulkhead rejections with the reason', async () => {
    const { meter, collect } = setup();
    const bulkhead = new Bulkhead({ maxConcurrent: 1 });
    instrument(bulkhead, { name: 'db', meter });
    let release!: () => void;
    const first = bulkhead.execute(() => new Promise<void>((r) => (release = r)));
    await expect(bulkhead.execute(() => 1)).rejects.toBeInstanceOf(BulkheadRejectedError);
    const m = await collect();
    expect(points(m, METRICS.bulkheadRunning)[0]?.value).toBe(1);
    release();
    await first;
    expect(
      count(m, METRICS.events, {
        [ATTRIBUTES.event]: 'reject',
        [ATTRIBUTES.reason]: 'queue-full',
        [ATTRIBUTES.errorType]: 'STAUNCH_BULKHEAD_REJECTED',
      }),
    ).toBe(1);
  });

  it('records call and attempt durations in seconds with outcome and error.type', async () => {
    const { meter, collect } = setup();
    let now = 0;
    const clock = { now: () => now, setTimeout, clearTimeout: (h: unknown) => clearTimeout(h as never) };
    const api = instrumented(new RetryPolicy({ backoff: [0] }), { name: 'api', meter, clock });
    let n = 0;
    await api.execute(() => {
      now += 250;
      if (++n === 1) throw new TimeoutError(100);
      return 'ok';
    });
    await api
      .execute(() => {
        now += 1000;
        throw new RangeError('nope');
      })
      .catch(() => {});
    const m = await collect();
    const attempts = points(m, METRICS.attemptDuration) as DataPoint<Histogram>[];
    const calls = points(m, METRICS.callDuration) as DataPoint<Histogram>[];
    const by = (list: DataPoint<Histogram>[], outcome: string, type?: string) =>
      list.find(
        (p) =>
          p.attributes[ATTRIBUTES.outcome] === outcome &&
          p.attributes[ATTRIBUTES.errorType] === type &&
          p.attributes[ATTRIBUTES.policyKind] === 'retry',
      )?.value;
    expect(by(attempts, 'success')).toMatchObject({ count: 1, sum: 0.25 });
    expect(by(attempts, 'failure', 'STAUNCH_TIMEOUT')).toMatchObject({ count: 1, sum: 0.25 });
    expect(by(attempts, 'failure', 'RangeError')).toMatchObject({ count: 2, sum: 2 });
    expect(by(calls, 'success')).toMatchObject({ count: 1, sum: 0.5 });
    expect(by(calls, 'failure', 'RangeError')).toMatchObject({ count: 1, sum: 2 });
    // Events are counted too, unless disabled.
    expect(count(m, METRICS.events, { [ATTRIBUTES.event]: 'retry' })).toBe(2);
    api.dispose();
    const quiet = instrumented(new Timeout(50), { name: 'q', meter, events: false });
    expect(await quiet.execute(() => 1)).toBe(1);
  });

  it('derives error.type and validates options', () => {
    expect(errorType(new TimeoutError(1))).toBe('STAUNCH_TIMEOUT');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType('string')).toBe('_OTHER');
    expect(() => instrument(new RetryPolicy(), { name: '' })).toThrow(TypeError);
    expect(() => instrument({} as never, { name: 'x' })).toThrow(/policy/);
  });
});
