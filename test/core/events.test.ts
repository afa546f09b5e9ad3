import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../src/core/events.js';
import {
  CircuitBreaker,
  type ErrorReporter,
  pipeline,
  RetryPolicy,
  setErrorReporter,
  Timeout,
  TimeoutError,
} from '../../src/index.js';

// Issue 11 item 7: a listener that throws must not crash the process nor change the call's
// outcome; its error goes to the error reporter with the source `<Policy> listener "<event>"`.

let reported: Array<[unknown, string]>;
let previous: ErrorReporter;
beforeEach(() => {
  reported = [];
  previous = setErrorReporter((error, source) => {
    reported.push([error, source]);
  });
});
afterEach(() => {
  setErrorReporter(previous);
});

const never = () => new Promise<never>(() => {});

describe('a listener that throws', () => {
  it('leaves a RetryPolicy call’s outcome unchanged; the other listeners still run; the error is reported', async () => {
    vi.useFakeTimers();
    const retry = new RetryPolicy({ backoff: [10] });
    const bug = new Error('listener bug');
    const seen: string[] = [];
    retry.on('retry', () => {
      seen.push('first');
      throw bug;
    });
    retry.on('retry', () => seen.push('second'));
    retry.on('success', () => {
      throw 'a string, too';
    });
    const p = retry.execute((ctx) => {
      if (ctx.attempt === 1) throw new Error('transient');
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(10);
    await expect(p).resolves.toBe('ok');
    expect(seen).toEqual(['first', 'second']);
    expect(reported).toEqual([
      [bug, 'RetryPolicy listener "retry"'],
      ['a string, too', 'RetryPolicy listener "success"'],
    ]);
  });

  it('leaves a failing call’s error unchanged (giveUp listener)', async () => {
    const retry = new RetryPolicy({ backoff: [] });
    retry.on('giveUp', () => {
      throw new Error('bug');
    });
    const original = new Error('original');
    await expect(retry.execute(() => Promise.reject(original))).rejects.toBe(original);
    expect(reported.map(([, source]) => source)).toEqual(['RetryPolicy listener "giveUp"']);
  });

  it('does not stop a Timeout from expiring its other calls', async () => {
    vi.useFakeTimers();
    const timeout = new Timeout(100);
    timeout.on('timeout', () => {
      throw new Error('bug');
    });
    const calls = [timeout.execute(never), timeout.execute(never), timeout.execute(never)];
    const checks = calls.map((p) => expect(p).rejects.toBeInstanceOf(TimeoutError));
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(checks);
    expect(timeout.pending).toBe(0);
    expect(reported.map(([, source]) => source)).toEqual(Array(3).fill('Timeout listener "timeout"'));
  });

  it('names the policy that emitted, inside a pipeline too (CircuitBreaker)', async () => {
    const breaker = new CircuitBreaker({ volumeThreshold: 1 });
    breaker.on('stateChange', () => {
      throw new Error('bug in stateChange listener');
    });
    const failure = new Error('down');
    await expect(
      pipeline(new RetryPolicy({ backoff: [] }), breaker).execute(() => Promise.reject(failure)),
    ).rejects.toBe(failure);
    expect(breaker.state).toBe('open');
    expect(reported).toEqual([[new Error('bug in stateChange listener'), 'CircuitBreaker listener "stateChange"']]);
  });

  it('a reporter that throws is ignored too', async () => {
    setErrorReporter(() => {
      throw new Error('reporter bug');
    });
    const retry = new RetryPolicy();
    retry.on('success', () => {
      throw new Error('listener bug');
    });
    await expect(retry.execute(() => 42)).resolves.toBe(42);
  });
});

describe('Emitter', () => {
  it('names its owner by string, by class, or generically', () => {
    class Custom {}
    const byString = new Emitter<{ tick: number }>('Batcher');
    const byClass = new Emitter<{ tick: number }>(new Custom());
    const anonymous = new Emitter<{ tick: number }>();
    for (const emitter of [byString, byClass, anonymous]) {
      emitter.on('tick', () => {
        throw new Error('x');
      });
      emitter.emit('tick', 1);
    }
    expect(reported.map(([, source]) => source)).toEqual([
      'Batcher listener "tick"',
      'Custom listener "tick"',
      'policy listener "tick"',
    ]);
  });
});
