import { describe, expect, it, vi } from 'vitest';
import { Fallback, pipeline, RetryPolicy, Timeout, TimeoutError } from '../src/index.js';

describe('smoke', () => {
  it('pipeline of fallback, retry and timeout', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const p = pipeline(new Fallback(() => 'fb'), new RetryPolicy({ backoff: [10, 20] }), new Timeout(50));
    const result = p.execute(async (ctx) => {
      calls++;
      if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
      return 'ok';
    });
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBe('ok');
    expect(calls).toBe(3);
    const hung = p.execute(() => new Promise<string>(() => {}));
    await vi.advanceTimersByTimeAsync(50 + 10 + 50 + 20 + 50);
    await expect(hung).resolves.toBe('fb');
    await vi.advanceTimersByTimeAsync(100);
  });
  it('timeout rejects with TimeoutError and aborts the signal', async () => {
    vi.useFakeTimers();
    const t = new Timeout(100);
    let seen: AbortSignal | undefined;
    const r = t.execute((ctx) => {
      seen = ctx.signal;
      return new Promise(() => {});
    });
    const check = expect(r).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(100);
    await check;
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
  });
});
