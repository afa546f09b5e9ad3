import { describe, expect, it, vi } from 'vitest';
import { type Clock, type ExecutionContext, pipeline, RetryPolicy, Timeout, TimeoutError } from '../../src/index.js';

const never = () => new Promise<never>(() => {});

describe('Timeout (Hystrix timeout, go-resiliency deadline)', () => {
  it('rejects at once at the deadline and aborts ctx.signal with the same TimeoutError', async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const p = new Timeout(200).execute((ctx) => {
      signal = ctx.signal;
      return never();
    });
    let settled = false;
    p.catch(() => {}).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(199);
    expect(settled).toBe(false);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe(200);
    expect((error as TimeoutError).message).toBe('Operation timed out after 200 ms');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
  });

  it('resolves with the value when the function is in time, and keeps identities', async () => {
    vi.useFakeTimers();
    const value = {};
    const error = new Error('own');
    const t = new Timeout(100);
    await expect(t.execute(async () => value)).resolves.toBe(value);
    await expect(t.execute(() => Promise.reject(error))).rejects.toBe(error);
    await vi.advanceTimersByTimeAsync(100);
  });

  it('swallows a late result and a late rejection, and leaves no timer', async () => {
    vi.useFakeTimers();
    const t = new Timeout(50);
    let lateReject: (e: unknown) => void = () => {};
    let lateResolve: (v: unknown) => void = () => {};
    const a = t.execute(
      () =>
        new Promise((_, reject) => {
          lateReject = reject;
        }),
    );
    const b = t.execute(
      () =>
        new Promise((resolve) => {
          lateResolve = resolve;
        }),
    );
    const checks = [expect(a).rejects.toBeInstanceOf(TimeoutError), expect(b).rejects.toBeInstanceOf(TimeoutError)];
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all(checks);
    lateReject(new Error('late')); // must not surface as an unhandled rejection
    lateResolve('late');
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(t.pending).toBe(0);
  });

  it('a caller abort rejects with the caller’s reason, never a TimeoutError', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    const p = new Timeout(100).execute(
      (ctx) => {
        signal = ctx.signal;
        return never();
      },
      { signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(10);
    controller.abort('caller gone');
    await expect(p).rejects.toBe('caller gone');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe('caller gone');
    await vi.advanceTimersByTimeAsync(100);
  });

  it('a signal read after the caller aborted is already aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let read: () => AbortSignal = () => AbortSignal.abort();
    const p = new Timeout(100).execute(
      (ctx) => {
        read = () => ctx.signal;
        return never();
      },
      { signal: controller.signal },
    );
    controller.abort('gone');
    await expect(p).rejects.toBe('gone');
    expect(read().aborted).toBe(true);
    expect(read().reason).toBe('gone');
    await vi.advanceTimersByTimeAsync(100);
  });

  it('keeps one timer for any number of concurrent calls, and none once idle', async () => {
    vi.useFakeTimers();
    const t = new Timeout(1000);
    const resolvers: Array<() => void> = [];
    const calls = Array.from({ length: 100 }, () =>
      t.execute(
        () =>
          new Promise<void>((resolve) => {
            resolvers.push(resolve);
          }),
      ),
    );
    expect(vi.getTimerCount()).toBe(1);
    expect(t.pending).toBe(100);
    for (const r of resolvers) r();
    await Promise.all(calls);
    expect(t.pending).toBe(0);
    // The shared timer goes off once more, finds nothing, and is not re-armed.
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('deadlines are kept per call even though the timer is shared', async () => {
    vi.useFakeTimers();
    const t = new Timeout(100);
    const first = t.execute(never);
    const firstCheck = expect(first).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(60);
    const second = t.execute(never);
    let secondDone = false;
    second.catch(() => {}).finally(() => (secondDone = true));
    await vi.advanceTimersByTimeAsync(40);
    await firstCheck;
    await vi.advanceTimersByTimeAsync(59);
    expect(secondDone).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(second).rejects.toBeInstanceOf(TimeoutError);
  });

  it('the idle timer does not keep the process alive (unref), the busy one does (ref)', async () => {
    const calls: string[] = [];
    let fire: () => void = () => {};
    let now = 0;
    const clock: Clock = {
      now: () => now,
      setTimeout(cb) {
        fire = cb;
        calls.push('set');
        return { ref: () => calls.push('ref'), unref: () => calls.push('unref') };
      },
      clearTimeout: () => calls.push('clear'),
    };
    const t = new Timeout({ timeout: 10, clock });
    await t.execute(() => 1);
    await t.execute(() => 2);
    expect(calls).toEqual(['set', 'unref', 'ref', 'unref']);
    now = 10;
    fire();
    await t.execute(() => 3);
    expect(calls).toEqual(['set', 'unref', 'ref', 'unref', 'set', 'unref']);
  });

  it('creates no AbortController for a call that never reads its signal', async () => {
    vi.useFakeTimers();
    let created = 0;
    const Original = globalThis.AbortController;
    vi.stubGlobal(
      'AbortController',
      class extends Original {
        constructor() {
          super();
          created++;
        }
      },
    );
    const t = new Timeout(100);
    await t.execute(() => 1);
    await t.execute(async () => 2);
    expect(created).toBe(0);
    await t.execute((ctx: ExecutionContext) => ctx.signal.aborted);
    expect(created).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
  });

  it('cooperative mode waits for the function, then reports the timeout', async () => {
    vi.useFakeTimers();
    const t = new Timeout({ timeout: 100, cooperative: true });
    const abortError = new Error('aborted by signal');
    const p = t.execute(
      (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => setTimeout(() => reject(abortError), 30));
        }),
    );
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(30);
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).cause).toBe(abortError);
    // A function that finishes anyway returns its value (Polly v8's behaviour).
    const q = t.execute(() => new Promise((resolve) => setTimeout(() => resolve('late but fine'), 150)));
    await vi.advanceTimersByTimeAsync(150);
    await expect(q).resolves.toBe('late but fine');
    await vi.advanceTimersByTimeAsync(100);
  });

  it('emits a timeout event with the attempt', async () => {
    vi.useFakeTimers();
    const t = new Timeout(10);
    const seen: Array<[number, number]> = [];
    t.on('timeout', (e) => seen.push([e.timeout, e.attempt]));
    const p = pipeline(new RetryPolicy({ backoff: [0] }), t).execute(never);
    const check = expect(p).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(30);
    await check;
    expect(seen).toEqual([
      [10, 1],
      [10, 2],
    ]);
  });
});
