/**
 * Behaviours that surviving mutants showed no test pinned (Stryker run over src/core, src/retry,
 * src/timeout, src/fallback; see docs/reliability.md "Mutation testing"). Each test names the
 * mutant it kills.
 */
import { describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../src/core/events.js';
import { RetryPolicy, Timeout } from '../../src/index.js';

class Transient extends Error {}
class Fatal extends Error {}

describe('RetryPolicy', () => {
  it('a non-retryable error on a later attempt fails at once (RetryPolicy `_attempts`: `context.aborted || !retryable`)', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const fatal = new Fatal('stop');
    const retry = new RetryPolicy({ maxRetries: 5, backoff: [10], failOn: Fatal });
    const p = retry.execute(() => {
      calls++;
      return Promise.reject(calls === 1 ? new Transient('again') : fatal);
    });
    const check = expect(p).rejects.toBe(fatal);
    await vi.advanceTimersByTimeAsync(1_000);
    await check;
    expect(calls).toBe(2);
  });

  it("the caller's abort during a later attempt is final, not retried", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const controller = new AbortController();
    const retry = new RetryPolicy({ maxRetries: 5, backoff: [10] });
    const p = retry.execute(
      ({ signal }) => {
        calls++;
        if (calls === 1) return Promise.reject(new Transient('again'));
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Transient('aborted work'))),
        );
      },
      { signal: controller.signal },
    );
    const check = expect(p).rejects.toBe('stop');
    await vi.advanceTimersByTimeAsync(15);
    controller.abort('stop');
    await vi.advanceTimersByTimeAsync(1_000);
    await check;
    expect(calls).toBe(2);
  });

  it('a finite non-array backoff without maxRetries stops when it runs out (`_repeatLast` only with maxRetries)', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const once = {
      *[Symbol.iterator]() {
        yield 10;
      },
    };
    const retry = new RetryPolicy({ backoff: once });
    const p = retry.execute(() => {
      calls++;
      return Promise.reject(new Transient('x'));
    });
    const check = expect(p).rejects.toBeInstanceOf(Transient);
    await vi.advanceTimersByTimeAsync(1_000);
    await check;
    expect(calls).toBe(2);
    // With maxRetries, the last delay repeats.
    calls = 0;
    const repeating = new RetryPolicy({ backoff: once, maxRetries: 3 });
    const q = repeating.execute(() => {
      calls++;
      return Promise.reject(new Transient('x'));
    });
    const check2 = expect(q).rejects.toBeInstanceOf(Transient);
    await vi.advanceTimersByTimeAsync(1_000);
    await check2;
    expect(calls).toBe(4);
  });

  it('a code-string matcher matches only errors with that code (match.ts `code === m`)', async () => {
    const coded = (code: unknown) => Object.assign(new Error('coded'), { code });
    let calls = 0;
    const retry = new RetryPolicy({ maxRetries: 1, backoff: [0], failOn: 'ECONNRESET' });
    await expect(
      retry.execute(() => {
        calls++;
        return Promise.reject(coded('ETIMEDOUT'));
      }),
    ).rejects.toThrow('coded');
    expect(calls).toBe(2);
    calls = 0;
    await expect(
      retry.execute(() => {
        calls++;
        return Promise.reject(coded('ECONNRESET'));
      }),
    ).rejects.toThrow('coded');
    expect(calls).toBe(1);
    // Non-objects never match a code.
    calls = 0;
    await expect(
      retry.execute(() => {
        calls++;
        return Promise.reject('ECONNRESET');
      }),
    ).rejects.toBe('ECONNRESET');
    expect(calls).toBe(2);
    // null and undefined carry no code either (and must not make the matcher throw).
    for (const thrown of [null, undefined]) {
      calls = 0;
      await expect(
        retry.execute(() => {
          calls++;
          return Promise.reject(thrown);
        }),
      ).rejects.toBe(thrown);
      expect(calls).toBe(2);
    }
  });

  it('predicates (arrow and function expressions) are called, Error classes are matched by instanceof (match.ts `isErrorClass`)', async () => {
    const seen: unknown[] = [];
    const arrow = (e: unknown) => {
      seen.push(e);
      return false;
    };
    function named(e: unknown): boolean {
      seen.push(e);
      return e instanceof Fatal;
    }
    const retry = new RetryPolicy({ maxRetries: 1, backoff: [0], failOn: [arrow, named] });
    const fatal = new Fatal('f');
    let calls = 0;
    await expect(
      retry.execute(() => {
        calls++;
        return Promise.reject(fatal);
      }),
    ).rejects.toBe(fatal);
    expect(calls).toBe(1);
    expect(seen).toEqual([fatal, fatal]);
    const byClass = new RetryPolicy({ maxRetries: 1, backoff: [0], failOn: Fatal });
    calls = 0;
    await expect(
      byClass.execute(() => {
        calls++;
        return Promise.reject(new Transient('t'));
      }),
    ).rejects.toBeInstanceOf(Transient);
    expect(calls).toBe(2);
  });
});

