import { describe, expect, it, vi } from 'vitest';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  type ExecutionContext,
  Fallback,
  FallbackError,
  pipeline,
  RetryPolicy,
  Timeout,
  TimeoutError,
} from '../../src/index.js';

class BadRequest extends Error {}

describe('Fallback (Hystrix fallback)', () => {
  it('replaces every kind of failure and gives the handler the error and the context', async () => {
    vi.useFakeTimers();
    const seen: Array<[unknown, number]> = [];
    const fb = new Fallback((error: unknown, ctx: ExecutionContext) => {
      seen.push([error, ctx.attempt]);
      return 'fallback';
    });
    const failures = [
      new Error('plain'),
      new TimeoutError(10),
      new CircuitOpenError('open', 0, 0),
      new BulkheadRejectedError('full', 'queue-full', 1, 0),
      'a string',
    ];
    for (const failure of failures) {
      await expect(fb.execute(() => Promise.reject(failure))).resolves.toBe('fallback');
    }
    expect(seen.map(([e]) => e)).toEqual(failures);
    expect(seen.every(([, attempt]) => attempt === 1)).toBe(true);
    // A real timeout inside the fallback.
    const p = pipeline(fb, new Timeout(5)).execute(() => new Promise(() => {}));
    await vi.advanceTimersByTimeAsync(5);
    await expect(p).resolves.toBe('fallback');
  });

  it('passes successes through untouched', async () => {
    const handler = vi.fn(() => 0);
    const value = { v: 1 };
    await expect(new Fallback(handler).execute(() => value)).resolves.toBe(value);
    expect(handler).not.toHaveBeenCalled();
  });

  it('never runs for excluded errors, which are rethrown unchanged', async () => {
    const handler = vi.fn(() => 'fb');
    const fb = new Fallback(handler, { exclude: BadRequest });
    const bad = new BadRequest('400');
    await expect(fb.execute(() => Promise.reject(bad))).rejects.toBe(bad);
    expect(handler).not.toHaveBeenCalled();
    const only = new Fallback(handler, { handle: (e) => e instanceof TimeoutError });
    const other = new Error('other');
    await expect(only.execute(() => Promise.reject(other))).rejects.toBe(other);
    await expect(only.execute(() => Promise.reject(new TimeoutError(1)))).resolves.toBe('fb');
  });

  it('never runs for the caller’s own cancellation', async () => {
    const handler = vi.fn(() => 'fb');
    const controller = new AbortController();
    let reject: (e: unknown) => void = () => {};
    const p = new Fallback(handler).execute(
      () =>
        new Promise((_, r) => {
          reject = r;
        }),
      { signal: controller.signal },
    );
    controller.abort('gone');
    reject(new Error('aborted work'));
    await expect(p).rejects.toBe('gone');
    await Promise.resolve();
    expect(handler).not.toHaveBeenCalled();
  });

  it('a failing handler yields a FallbackError with both errors', async () => {
    const original = new Error('upstream down');
    const broken = new Error('cache down');
    const sync = new Fallback(() => {
      throw broken;
    });
    const error = await sync.execute(() => Promise.reject(original)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FallbackError);
    expect((error as FallbackError).error).toBe(original);
    expect((error as FallbackError).cause).toBe(broken);
    const asyncBroken = new Fallback(async () => Promise.reject(broken));
    const error2 = await asyncBroken.execute(() => Promise.reject(original)).catch((e: unknown) => e);
    expect((error2 as FallbackError).cause).toBe(broken);
  });

  it('supports async handlers and reports events', async () => {
    const fb = new Fallback(async (e) => `recovered from ${(e as Error).message}`);
    const events: unknown[] = [];
    fb.on('fallback', (e) => events.push(['fallback', (e.error as Error).message, e.value]));
    fb.on('fallbackFailed', (e) => events.push(['failed', e.fallbackError]));
    await expect(fb.execute(() => Promise.reject(new Error('x')))).resolves.toBe('recovered from x');
    const failing = new Fallback(() => {
      throw 'nope';
    });
    failing.on('fallbackFailed', (e) => events.push(['failed', e.fallbackError]));
    await expect(failing.execute(() => Promise.reject(new Error('y')))).rejects.toBeInstanceOf(FallbackError);
    expect(events).toEqual([
      ['fallback', 'x', 'recovered from x'],
      ['failed', 'nope'],
    ]);
  });

  it('sits outside the retry: runs once, after the retries are exhausted', async () => {
    vi.useFakeTimers();
    const handler = vi.fn(() => 'fb');
    let attempts = 0;
    const p = pipeline(new Fallback(handler), new RetryPolicy({ backoff: [1, 1] })).execute(() => {
      attempts++;
      throw new Error('x');
    });
    await vi.runAllTimersAsync();
    await expect(p).resolves.toBe('fb');
    expect(attempts).toBe(3);
    expect(handler).toHaveBeenCalledTimes(1);
  });
});
