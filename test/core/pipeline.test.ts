import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  type ExecutionContext,
  Fallback,
  Pipeline,
  pipeline,
  RetryPolicy,
  Timeout,
  TimeoutError,
} from '../../src/index.js';

describe('execute and wrap', () => {
  it('resolves with the value and keeps the identity of results and errors', async () => {
    const value = { id: 1 };
    const error = new Error('boom');
    const p = pipeline(new RetryPolicy({ maxRetries: 0 }), new Timeout(1000));
    await expect(p.execute(async () => value)).resolves.toBe(value);
    await expect(p.execute(() => value)).resolves.toBe(value);
    await expect(
      p.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    await expect(p.execute(() => Promise.reject(error))).rejects.toBe(error);
    // A thenable that is not a native promise is adopted.
    // biome-ignore lint/suspicious/noThenProperty: a non-native thenable is what this test adopts
    const thenable = { then: (ok: (v: number) => void) => ok(7) } as unknown as PromiseLike<number>;
    await expect(p.execute(() => thenable)).resolves.toBe(7);
  });

  it('gives the function attempt 1 and a signal', async () => {
    const seen: ExecutionContext[] = [];
    await new RetryPolicy().execute((ctx) => {
      seen.push(ctx);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.attempt).toBe(1);
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(seen[0]?.signal.aborted).toBe(false);
  });

  it('wrap returns a function with the same parameters', async () => {
    const add = new RetryPolicy({ maxRetries: 0 }).wrap(async (a: number, b: number) => a + b);
    expectTypeOf(add).toEqualTypeOf<(a: number, b: number) => Promise<number>>();
    await expect(add(2, 3)).resolves.toBe(5);
    expect(() => new RetryPolicy().wrap(42 as never)).toThrow(TypeError);
  });

  it('rejects a non-function and a non-signal with a TypeError', async () => {
    await expect(new RetryPolicy().execute(null as never)).rejects.toThrow(/fn must be a function/);
    await expect(new RetryPolicy().execute(() => 1, { signal: {} as AbortSignal })).rejects.toThrow(
      /must be an AbortSignal/,
    );
  });
});

describe('pipeline', () => {
  it('runs the first policy outermost', async () => {
    vi.useFakeTimers();
    const order: string[] = [];
    const retry = new RetryPolicy({ backoff: [5] });
    const timeout = new Timeout(100);
    retry.on('retry', () => order.push('retry'));
    timeout.on('timeout', () => order.push('timeout'));
    // Retry outside timeout: each attempt gets its own deadline, and the timeout is retried.
    let attempts = 0;
    const outer = pipeline(retry, timeout).execute(() => {
      attempts++;
      return new Promise(() => {});
    });
    const check = expect(outer).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(100 + 5 + 100);
    await check;
    expect(attempts).toBe(2);
    expect(order).toEqual(['timeout', 'retry', 'timeout']);

    // Timeout outside retry: one deadline for all attempts. Attempts at 0, 30, 60 and 90 ms; the
    // next delay (30) does not fit in the 10 ms left, so the retry gives up with the last error.
    attempts = 0;
    const inner = pipeline(new Timeout(100), new RetryPolicy({ backoff: [30, 30, 30, 30] })).execute(() => {
      attempts++;
      throw new Error('fail');
    });
    const check2 = expect(inner).rejects.toThrow('fail');
    await vi.advanceTimersByTimeAsync(90);
    await check2;
    expect(attempts).toBe(4);
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toBe(4); // no retry after the deadline
  });

  it('nests: a pipeline is a policy, flattened into one chain', async () => {
    const calls: string[] = [];
    const fb = new Fallback(() => 'fallback');
    const inner = pipeline(new RetryPolicy({ maxRetries: 1, backoff: [0] }), new Timeout(1000));
    const outer = pipeline(fb, inner);
    expect(outer).toBeInstanceOf(Pipeline);
    expect(outer.policies).toEqual([fb, inner]);
    const result = await outer.execute(async (ctx) => {
      calls.push(`attempt ${ctx.attempt}`);
      throw new Error('x');
    });
    expect(result).toBe('fallback');
    expect(calls).toEqual(['attempt 1', 'attempt 2']);
    const deeper = pipeline(pipeline(pipeline(new RetryPolicy({ maxRetries: 0 }))));
    const v = { deep: true };
    await expect(deeper.execute(() => v)).resolves.toBe(v);
  });

  it('an empty pipeline just runs the function', async () => {
    await expect(pipeline().execute(() => 3)).resolves.toBe(3);
  });

  it('rejects what is not a policy', () => {
    expect(() => pipeline({} as never)).toThrow(/argument 0 is not a staunch policy/);
    expect(() => pipeline(new Timeout(1), null as never)).toThrow(/argument 1 is not a staunch policy \(got null\)/);
  });

  it('widens the result type by what a fallback may return, and only then', () => {
    const plain = pipeline(new RetryPolicy(), new Timeout(10));
    expectTypeOf(plain.execute(async () => 1)).toEqualTypeOf<Promise<number>>();
    const withFallback = pipeline(new Fallback(() => 'n/a' as const), new RetryPolicy(), new Timeout(10));
    expectTypeOf(withFallback.execute(async () => 1)).toEqualTypeOf<Promise<number | 'n/a'>>();
    const nested = pipeline(new Fallback(() => null), withFallback);
    expectTypeOf(nested.execute(() => true)).toEqualTypeOf<Promise<boolean | 'n/a' | null>>();
    expectTypeOf(new Fallback(() => 0).execute(() => 'x')).toEqualTypeOf<Promise<string | number>>();
  });
});

describe('cancellation', () => {
  it('an already aborted signal rejects with its reason without calling the function', async () => {
    const fn = vi.fn();
    const reason = new Error('shutdown');
    const p = pipeline(new Fallback(() => 'fb'), new RetryPolicy(), new Timeout(10));
    await expect(p.execute(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
  });

  it('abort during an attempt rejects at once with the reason and reaches the function', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const p = pipeline(new Fallback(() => 'fb'), new RetryPolicy({ backoff: [10] }), new Timeout(1000));
    const fn = vi.fn((ctx: ExecutionContext) => {
      seen = ctx.signal;
      return new Promise<string>(() => {});
    });
    const result = p.execute(fn, { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(1);
    const reason = new Error('user left');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(reason);
    // Neither the retry nor the fallback runs for a cancelled caller.
    await vi.advanceTimersByTimeAsync(2000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('abort during a backoff sleep rejects at once and leaves no timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const fn = vi.fn(() => Promise.reject(new Error('fail')));
    const result = new RetryPolicy({ backoff: [60_000] }).execute(fn, { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort('stop');
    await expect(result).rejects.toBe('stop');
    expect(vi.getTimerCount()).toBe(0);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('abort while a timeout is pending rejects with the caller reason, not a TimeoutError', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const result = new Timeout(100).execute(() => new Promise(() => {}), { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(50);
    controller.abort(new Error('caller'));
    await expect(result).rejects.toThrow('caller');
    await vi.advanceTimersByTimeAsync(100);
  });

  it('leaves no listener on a long-lived caller signal after 10,000 calls', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const signal = controller.signal;
    let live = 0;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    const listeners = new Set<unknown>();
    signal.addEventListener = ((type: string, l: EventListener, o?: AddEventListenerOptions) => {
      listeners.add(l);
      live = listeners.size;
      add(type, l, o);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, l: EventListener, o?: EventListenerOptions) => {
      listeners.delete(l);
      live = listeners.size;
      remove(type, l, o);
    }) as typeof signal.removeEventListener;

    const p = pipeline(new Fallback(() => -1), new RetryPolicy({ backoff: [1] }), new Timeout(50));
    let maxLive = 0;
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 10_000; i++) {
      calls.push(
        p.execute(
          (ctx) => {
            // Half of the calls read the signal (materialising the timeout's child signal).
            if (i % 2 === 0) void ctx.signal.aborted;
            if (i % 50 === 0 && ctx.attempt === 1) return Promise.reject(new Error('once'));
            if (i % 7 === 0) return new Promise<number>(() => {}); // hangs: timed out
            return i;
          },
          { signal },
        ),
      );
      maxLive = Math.max(maxLive, live);
    }
    await vi.advanceTimersByTimeAsync(200);
    const results = await Promise.all(calls);
    expect(results).toHaveLength(10_000);
    expect(maxLive).toBeGreaterThan(0);
    expect(live).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
  });
});

describe('the signal of a call nothing can cancel', () => {
  it('is one shared, never-aborted signal that keeps no abort listener', async () => {
    vi.useFakeTimers();
    const policy = new RetryPolicy();
    const a = await policy.execute((ctx) => ctx.signal);
    const b = await pipeline(new Fallback(() => null), policy).execute((ctx) => ctx.signal);
    expect(a).toBe(b);
    expect(a).toBeInstanceOf(AbortSignal);
    expect(a?.aborted).toBe(false);
    const listener = vi.fn();
    a?.addEventListener('abort', listener);
    if (a) a.onabort = listener;
    expect(a?.onabort).toBeNull();
    // It still composes with AbortSignal.any.
    expect(AbortSignal.any([a as AbortSignal, AbortSignal.abort('x')]).reason).toBe('x');
    // A caller signal or a timeout gives the call a signal of its own.
    const own = await policy.execute((ctx) => ctx.signal, { signal: new AbortController().signal });
    expect(own).not.toBe(a);
    const timed = await new Timeout(1000).execute((ctx) => ctx.signal);
    expect(timed).not.toBe(a);
    await vi.advanceTimersByTimeAsync(1000);
  });

  it('is replaced every 1024 calls, so Node 20 AbortSignal.any dependants cannot pile up on it', async () => {
    const policy = new RetryPolicy();
    const seen = new Set<AbortSignal>();
    for (let i = 0; i < 3 * 1024; i++) seen.add(await policy.execute((ctx) => ctx.signal));
    expect(seen.size).toBeGreaterThanOrEqual(3);
    expect(seen.size).toBeLessThanOrEqual(4);
  });
});
