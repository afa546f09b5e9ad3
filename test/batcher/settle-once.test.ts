/**
 * Issue 11 item 22, Batcher: what the batch function returns is adopted settle-once. A promise
 * whose own `then` calls back twice (or both ways) and returns nothing must neither settle a caller
 * twice nor break the batcher's bookkeeping (it used to throw out of the batch timer).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batcher/index.js';

function hostile(results: number[]): Promise<number[]> {
  const promise = Promise.resolve(results);
  Object.defineProperty(promise, 'then', {
    value(ok: (value: number[]) => void, fail: (error: unknown) => void): void {
      ok(results);
      ok(results.map((r) => -r));
      fail(new Error('and rejects too'));
      // Returns nothing, unlike a real then.
    },
  });
  return promise;
}

describe('Batcher: a hostile promise from the batch function', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('each caller gets the first result, once; flush and close resolve; nothing is left running', async () => {
    let batches = 0;
    const batcher = new Batcher<number, number>({
      window: 10,
      run: (items) => {
        batches++;
        return hostile(items.map((i) => i * 10));
      },
    });
    const calls = [batcher.call(1), batcher.call(2), batcher.call(3)];
    // The batch is dispatched from its timer: that must not throw.
    await vi.advanceTimersByTimeAsync(10);
    await expect(Promise.all(calls)).resolves.toEqual([10, 20, 30]);
    expect(batches).toBe(1);
    expect(batcher.running).toBe(0);
    const more = batcher.call(4);
    await expect(batcher.flush()).resolves.toBeUndefined();
    await expect(more).resolves.toBe(40);
    await expect(batcher.close()).resolves.toBeUndefined();
  });
});
