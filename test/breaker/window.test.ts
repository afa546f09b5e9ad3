import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { BINS, binOf, binValue, latencyMetrics } from '../../src/breaker/LatencyHistogram.js';
import { FAILURE, RollingWindow, SUCCESS } from '../../src/breaker/RollingWindow.js';
import { deferred, ManualClock, settle } from './helpers.js';

describe('LatencyHistogram', () => {
  it('maps 0..15 ms to exact bins and larger values to log-scale bins at most 12.5 % wide', () => {
    for (let v = 0; v < 16; v++) expect(binValue(binOf(v))).toBe(v);
    expect(binOf(-3)).toBe(0);
    expect(binOf(Number.NaN)).toBe(0);
    expect(binOf(0.7)).toBe(0);
    expect(binOf(2 ** 30)).toBe(BINS - 1);
    let previous = -1;
    for (let v = 16; v < 2 ** 24; v = Math.ceil(v * 1.01)) {
      const bin = binOf(v);
      expect(bin).toBeGreaterThanOrEqual(previous);
      previous = bin;
      expect(Math.abs(binValue(bin) - v) / v).toBeLessThanOrEqual(0.0625);
    }
  });

  it('computes percentiles from bins, with the exact min and max', () => {
    const bins = new Uint32Array(BINS);
    let sum = 0;
    for (let v = 1; v <= 100; v++) {
      bins[binOf(v)] = (bins[binOf(v)] as number) + 1;
      sum += v;
    }
    const m = latencyMetrics(bins, 100, sum, 1, 100);
    expect(m.mean).toBe(50.5);
    expect(m.percentiles['0']).toBe(1);
    expect(m.percentiles['100']).toBe(100);
    for (const [p, expected] of [
      ['25', 25],
      ['50', 50],
      ['75', 75],
      ['90', 90],
      ['99', 99],
    ] as const) {
      expect(Math.abs(m.percentiles[p] - expected) / expected).toBeLessThanOrEqual(0.0625);
    }
  });

  it('reports zeros when nothing was timed', () => {
    const m = latencyMetrics(new Uint32Array(BINS), 0, 0, 0, 0);
    expect(m).toEqual({
      mean: 0,
      percentiles: { '0': 0, '25': 0, '50': 0, '75': 0, '90': 0, '95': 0, '99': 0, '99.5': 0, '100': 0 },
    });
  });
});

describe('RollingWindow', () => {
  it('allocates nothing until the first record', () => {
    const w = new RollingWindow(10_000, 10);
    expect(w.requests).toBe(0);
    expect(w.read(0).counts[SUCCESS]).toBe(0);
    expect((w as unknown as { _data: unknown })._data).toBeUndefined();
    w.record(SUCCESS, 0, 1, false);
    expect((w as unknown as { _data: unknown })._data).toBeDefined();
  });

  it('keeps running totals equal to the sum of the live buckets', () => {
    const w = new RollingWindow(1000, 4);
    let t = 0;
    const live: { t: number; c: number }[] = [];
    for (let i = 0; i < 500; i++) {
      t += (i * 37) % 300;
      const c = i % 3 === 0 ? FAILURE : SUCCESS;
      w.record(c, t, 1, false);
      live.push({ t, c });
      const slot = Math.floor(t / 250);
      const inWindow = live.filter((e) => Math.floor(e.t / 250) > slot - 4);
      expect(w.requests).toBe(inWindow.length);
      expect(w.errors).toBe(inWindow.filter((e) => e.c === FAILURE).length);
      expect(w.read(t).counts[FAILURE]).toBe(w.errors);
    }
  });

  it('handles negative clock values', () => {
    const w = new RollingWindow(1000, 10);
    w.record(FAILURE, -5, 1, false);
    w.record(FAILURE, -150, 1, false); // an older reading lands in the head bucket
    expect(w.errors).toBe(2);
    expect(w.read(-1).counts[FAILURE]).toBe(2);
    expect(w.read(995).counts[FAILURE]).toBe(0);
  });
});

describe('CircuitBreaker metrics', () => {
  it('returns exactly the documented shape', async () => {
    const clock = new ManualClock(0);
    const b = new CircuitBreaker({ clock, volumeThreshold: 100 });
    await b.execute(() => 1);
    await settle(b.execute(() => Promise.reject(new Error('x'))));
    b.recordFallback(true);
    b.recordFallback(false);
    b.recordFallback(false);
    const m = b.metrics();
    expect(Object.keys(m).sort()).toEqual(
      [
        'state',
        'requests',
        'errors',
        'successes',
        'failures',
        'timeouts',
        'rejections',
        'shortCircuits',
        'fallbackSuccesses',
        'fallbackFailures',
        'errorPercentage',
        'concurrent',
        'latency',
      ].sort(),
    );
    expect(m).toMatchObject({
      state: 'closed',
      requests: 2,
      errors: 1,
      successes: 1,
      failures: 1,
      timeouts: 0,
      rejections: 0,
      shortCircuits: 0,
      fallbackSuccesses: 1,
      fallbackFailures: 2,
      errorPercentage: 50,
      concurrent: 0,
    });
    // Integer-like keys come first in any JS object, so "99.5" is listed last.
    expect(Object.keys(m.latency.percentiles).sort()).toEqual(
      ['0', '25', '50', '75', '90', '95', '99', '99.5', '100'].sort(),
    );
  });

  it('counts calls currently executing', async () => {
    const b = new CircuitBreaker({ clock: new ManualClock() });
    const d = deferred<number>();
    const p = b.execute(() => d.promise);
    const q = b.execute(() => d.promise);
    expect(b.metrics().concurrent).toBe(2);
    d.resolve(1);
    await Promise.all([p, q]);
    expect(b.metrics().concurrent).toBe(0);
  });

  it('samples latency of one closed-state call in 8, and times every trial', async () => {
    const clock = new ManualClock(0);
    const b = new CircuitBreaker({ clock, volumeThreshold: 1 });
    for (let i = 0; i < 16; i++) {
      const d = deferred<number>();
      const p = b.execute(() => d.promise);
      clock.advance(8);
      d.resolve(i);
      await p;
    }
    const m = b.metrics();
    expect(m.requests).toBe(16);
    expect(m.latency.mean).toBe(8);
    expect(m.latency.percentiles['50']).toBe(8);
  });

  it('forgets latencies with their buckets', async () => {
    const clock = new ManualClock(0);
    const b = new CircuitBreaker({
      clock,
      rule: { kind: 'slow-calls', slowCallDuration: 1e9, slowCallRateThreshold: 100, slowCallIsFailure: false },
    });
    const d = deferred<number>();
    const p = b.execute(() => d.promise);
    clock.advance(40);
    d.resolve(1);
    await p;
    expect(b.metrics().latency.percentiles['100']).toBe(40);
    clock.advance(10_000);
    expect(b.metrics().latency.mean).toBe(0);
  });

  it('costs the same for a failure whether the window saw few or many calls (O(1) state)', async () => {
    const clock = new ManualClock(0);
    const b = new CircuitBreaker({ clock, volumeThreshold: 1e9 });
    for (let i = 0; i < 5000; i++) await b.execute(() => i);
    // Storage is fixed-size: no per-call growth.
    const w = (b as unknown as { _controller: { _window: { _data: Float64Array; _bins: Uint32Array } } })._controller
      ._window;
    expect(w._data.length).toBe(10 * 12);
    expect(w._bins.length).toBe(10 * BINS);
  });
});
