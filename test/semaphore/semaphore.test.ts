import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { SemaphoreReleaseError, SemaphoreTimeoutError, StaunchError } from '../../src/core/errors.js';
import { Semaphore } from '../../src/semaphore/index.js';

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('Semaphore', () => {
  it('validates its arguments', () => {
    expect(() => new Semaphore(0)).toThrow(/Semaphore: permits must be >= 1, got 0/);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore(Number.NaN)).toThrow(/permits must be a number, got NaN/);
    expect(() => new Semaphore('2' as never)).toThrow(TypeError);
    expect(() => new Semaphore(1, { timeout: 0 })).toThrow(/timeout must be > 0, got 0/);
    expect(() => new Semaphore(1, { timout: 5 } as never)).toThrow(
      /unknown option "timout" \(did you mean "timeout"\?\)/,
    );
  });

  it('acquire takes a free permit at once; release gives it back', async () => {
    const s = new Semaphore(2);
    await s.acquire();
    expect(s.available).toBe(1);
    await s.acquire();
    expect(s.available).toBe(0);
    s.release();
    s.release();
    expect(s.available).toBe(2);
  });

  it('waiters are served in FIFO order; a released permit goes straight to the head', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const order: number[] = [];
    const a = s.acquire().then(() => order.push(1));
    const b = s.acquire().then(() => order.push(2));
    expect(s.waiting).toBe(2);
    s.release();
    // The permit went to waiter 1, not back to the pool: a newcomer cannot take it.
    expect(s.tryAcquire()).toBe(false);
    expect(s.available).toBe(0);
    await a;
    s.release();
    await b;
    expect(order).toEqual([1, 2]);
    s.release();
    expect(s.available).toBe(1);
    expect(s.waiting).toBe(0);
  });

  it('tryAcquire never waits', () => {
    const s = new Semaphore(1);
    expect(s.tryAcquire()).toBe(true);
    expect(s.tryAcquire()).toBe(false);
    s.release();
    expect(s.tryAcquire()).toBe(true);
  });

  it('release without acquire throws a typed error', () => {
    const s = new Semaphore(2);
    expect(() => s.release()).toThrow(SemaphoreReleaseError);
    s.tryAcquire();
    s.release();
    let error: unknown;
    try {
      s.release();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SemaphoreReleaseError);
    expect(error).toBeInstanceOf(StaunchError);
    expect(error).toMatchObject({ code: 'STAUNCH_SEMAPHORE_RELEASE', permits: 2 });
    expect(s.available).toBe(2);
  });

  it('acquire rejects with a typed error after the default timeout, and leaves the queue', async () => {
    vi.useFakeTimers();
    const s = new Semaphore(1, { timeout: 100 });
    await s.acquire();
    const p = s.acquire();
    const check = expect(p).rejects.toMatchObject({ code: 'STAUNCH_SEMAPHORE_TIMEOUT', timeout: 100, permits: 1 });
    await vi.advanceTimersByTimeAsync(99);
    expect(s.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await check;
    await expect(p).rejects.toBeInstanceOf(SemaphoreTimeoutError);
    expect(s.waiting).toBe(0);
    s.release();
    expect(s.available).toBe(1);
  });

  it('a per-call timeout overrides the default; an admitted waiter clears its timer', async () => {
    vi.useFakeTimers();
    const s = new Semaphore(1, { timeout: 1000 });
    await s.acquire();
    const short = s.acquire({ timeout: 10 });
    const check = expect(short).rejects.toMatchObject({ timeout: 10 });
    await vi.advanceTimersByTimeAsync(10);
    await check;
    const later = s.acquire();
    expect(vi.getTimerCount()).toBe(1);
    s.release();
    await later;
    expect(vi.getTimerCount()).toBe(0);
    await expect(s.acquire({ timeout: -1 })).rejects.toThrow(/timeout must be > 0, got -1/);
  });

  it('acquire rejects with the reason on abort, frees its place, and leaves no listener', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const controller = new AbortController();
    const p = s.acquire({ signal: controller.signal });
    const other = s.acquire();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(s.waiting).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    s.release();
    await other;
    expect(s.available).toBe(0);
  });

  it('an already aborted signal rejects at once and takes no permit', async () => {
    const s = new Semaphore(1);
    const controller = new AbortController();
    controller.abort(new Error('early'));
    await expect(s.acquire({ signal: controller.signal })).rejects.toThrow('early');
    expect(s.available).toBe(1);
    await expect(s.acquire({ signal: 'nope' as never })).rejects.toThrow(TypeError);
  });

  it('admitted waiters stop listening to a shared signal', async () => {
    const s = new Semaphore(1);
    const controller = new AbortController();
    await s.acquire();
    const waits = Array.from({ length: 50 }, () => s.acquire({ signal: controller.signal }));
    for (let i = 0; i < 50; i++) {
      s.release();
      await flush();
    }
    await Promise.all(waits);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    s.release();
    expect(s.available).toBe(1);
  });
});