describe('Timeout', () => {
  it('cooperative: a rejection before the deadline keeps its identity (Timeout `scope.expired && cooperative`)', async () => {
    vi.useFakeTimers();
    const own = new Error('own failure');
    const t = new Timeout({ timeout: 100, cooperative: true });
    const p = t.execute(() => new Promise((_, reject) => setTimeout(() => reject(own), 10)));
    const check = expect(p).rejects.toBe(own);
    await vi.advanceTimersByTimeAsync(200);
    await check;
  });

  it('cooperative: a rejection after the deadline becomes a TimeoutError with the cause', async () => {
    vi.useFakeTimers();
    const t = new Timeout({ timeout: 50, cooperative: true });
    const p = t.execute(
      ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))),
    );
    const error = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    const e = (await error) as Error & { timeout: number };
    expect(e.name).toBe('TimeoutError');
    expect(e.timeout).toBe(50);
    expect((e.cause as Error).message).toBe('stopped');
  });
});

describe('clock validation (validate.ts `clockOption`, each condition)', () => {
  it.each([
    ['null', null],
    ['a number', 5],
    ['no now()', { setTimeout() {}, clearTimeout() {} }],
    ['no setTimeout()', { now: (): number => 0, clearTimeout() {} }],
    ['no clearTimeout()', { now: (): number => 0, setTimeout() {} }],
  ])('a clock with %s is a TypeError naming the option', (_, clock) => {
    expect(() => new RetryPolicy({ clock: clock as never })).toThrow(/RetryPolicy: clock must be a Clock/);
    expect(() => new Timeout({ timeout: 10, clock: clock as never })).toThrow(/Timeout: clock must be a Clock/);
  });
});

describe('Emitter (events.ts unsubscribe)', () => {
  it('unsubscribing removes only that listener, is idempotent, and the last one leaves nothing listening', () => {
    const e = new Emitter<{ tick: number }>();
    const a: number[] = [];
    const b: number[] = [];
    const offA = e.on('tick', (n) => a.push(n));
    const offB = e.on('tick', (n) => b.push(n));
    e.emit('tick', 1);
    offA();
    offA();
    e.emit('tick', 2);
    expect(a).toEqual([1]);
    expect(b).toEqual([1, 2]);
    expect(e.listening('tick')).toBe(true);
    // The same function subscribed twice: each unsubscribe removes one registration.
    const offB2 = e.on('tick', (n) => b.push(n * 10));
    offB();
    e.emit('tick', 3);
    expect(b).toEqual([1, 2, 30]);
    offB2();
    expect(e.listening('tick')).toBe(false);
    e.emit('tick', 4);
    expect(b).toEqual([1, 2, 30]);
    expect(() => e.on('tick', 5 as never)).toThrow(TypeError);
  });
});

describe('execute() signal duck-typing (abort.ts `isAbortSignal`)', () => {
  it.each([
    ['no removeEventListener', { aborted: false, addEventListener() {} }],
    ['no addEventListener', { aborted: false, removeEventListener() {} }],
    ['aborted not a boolean', { aborted: 'no', addEventListener() {}, removeEventListener() {} }],
    ['null', null],
    ['a string', 'signal'],
  ])('a signal-like value with %s is a TypeError', async (_, signal) => {
    await expect(new RetryPolicy().execute(() => 1, { signal: signal as never })).rejects.toBeInstanceOf(TypeError);
  });
});
