import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, type CircuitBreakerSnapshot } from '../../src/breaker/index.js';
import { CircuitOpenError } from '../../src/core/errors.js';
import { exponential } from '../../src/retry/backoff.js';
import { ManualClock, settle } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

async function tripped(clock: ManualClock, options = {}) {
  const b = new CircuitBreaker({ clock, volumeThreshold: 1, ...options });
  await settle(
    b.execute(() => {
      throw new Error('down');
    }),
  );
  return b;
}

describe('CircuitBreaker persistence', () => {
  it('round-trips an open circuit through JSON; time elapsed meanwhile counts', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const before = new ManualClock(50);
    const b = await tripped(before);
    before.advance(1000);
    const json = JSON.parse(JSON.stringify(b)) as CircuitBreakerSnapshot;
    expect(json).toEqual({ version: 1, state: 'open', retryAfter: 4000, opens: 1, savedAt: 1_000_000 });

    // "Restart": a new process whose monotonic clock starts elsewhere, 1500 ms of wall time later.
    vi.setSystemTime(1_001_500);
    const after = new ManualClock(7);
    const restored = CircuitBreaker.fromJSON(json, { clock: after, volumeThreshold: 1 });
    expect(restored.state).toBe('open');
    const r = await settle(restored.execute(() => 'x'));
    expect((r as { error: CircuitOpenError }).error).toBeInstanceOf(CircuitOpenError);
    expect((r as { error: CircuitOpenError }).error.retryAfter).toBe(2500);
    after.advance(2500);
    expect(restored.state).toBe('half-open');
    await expect(restored.execute(() => 'x')).resolves.toBe('x');
    expect(restored.state).toBe('closed');
  });

  it('restores half-open as ready for a trial, and an expired open as half-open', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const clock = new ManualClock();
    const b = await tripped(clock);
    clock.advance(5000);
    expect(CircuitBreaker.fromJSON(b.toJSON(), { clock }).state).toBe('half-open');
    const open = await tripped(clock);
    const json = open.toJSON();
    vi.setSystemTime(10_000);
    expect(CircuitBreaker.fromJSON(json, { clock }).state).toBe('half-open');
  });

  it('keeps forced states and the position in a sleep-window backoff', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker({ clock });
    b.isolate();
    expect(CircuitBreaker.fromJSON(b.toJSON(), { clock }).state).toBe('isolated');
    b.forceClose();
    expect(CircuitBreaker.fromJSON(b.toJSON(), { clock }).state).toBe('forced-closed');
    b.reset();
    expect(CircuitBreaker.fromJSON(b.toJSON(), { clock }).state).toBe('closed');

    const sleepWindow = exponential({ initial: 100, factor: 2 });
    const g = await tripped(clock, { sleepWindow });
    clock.advance(100);
    await settle(
      g.execute(() => {
        throw new Error('still down');
      }),
    );
    expect(g.sleepWindow).toBe(200);
    const restored = CircuitBreaker.fromJSON(g.toJSON(), { clock, sleepWindow, volumeThreshold: 1 });
    expect(restored.sleepWindow).toBe(200);
    clock.advance(200);
    await settle(
      restored.execute(() => {
        throw new Error('again');
      }),
    );
    expect(restored.sleepWindow).toBe(400);
  });

  it('rejects what is not a snapshot (wrong type: TypeError; wrong value: RangeError)', () => {
    for (const bad of [null, 42, {}]) {
      expect(() => CircuitBreaker.fromJSON(bad as unknown as CircuitBreakerSnapshot)).toThrow(TypeError);
    }
    for (const bad of [
      { version: 2, state: 'open', retryAfter: 0, opens: 0, savedAt: 0 },
      { version: 1, state: 'ajar', retryAfter: 0, opens: 0, savedAt: 0 },
      { version: 1, state: 'open', retryAfter: -1, opens: 0, savedAt: 0 },
    ]) {
      expect(() => CircuitBreaker.fromJSON(bad as unknown as CircuitBreakerSnapshot)).toThrow(RangeError);
    }
  });
});

describe('sleep-window backoff', () => {
  it('grows on repeated re-opens and starts over after closing', async () => {
    const clock = new ManualClock();
    const b = await tripped(clock, { sleepWindow: [1000, 2000, 4000] });
    const fail = () =>
      settle(
        b.execute(() => {
          throw new Error('down');
        }),
      );
    expect(b.sleepWindow).toBe(1000);
    for (const expected of [2000, 4000, 4000]) {
      clock.advance(b.sleepWindow);
      await fail();
      expect(b.sleepWindow).toBe(expected);
    }
    clock.advance(4000);
    await b.execute(() => 'ok');
    expect(b.state).toBe('closed');
    expect(b.sleepWindow).toBe(1000);
    await fail();
    expect(b.sleepWindow).toBe(1000);
  });
});
