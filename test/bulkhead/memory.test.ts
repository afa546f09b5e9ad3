import { describe, expect, it } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';

/** What a bulkhead's queue holds besides its live waiters: its own fields, none of them storage. */
function queueStorage(bulkhead: Bulkhead): unknown[] {
  return Object.values(bulkhead._semaphore._queue).filter((v) => typeof v === 'object' && v !== null);
}

describe('Bulkhead memory after a burst', () => {
  it('an idle Bulkhead keeps no queue storage after 200,000 queued calls (0.1.0 kept the grown ring)', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: Number.POSITIVE_INFINITY });
    let open!: () => void;
    const gate = bulkhead.execute(() => new Promise<void>((resolve) => (open = resolve)));
    const n = 200_000;
    const calls: Promise<number>[] = new Array(n);
    for (let i = 0; i < n; i++) calls[i] = bulkhead.execute(() => i);
    expect(bulkhead.queued).toBe(n);
    // Queued in batches of 16, 32, ... 8192 calls: the semaphore's queue holds a few nodes.
    expect(bulkhead._semaphore._queue.size).toBeLessThan(40);
    open();
    await gate;
    const results = await Promise.all(calls);
    expect(results[n - 1]).toBe(n - 1);
    expect(bulkhead.queued).toBe(0);
    expect(bulkhead.running).toBe(0);
    const queue = bulkhead._semaphore._queue;
    // The structural measure: the queue holds only batches with calls still waiting, and an empty
    // queue references nothing — no buffer grown by the burst is kept.
    expect(queue.size).toBe(0);
    expect(queue.head).toBeUndefined();
    expect(queue.tail).toBeUndefined();
    expect(queueStorage(bulkhead)).toEqual([]);
  });

  it('aborted and timed-out waiters leave nothing behind either', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 10_000, queueTimeout: 1 });
    let open!: () => void;
    const gate = bulkhead.execute(() => new Promise<void>((resolve) => (open = resolve)));
    const controller = new AbortController();
    const aborted = Array.from({ length: 1000 }, () =>
      bulkhead.execute(() => 1, { signal: controller.signal }).catch((e: unknown) => e),
    );
    const timed = Array.from({ length: 1000 }, () => bulkhead.execute(() => 2).catch((e: unknown) => e));
    expect(bulkhead.queued).toBe(2000);
    controller.abort(new Error('gone'));
    expect(bulkhead.queued).toBe(1000);
    await Promise.all(timed);
    expect(bulkhead.queued).toBe(0);
    open();
    await gate;
    await Promise.all(aborted);
    const queue = bulkhead._semaphore._queue;
    expect([queue.size, queue.head, queue.tail]).toEqual([0, undefined, undefined]);
  });
});

describe('Bulkhead queue batches', () => {
  it('admits in FIFO order across batches, skipping callers that left, and queues again after a batch empties', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1000 });
    const order: number[] = [];
    let open!: () => void;
    const gate = bulkhead.execute(() => new Promise<void>((resolve) => (open = resolve)));
    const controllers: AbortController[] = [];
    const calls: Promise<unknown>[] = [];
    // 100 calls span several batches (16, 32, 64); every third one aborts while queued.
    for (let i = 0; i < 100; i++) {
      const controller = new AbortController();
      controllers.push(controller);
      calls.push(bulkhead.execute(() => order.push(i), { signal: controller.signal }).catch((e: unknown) => e));
    }
    for (let i = 0; i < 100; i += 3) (controllers[i] as AbortController).abort(new Error(`left ${i}`));
    // Every caller of the newest batch (calls 48..99) leaves: the batch leaves the queue.
    for (let i = 48; i < 100; i++) (controllers[i] as AbortController).abort(new Error(`left ${i}`));
    expect(bulkhead.queued).toBe(32); // 0..47 without the multiples of 3
    for (let i = 100; i < 110; i++) calls.push(bulkhead.execute(() => order.push(i)));
    expect(bulkhead.queued).toBe(42);
    open();
    await gate;
    await Promise.all(calls);
    const expected = [
      ...Array.from({ length: 48 }, (_, i) => i).filter((i) => i % 3 !== 0),
      ...Array.from({ length: 10 }, (_, i) => 100 + i),
    ];
    expect(order).toEqual(expected);
    expect(bulkhead._semaphore._queue.size).toBe(0);
    expect(bulkhead.running).toBe(0);
  });

  it('queueTimeout rejects the oldest waiters first across batches, holes included', async () => {
    let t = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const clock = {
      now: () => t,
      setTimeout: (fn: () => void, ms: number) => {
        const timer = { at: t + ms, fn };
        timers.push(timer);
        return timer;
      },
      clearTimeout: (timer: unknown) => {
        const i = timers.indexOf(timer as (typeof timers)[number]);
        if (i >= 0) timers.splice(i, 1);
      },
    };
    const advance = (ms: number): void => {
      t += ms;
      for (;;) {
        const due = timers.filter((x) => x.at <= t).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) return;
        timers.splice(timers.indexOf(due), 1);
        due.fn();
      }
    };
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1000, queueTimeout: 100, clock });
    const gate = bulkhead.execute(() => new Promise<void>(() => {}));
    const early: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) early.push(bulkhead.execute(() => i).catch((e: unknown) => e));
    advance(50);
    const late: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) late.push(bulkhead.execute(() => i).catch((e: unknown) => e));
    expect(bulkhead.queued).toBe(80);
    advance(50);
    expect(bulkhead.queued).toBe(40);
    for (const e of await Promise.all(early)) expect((e as Error).name).toBe('BulkheadRejectedError');
    advance(50);
    expect(bulkhead.queued).toBe(0);
    for (const e of await Promise.all(late)) expect((e as { reason: string }).reason).toBe('queue-timeout');
    expect(timers).toEqual([]);
    expect(bulkhead._semaphore._queue.size).toBe(0);
    void gate;
  });
});
