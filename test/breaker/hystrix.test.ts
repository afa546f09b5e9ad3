import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../../src/breaker/index.js';
import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../../src/core/errors.js';
import { boom, deferred, ManualClock, settle } from './helpers.js';

function setup(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const clock = new ManualClock(1000);
  const breaker = new CircuitBreaker({ clock, ...options });
  let calls = 0;
  const ok = () =>
    breaker.execute(() => {
      calls++;
      return 'ok';
    });
  const fail = (error: unknown = new Error('boom')) =>
    settle(
      breaker.execute(() => {
        calls++;
        throw error;
      }),
    );
  return { clock, breaker, ok, fail, calls: () => calls };
}

async function failTimes(fail: () => Promise<unknown>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fail();
}

describe('CircuitBreaker — Hystrix rule (SEMANTICS §2)', () => {
  it('has Hystrix defaults: 50 %, volume 20, 10000 ms window in 10 buckets, sleep 5000 ms', () => {
    const b = new CircuitBreaker();
    expect(b.errorThresholdPercentage).toBe(50);
    expect(b.volumeThreshold).toBe(20);
    expect(b.rollingWindow).toBe(10_000);
    expect(b.buckets).toBe(10);
    expect(b.sleepWindow).toBe(5000);
    expect(b.state).toBe('closed');
    expect(b.name).toBe('circuit-breaker');
    expect(b.group).toBe('circuit-breaker');
    expect(b.rule).toEqual({ kind: 'hystrix' });
    expect(new CircuitBreaker({ name: 'users' }).group).toBe('users');
  });

  it('does not trip below the volume threshold, even at 100 % errors', async () => {
    const { breaker, fail } = setup();
    await failTimes(fail, 19);
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ requests: 19, errors: 19, errorPercentage: 100 });
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('counts success, failure, timeout and bulkhead rejection as requests', async () => {
    const { breaker, ok, fail } = setup({ volumeThreshold: 100 });
    await ok();
    await fail();
    await fail(new TimeoutError(10));
    await fail(new BulkheadRejectedError('full', 'queue-full', 1, 0));
    expect(breaker.metrics()).toMatchObject({
      requests: 4,
      errors: 3,
      successes: 1,
      failures: 1,
      timeouts: 1,
      rejections: 1,
      errorPercentage: 75,
    });
  });

  it('emits failure events with the kind of error', async () => {
    const { breaker, fail } = setup({ volumeThreshold: 100 });
    const kinds: string[] = [];
    breaker.on('failure', (e) => kinds.push(e.kind));
    await fail();
    await fail(new TimeoutError(10));
    await fail(new BulkheadRejectedError('full', 'queue-full', 1, 0));
    expect(kinds).toEqual(['error', 'timeout', 'rejection']);
  });

  it('does not count short-circuited calls as requests (unlike hystrix-go)', async () => {
    const { breaker, fail, ok, calls } = setup();
    await failTimes(fail, 20);
    const before = calls();
    for (let i = 0; i < 5; i++) await expect(ok()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls()).toBe(before);
    expect(breaker.metrics()).toMatchObject({ requests: 20, shortCircuits: 5 });
  });

  it('does not count excluded errors, and rethrows them unchanged', async () => {
    class BadRequest extends Error {}
    const { breaker, fail } = setup({ exclude: BadRequest, volumeThreshold: 1 });
    const ignored: string[] = [];
    breaker.on('ignored', (e) => ignored.push(e.reason));
    const error = new BadRequest('nope');
    const r = await fail(error);
    expect(r).toEqual({ ok: false, error });
    expect((r as { error: unknown }).error).toBe(error);
    expect(breaker.metrics().requests).toBe(0);
    expect(breaker.state).toBe('closed');
    expect(ignored).toEqual(['excluded']);
  });

  it("does not count the caller's own cancellation", async () => {
    const { breaker } = setup({ volumeThreshold: 1 });
    const controller = new AbortController();
    const pending = deferred<string>();
    const p = breaker.execute(() => pending.promise, { signal: controller.signal });
    const check = expect(p).rejects.toBe('cancelled');
    controller.abort('cancelled');
    pending.reject(new Error('aborted by caller'));
    await check;
    await Promise.resolve();
    await Promise.resolve();
    expect(breaker.metrics().requests).toBe(0);
    expect(breaker.state).toBe('closed');
  });

  it('uses floor(100 * errors / total), not rounding', async () => {
    // 2 of 3 = 66.67 %: floor 66 does not reach 67 (rounding would trip).
    const { breaker, ok, fail } = setup({ volumeThreshold: 3, errorThresholdPercentage: 67 });
    await ok();
    await fail();
    await fail();
    expect(breaker.metrics().errorPercentage).toBe(66);
    expect(breaker.state).toBe('closed');
  });

  it('trips at exactly the threshold, checked as each call completes (a success can complete the volume)', async () => {
    const { breaker, ok, fail } = setup();
    await failTimes(fail, 10);
    for (let i = 0; i < 9; i++) await ok();
    expect(breaker.state).toBe('closed');
    await ok(); // 20 requests, 10 errors = 50 %
    expect(breaker.state).toBe('open');
  });

  it('never counts buckets older than the window', async () => {
    const { breaker, clock, fail } = setup();
    clock.time = 0;
    await failTimes(fail, 19); // bucket of slot 0
    clock.time = 9999; // slot 9: slot 0 is still in the window
    expect(breaker.metrics().requests).toBe(19);
    clock.time = 10_000; // slot 10: slot 0 has left
    expect(breaker.metrics().requests).toBe(0);
    await fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics().requests).toBe(1);
  });

  it('forgets everything after an idle gap longer than the window', async () => {
    const { breaker, clock, fail } = setup();
    await failTimes(fail, 15);
    clock.advance(3000);
    await failTimes(fail, 4);
    clock.advance(60_000);
    expect(breaker.metrics().requests).toBe(0);
    await fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ requests: 1, errors: 1 });
  });

  it('keeps the buckets still in the window across a partial gap', async () => {
    const { breaker, clock, fail } = setup();
    clock.time = 0;
    await failTimes(fail, 10); // slot 0
    clock.time = 5000;
    await failTimes(fail, 5); // slot 5
    clock.time = 12_000; // slot 12: slots 0..2 gone, slot 5 stays
    expect(breaker.metrics().requests).toBe(5);
    await failTimes(fail, 14);
    expect(breaker.state).toBe('closed');
    await fail(); // 20 in the window
    expect(breaker.state).toBe('open');
  });

  it('rejects while open with a CircuitOpenError saying when the next trial is allowed', async () => {
    const limit = Error.stackTraceLimit;
    const { breaker, clock, fail, ok, calls } = setup();
    await failTimes(fail, 20);
    expect(breaker.state).toBe('open');
    clock.advance(1234);
    const n = calls();
    const r = await settle(ok());
    expect(calls()).toBe(n);
    expect(r.ok).toBe(false);
    const error = (r as { error: CircuitOpenError }).error;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.retryAt).toBe(1000 + 1234 - 1234 + 5000);
    expect(error.retryAfter).toBe(5000 - 1234);
    expect(error.message).toContain('3766 ms');
    expect(error.code).toBe('STAUNCH_CIRCUIT_OPEN');
    // Built without a stack trace (cheap under load), and the global limit is restored.
    expect(error.stack).toMatch(/^CircuitOpenError: /);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('reads half-open once the sleep window has passed, without any call, and reading changes nothing', async () => {
    const { breaker, clock, fail } = setup();
    const changes: string[] = [];
    breaker.on('stateChange', (e) => changes.push(`${e.from}>${e.to}`));
    await failTimes(fail, 20);
    clock.advance(4999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(breaker.state).toBe('half-open');
    expect(breaker.metrics().state).toBe('half-open');
    expect(changes).toEqual(['closed>open']);
  });

  it('admits exactly one trial in half-open; a success closes with a fresh window', async () => {
    const { breaker, clock, fail, ok } = setup();
    const changes: string[] = [];
    breaker.on('stateChange', (e) => changes.push(`${e.from}>${e.to}`));
    await failTimes(fail, 20);
    clock.advance(5000);
    const trial = deferred<string>();
    const first = breaker.execute(() => trial.promise);
    await expect(ok()).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(ok()).rejects.toBeInstanceOf(CircuitOpenError);
    trial.resolve('fine');
    await expect(first).resolves.toBe('fine');
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ requests: 0, errors: 0, shortCircuits: 0 });
    expect(changes).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
    await expect(ok()).resolves.toBe('ok');
  });

  it('re-opens on a failed trial and restarts the sleep window from the failure', async () => {
    const { breaker, clock, fail, ok } = setup();
    await failTimes(fail, 20);
    clock.advance(6000);
    const trial = deferred<string>();
    const first = settle(breaker.execute(() => trial.promise));
    clock.advance(700);
    trial.reject(new Error('still down'));
    await first;
    expect(breaker.state).toBe('open');
    clock.advance(4999);
    const r = await settle(ok());
    expect((r as { error: CircuitOpenError }).error.retryAfter).toBe(1);
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    await expect(ok()).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('admits another trial one sleep window after a trial that never settles', async () => {
    const { breaker, clock, fail, ok } = setup();
    await failTimes(fail, 20);
    clock.advance(5000);
    const hung = deferred<string>();
    const stuck = breaker.execute(() => hung.promise);
    clock.advance(4999);
    const r = await settle(ok());
    expect((r as { error: CircuitOpenError }).error.retryAfter).toBe(1);
    clock.advance(1);
    await expect(ok()).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    // The stale trial's late failure does not re-open the closed breaker.
    hung.reject(new Error('late'));
    await expect(stuck).rejects.toThrow('late');
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics().requests).toBe(0);
  });

  it('ignores late outcomes of calls that started before the last state change', async () => {
    const { breaker, fail } = setup();
    const late = deferred<string>();
    const before = breaker.execute(() => late.promise);
    const ignored: string[] = [];
    breaker.on('ignored', (e) => ignored.push(e.reason));
    await failTimes(fail, 20);
    expect(breaker.state).toBe('open');
    late.resolve('late success'); // hystrix-go would close the circuit here
    await expect(before).resolves.toBe('late success');
    expect(breaker.state).toBe('open');
    expect(ignored).toEqual(['stale']);
  });

  it('offers manual control: isolate, forceClose, reset', async () => {
    const { breaker, fail, ok, calls } = setup();
    const changes: string[] = [];
    breaker.on('stateChange', (e) => changes.push(`${e.from}>${e.to}`));
    breaker.isolate();
    expect(breaker.state).toBe('isolated');
    const r = await settle(ok());
    expect(calls()).toBe(0);
    const error = (r as { error: CircuitOpenError }).error;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.retryAt).toBe(Number.POSITIVE_INFINITY);
    expect(error.retryAfter).toBe(Number.POSITIVE_INFINITY);
    expect(error.message).toMatch(/isolated/);
    breaker.forceClose();
    expect(breaker.state).toBe('forced-closed');
    await failTimes(fail, 50);
    expect(breaker.state).toBe('forced-closed');
    expect(breaker.metrics()).toMatchObject({ requests: 50, errors: 50 });
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics().requests).toBe(0);
    breaker.reset(); // no change, no event
    expect(changes).toEqual(['closed>isolated', 'isolated>forced-closed', 'forced-closed>closed']);
  });

  it('reset() closes an open breaker with a fresh window', async () => {
    const { breaker, fail, ok } = setup();
    await failTimes(fail, 20);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    await expect(ok()).resolves.toBe('ok');
    await failTimes(fail, 18);
    expect(breaker.state).toBe('closed');
  });

  it('emits success, failure and shortCircuit events', async () => {
    const { breaker, fail, ok } = setup({ volumeThreshold: 1 });
    const events: string[] = [];
    breaker.on('success', () => events.push('success'));
    breaker.on('failure', (e) => events.push(`failure:${e.kind}`));
    breaker.on('shortCircuit', (e) => events.push(`short:${e.error.retryAfter}`));
    await ok();
    await fail();
    await settle(ok());
    expect(events).toEqual(['success', 'failure:error', 'short:5000']);
  });

  it('counts results classified by failureResult as failures, and still returns them', async () => {
    const { breaker } = setup({ volumeThreshold: 2, failureResult: (r) => r === 503 });
    const kinds: unknown[] = [];
    breaker.on('failure', (e) => kinds.push([e.kind, e.result]));
    await expect(breaker.execute(() => 503)).resolves.toBe(503);
    await expect(breaker.execute(() => 503)).resolves.toBe(503);
    expect(breaker.state).toBe('open');
    expect(kinds).toEqual([
      ['result', 503],
      ['result', 503],
    ]);
  });

  it('admits N trials at once and needs M successes to close when configured', async () => {
    const { breaker, clock, fail, ok } = setup({ trialCalls: 2, trialSuccesses: 3 });
    await failTimes(fail, 20);
    clock.advance(5000);
    const a = deferred<string>();
    const b = deferred<string>();
    const pa = breaker.execute(() => a.promise);
    const pb = breaker.execute(() => b.promise);
    await expect(ok()).rejects.toBeInstanceOf(CircuitOpenError);
    a.resolve('a');
    await pa;
    expect(breaker.state).toBe('half-open');
    await expect(ok()).resolves.toBe('ok'); // the freed permit; second success
    expect(breaker.state).toBe('half-open');
    b.resolve('b');
    await pb;
    expect(breaker.state).toBe('closed');
  });

  it('re-opens on any failure among concurrent trials; the other trials then no longer count', async () => {
    const { breaker, clock, fail } = setup({ trialCalls: Number.POSITIVE_INFINITY, trialSuccesses: 2 });
    await failTimes(fail, 20);
    clock.advance(5000);
    const a = deferred<string>();
    const pa = breaker.execute(() => a.promise);
    await fail();
    expect(breaker.state).toBe('open');
    a.resolve('late');
    await pa;
    expect(breaker.state).toBe('open');
  });

  it('gives back the permit of a trial that ends with an excluded error or a cancellation', async () => {
    const { breaker, clock, fail, ok } = setup({ exclude: TypeError });
    await failTimes(fail, 20);
    clock.advance(5000);
    await fail(new TypeError('bad input'));
    expect(breaker.state).toBe('half-open');
    const controller = new AbortController();
    const hung = deferred<string>();
    const p = breaker.execute(() => hung.promise, { signal: controller.signal });
    const check = expect(p).rejects.toBe('stop');
    controller.abort('stop');
    await check;
    hung.reject(new Error('aborted'));
    await new Promise((r) => setTimeout(r, 0));
    await expect(ok()).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('never schedules a timer', async () => {
    vi.useFakeTimers();
    const breaker = new CircuitBreaker({ volumeThreshold: 1 });
    await settle(breaker.execute(boom));
    await settle(breaker.execute(() => 1));
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(breaker.state satisfies CircuitState).toBe('half-open');
    await breaker.execute(() => 1);
    expect(breaker.state).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a stateChange listener that isolates the breaker on half-open is obeyed by the arriving call', async () => {
    const { breaker, clock, fail, ok, calls } = setup();
    await failTimes(fail, 20);
    breaker.on('stateChange', (e) => {
      if (e.to === 'half-open') breaker.isolate();
    });
    clock.advance(5000);
    const n = calls();
    await expect(ok()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls()).toBe(n);
    expect(breaker.state).toBe('isolated');
  });
});
