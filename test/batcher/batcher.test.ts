import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batcher/index.js';
import { BatcherClosedError, BatchResultMissingError } from '../../src/core/errors.js';
import { RetryPolicy } from '../../src/index.js';

describe('Batcher: options', () => {
  const run = async (items: number[]) => items;
  it.each([
    [{ run, window: 0 }, RangeError, /Batcher: window must be > 0, got 0/],
    [{ run, window: -1 }, RangeError, /window must be > 0, got -1/],
    [{ run, window: Number.NaN }, RangeError, /window must be a number, got NaN/],
    [{ run, maxBatchSize: 0 }, RangeError, /maxBatchSize must be >= 1, got 0/],
    [{ run, maxBatchSize: 2.5 }, RangeError, /maxBatchSize must be an integer, got 2.5/],
    [{ run, key: 'id' }, TypeError, /key must be a function, got "id"/],
    [{ run: 5 }, TypeError, /run must be a function, got 5/],
    [{}, TypeError, /run \(the batch function\) is required/],
    [{ run, windw: 5 }, TypeError, /unknown option "windw" \(did you mean "window"\?\)/],
    [undefined, TypeError, /options with a run function are required/],
  ])('rejects %o', (options, type, message) => {
    expect(() => new Batcher(options as never)).toThrow(type);
    expect(() => new Batcher(options as never)).toThrow(message);
  });

  it('defaults to a 10 ms window and no size cap', () => {
    const b = new Batcher({ run });
    expect(b.window).toBe(10);
    expect(b.maxBatchSize).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('Batcher', () => {
  it('collects calls within a fixed window from the first call, in arrival order', async () => {
    vi.useFakeTimers();
    const run = vi.fn(async (ids: number[]) => ids.map((id) => `user ${id}`));
    const b = new Batcher({ run, window: 50 });
    expect(vi.getTimerCount()).toBe(0);
    const p1 = b.call(1);
    await vi.advanceTimersByTimeAsync(30);
    const p2 = b.call(2);
    expect(b.pending).toBe(2);
    await vi.advanceTimersByTimeAsync(19);
    expect(run).not.toHaveBeenCalled();
    const p3 = b.call(3);
    await vi.advanceTimersByTimeAsync(1); // 50 ms after the first call, not the last
    expect(run).toHaveBeenCalledTimes(1);
    expect(run).toHaveBeenCalledWith([1, 2, 3]);
    await expect(Promise.all([p1, p2, p3])).resolves.toEqual(['user 1', 'user 2', 'user 3']);
    expect(vi.getTimerCount()).toBe(0);
    // A later call opens a new batch.
    const p4 = b.call(4);
    await vi.advanceTimersByTimeAsync(50);
    await expect(p4).resolves.toBe('user 4');
    expect(run).toHaveBeenCalledTimes(2);
    expect(run).toHaveBeenLastCalledWith([4]);
  });

  it('dispatches at once when maxBatchSize is reached', async () => {
    vi.useFakeTimers();
    const run = vi.fn(async (ids: number[]) => ids.map((id) => id * 10));
    const b = new Batcher({ run, window: 1000, maxBatchSize: 2 });
    const p1 = b.call(1);
    const p2 = b.call(2);
    expect(run).toHaveBeenCalledWith([1, 2]);
    expect(vi.getTimerCount()).toBe(0);
    const p3 = b.call(3);
    expect(b.pending).toBe(1);
    await expect(Promise.all([p1, p2])).resolves.toEqual([10, 20]);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(p3).resolves.toBe(30);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('maps a Map result back by key (the item itself by default)', async () => {
    vi.useFakeTimers();
    const b = new Batcher<string, number>({
      run: async (ids) => new Map(ids.map((id) => [id, id.length])),
      window: 5,
    });
    const a = b.call('a');
    const bbb = b.call('bbb');
    await vi.advanceTimersByTimeAsync(5);
    await expect(a).resolves.toBe(1);
    await expect(bbb).resolves.toBe(3);
  });

  it('maps a Map result back with a key function; duplicate items share their key', async () => {
    vi.useFakeTimers();
    const run = vi.fn(async (items: { id: number }[]) => new Map(items.map((item) => [item.id, `#${item.id}`])));
    const b = new Batcher({ run, window: 5, key: (item: { id: number }) => item.id });
    const p = [b.call({ id: 1 }), b.call({ id: 2 }), b.call({ id: 1 })];
    await vi.advanceTimersByTimeAsync(5);
    await expect(Promise.all(p)).resolves.toEqual(['#1', '#2', '#1']);
    expect(run.mock.calls[0]?.[0]).toHaveLength(3);
  });

  it('a missing Map entry rejects that caller with BatchResultMissingError; the others get theirs', async () => {
    vi.useFakeTimers();
    const b = new Batcher<number, string>({
      run: async (ids) => new Map(ids.filter((id) => id !== 2).map((id) => [id, `v${id}`])),
      window: 5,
    });
    const p1 = b.call(1);
    const p2 = b.call(2);
    const c2 = expect(p2).rejects.toBeInstanceOf(BatchResultMissingError);
    await vi.advanceTimersByTimeAsync(5);
    await expect(p1).resolves.toBe('v1');
    await c2;
    await expect(p2).rejects.toMatchObject({
      code: 'STAUNCH_BATCH_RESULT_MISSING',
      item: 2,
      key: 2,
      message: expect.stringMatching(/no result for key 2/),
    });
  });

  it('an array of the wrong length rejects every caller with BatchResultMissingError', async () => {
    vi.useFakeTimers();
    const b = new Batcher<number, number>({ run: async (ids) => ids.slice(1), window: 5 });
    const p1 = b.call(1);
    const p2 = b.call(2);
    const c1 = expect(p1).rejects.toThrow(/returned 1 results for 2 items/);
    const c2 = expect(p2).rejects.toBeInstanceOf(BatchResultMissingError);
    await vi.advanceTimersByTimeAsync(5);
    await c1;
    await c2;
  });

  it('a result that is neither array nor Map rejects every caller with a TypeError', async () => {
    vi.useFakeTimers();
    const b = new Batcher<number, number>({ run: async () => ({}) as never, window: 5 });
    const p = b.call(1);
    const c = expect(p).rejects.toThrow(/must return an array or a Map, got object/);
    await vi.advanceTimersByTimeAsync(5);
    await c;
  });

  it('a failing batch rejects every caller with that same error (thrown or rejected)', async () => {
    vi.useFakeTimers();
    const error = new Error('db down');
    for (const run of [
      async () => {
        throw error;
      },
      () => {
        throw error;
      },
    ]) {
      const b = new Batcher<number, number>({ run, window: 5 });
      const p1 = b.call(1);
      const p2 = b.call(2);
      const c1 = expect(p1).rejects.toBe(error);
      const c2 = expect(p2).rejects.toBe(error);
      await vi.advanceTimersByTimeAsync(5);
      await c1;
      await c2;
    }
  });

  it('an aborted caller leaves a batch not yet started, rejected with its reason', async () => {
    vi.useFakeTimers();
    const run = vi.fn(async (ids: number[]) => ids);
    const b = new Batcher({ run, window: 10 });
    const controller = new AbortController();
    const p1 = b.call(1);
    const p2 = b.call(2, { signal: controller.signal });
    const reason = new Error('gone');
    controller.abort(reason);
    await expect(p2).rejects.toBe(reason);
    expect(b.pending).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(10);
    await expect(p1).resolves.toBe(1);
    expect(run).toHaveBeenCalledWith([1]);
  });

  it('a batch left empty by aborts is cancelled with its timer', async () => {
    vi.useFakeTimers();
    const run = vi.fn(async (ids: number[]) => ids);
    const b = new Batcher({ run, window: 10 });
    const controller = new AbortController();
    const p = b.call(1, { signal: controller.signal });
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(vi.getTimerCount()).toBe(0);
    expect(b.pending).toBe(0);
    expect(run).not.toHaveBeenCalled();
  });

  it('an abort after the batch started rejects that caller at once; the batch still serves the others', async () => {
    vi.useFakeTimers();
    let finish!: (v: number[]) => void;
    const run = vi.fn((_ids: number[]) => new Promise<number[]>((resolve) => (finish = resolve)));
    const b = new Batcher({ run, window: 10 });
    const controller = new AbortController();
    const p1 = b.call(1, { signal: controller.signal });
    const p2 = b.call(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(run).toHaveBeenCalledWith([1, 2]);
    controller.abort(new Error('late abort'));
    await expect(p1).rejects.toThrow('late abort');
    finish([10, 20]);
    await expect(p2).resolves.toBe(20);
    await expect(b.call(3, { signal: controller.signal })).rejects.toThrow('late abort');
  });

  it('listens to no signal once its call settled', async () => {
    vi.useFakeTimers();
    const b = new Batcher({ run: async (ids: number[]) => ids, window: 10 });
    const controller = new AbortController();
    const calls = Array.from({ length: 20 }, (_, i) => b.call(i, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(10);
    await Promise.all(calls);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('flush runs what is pending now and resolves when that batch settled', async () => {
    vi.useFakeTimers();
    const run = vi.fn(async (ids: number[]) => ids.map((id) => -id));
    const b = new Batcher({ run, window: 1000 });
    await b.flush(); // nothing pending: nothing runs
    expect(run).not.toHaveBeenCalled();
    const p1 = b.call(1);
    const p2 = b.call(2);
    await b.flush();
    expect(run).toHaveBeenCalledWith([1, 2]);
    await expect(Promise.all([p1, p2])).resolves.toEqual([-1, -2]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flush resolves even when the batch fails (its callers get the error)', async () => {
    const error = new Error('nope');
    const b = new Batcher<number, number>({
      run: async () => {
        throw error;
      },
      window: 1000,
    });
    const p = b.call(1);
    const check = expect(p).rejects.toBe(error);
    await expect(b.flush()).resolves.toBeUndefined();
    await check;
  });

  it('close flushes, waits for running batches, then rejects new calls with BatcherClosedError', async () => {
    vi.useFakeTimers();
    let finishFirst!: (v: number[]) => void;
    const run = vi
      .fn<(ids: number[]) => Promise<number[]>>()
      .mockImplementationOnce(() => new Promise((resolve) => (finishFirst = resolve)))
      .mockImplementation(async (ids) => ids);
    const b = new Batcher({ run, window: 10 });
    const p1 = b.call(1);
    await vi.advanceTimersByTimeAsync(10); // first batch running
    const p2 = b.call(2); // pending
    let closed = false;
    const closing = b.close().then(() => {
      closed = true;
    });
    expect(b.closed).toBe(true);
    expect(run).toHaveBeenCalledTimes(2);
    await expect(p2).resolves.toBe(2);
    await Promise.resolve();
    expect(closed).toBe(false);
    finishFirst([1]);
    await closing;
    await expect(p1).resolves.toBe(1);
    await expect(b.call(3)).rejects.toBeInstanceOf(BatcherClosedError);
    await expect(b.call(3)).rejects.toMatchObject({ code: 'STAUNCH_BATCHER_CLOSED' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('works inside a policy: retry around a batched call', async () => {
    vi.useFakeTimers();
    let attempt = 0;
    const b = new Batcher<number, number>({
      run: async (ids) => {
        attempt++;
        if (attempt === 1) throw new Error('transient');
        return ids.map((id) => id + 100);
      },
      window: 5,
    });
    const retry = new RetryPolicy({ backoff: [10] });
    const p = retry.execute(({ signal }) => b.call(1, { signal }));
    await vi.advanceTimersByTimeAsync(5 + 10 + 5);
    await expect(p).resolves.toBe(101);
  });

  it('rejects bad call options', async () => {
    const b = new Batcher({ run: async (ids: number[]) => ids });
    await expect(b.call(1, { signal: {} as never })).rejects.toThrow(/signal must be an AbortSignal/);
    await expect(b.call(1, { sigal: 1 } as never)).rejects.toThrow(/unknown option "sigal"/);
    expect(b.pending).toBe(0);
  });
});
