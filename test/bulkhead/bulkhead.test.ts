import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import { BulkheadRejectedError, pipeline, Timeout, TimeoutError } from '../../src/index.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T = string>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise reactions run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('Bulkhead: options', () => {
  it('defaults to 10 concurrent calls and no queue', () => {
    const b = new Bulkhead();
    expect(b.maxConcurrent).toBe(10);
    expect(b.maxQueue).toBe(0);
    expect(b.queueTimeout).toBeUndefined();
    expect(b.available).toBe(10);
  });

  it.each([
    [{ maxConcurrent: 0 }, RangeError, /maxConcurrent must be >= 1, got 0/],
    [{ maxConcurrent: -1 }, RangeError, /maxConcurrent must be >= 1, got -1/],
    [{ maxConcurrent: 1.5 }, RangeError, /maxConcurrent must be an integer, got 1.5/],
    [{ maxConcurrent: Number.NaN }, RangeError, /maxConcurrent must be a number, got NaN/],
    [{ maxConcurrent: '3' }, TypeError, /maxConcurrent must be a number, got "3"/],
    [{ maxQueue: -1 }, RangeError, /maxQueue must be >= 0, got -1/],
    [{ maxQueue: 2.5 }, RangeError, /maxQueue must be an integer, got 2.5/],
    [{ maxQueue: 1, queueTimeout: 0 }, RangeError, /queueTimeout must be > 0, got 0/],
    [{ maxQueue: 1, queueTimeout: -5 }, RangeError, /queueTimeout must be > 0, got -5/],
    [{ maxQueue: 1, queueTimeout: Number.POSITIVE_INFINITY }, RangeError, /queueTimeout must be finite/],
    [{ queueTimeout: 100 }, RangeError, /queueTimeout \(100 ms\) needs maxQueue > 0/],
    [{ maxConcurent: 3 }, TypeError, /unknown option "maxConcurent" \(did you mean "maxConcurrent"\?\)/],
    [5, TypeError, /options must be an object, got 5/],
  ])('rejects %o', (options, type, message) => {
    expect(() => new Bulkhead(options as never)).toThrow(type);
    expect(() => new Bulkhead(options as never)).toThrow(message);
  });

  it('allows Infinity for maxConcurrent and maxQueue', () => {
    const b = new Bulkhead({ maxConcurrent: Number.POSITIVE_INFINITY, maxQueue: Number.POSITIVE_INFINITY });
    expect(b.maxConcurrent).toBe(Number.POSITIVE_INFINITY);
    expect(b.available).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('Bulkhead: limits', () => {
  it('runs at most maxConcurrent calls and rejects at once when there is no queue (Hystrix)', async () => {
    const b = new Bulkhead({ maxConcurrent: 2 });
    const d1 = deferred();
    const d2 = deferred();
    const fn = vi.fn();
    const p1 = b.execute(() => d1.promise);
    const p2 = b.execute(() => d2.promise);
    expect(b.running).toBe(2);
    expect(b.available).toBe(0);
    const rejected = b.execute(fn);
    await expect(rejected).rejects.toBeInstanceOf(BulkheadRejectedError);
    await expect(rejected).rejects.toMatchObject({
      reason: 'queue-full',
      maxConcurrent: 2,
      maxQueue: 0,
      code: 'STAUNCH_BULKHEAD_REJECTED',
      message: expect.stringMatching(/maxConcurrent 2, maxQueue 0/),
    });
    expect(fn).not.toHaveBeenCalled();
    d1.resolve('a');
    d2.resolve('b');
    await expect(p1).resolves.toBe('a');
    await expect(p2).resolves.toBe('b');
    expect(b.running).toBe(0);
    expect(b.available).toBe(2);
  });

  it('queues up to maxQueue calls in FIFO order and rejects beyond', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const order: string[] = [];
    const first = deferred();
    const p1 = b.execute(() => first.promise);
    const p2 = b.execute(() => {
      order.push('second');
      return 'two';
    });
    const p3 = b.execute(() => {
      order.push('third');
      return 'three';
    });
    expect(b.queued).toBe(2);
    await expect(b.execute(() => 'x')).rejects.toMatchObject({ reason: 'queue-full' });
    expect(order).toEqual([]);
    first.resolve('one');
    await expect(Promise.all([p1, p2, p3])).resolves.toEqual(['one', 'two', 'three']);
    expect(order).toEqual(['second', 'third']);
    expect(b.running).toBe(0);
    expect(b.queued).toBe(0);
  });

  it('hands a freed slot straight to the head of the queue (no newcomer overtakes)', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const first = deferred();
    const queuedStarted = vi.fn(() => new Promise<never>(() => {}));
    void b.execute(() => first.promise);
    void b.execute(queuedStarted);
    first.resolve('done');
    await flush();
    expect(queuedStarted).toHaveBeenCalledTimes(1);
    expect(b.running).toBe(1);
    expect(b.queued).toBe(0);
    // The slot went to the waiter: a newcomer must queue.
    const late = b.execute(() => 'late');
    expect(b.queued).toBe(1);
    void late;
  });

  it('releases the slot on failure, and a synchronous throw, keeping the error identity', async () => {
    const b = new Bulkhead({ maxConcurrent: 1 });
    const error = new Error('boom');
    await expect(
      b.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(b.running).toBe(0);
    await expect(b.execute(() => Promise.reject(error))).rejects.toBe(error);
    expect(b.running).toBe(0);
    await expect(b.execute(() => 42)).resolves.toBe(42);
    expect(b.running).toBe(0);
  });

  it('rejects a queued call after queueTimeout, with one timer for the whole queue', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 3, queueTimeout: 100 });
    const hold = deferred();
    const p0 = b.execute(() => hold.promise);
    expect(vi.getTimerCount()).toBe(0); // no timer while nobody waits
    const p1 = b.execute(() => 'one');
    await vi.advanceTimersByTimeAsync(40);
    const p2 = b.execute(() => 'two');
    const p3 = b.execute(() => 'three');
    expect(vi.getTimerCount()).toBe(1);
    const c1 = expect(p1).rejects.toMatchObject({
      reason: 'queue-timeout',
      message: expect.stringMatching(/queueTimeout 100 ms/),
    });
    await vi.advanceTimersByTimeAsync(60);
    await c1;
    expect(b.queued).toBe(2);
    expect(vi.getTimerCount()).toBe(1);
    hold.resolve('zero');
    await expect(p0).resolves.toBe('zero');
    await expect(p2).resolves.toBe('two');
    await expect(p3).resolves.toBe('three');
    expect(b.queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // idle: nothing scheduled
  });

  it('a queue-timeout rejects waiters whose deadlines passed, in order, and re-arms for the next', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 10, queueTimeout: 50 });
    const hold = deferred();
    const p0 = b.execute(() => hold.promise);
    const p1 = b.execute(() => 1);
    await vi.advanceTimersByTimeAsync(10);
    const p2 = b.execute(() => 2);
    const c1 = expect(p1).rejects.toBeInstanceOf(BulkheadRejectedError);
    const c2 = expect(p2).rejects.toBeInstanceOf(BulkheadRejectedError);
    await vi.advanceTimersByTimeAsync(40);
    await c1;
    expect(b.queued).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    await c2;
    expect(b.queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    hold.resolve('x');
    await p0;
  });

  it('emits admit, queue and reject events', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeout: 10 });
    const events: unknown[] = [];
    b.on('admit', (e) => events.push(['admit', e]));
    b.on('queue', (e) => events.push(['queue', e]));
    b.on('reject', (e) => events.push(['reject', e.reason, e.error instanceof BulkheadRejectedError]));
    const hold = deferred();
    const p0 = b.execute(() => hold.promise);
    const p1 = b.execute(() => 1);
    await expect(b.execute(() => 2)).rejects.toBeInstanceOf(BulkheadRejectedError);
    hold.resolve('x');
    await p0;
    await p1;
    const p3 = b.execute(() => new Promise(() => {}));
    const p4 = b.execute(() => 4);
    const c4 = expect(p4).rejects.toMatchObject({ reason: 'queue-timeout' });
    await vi.advanceTimersByTimeAsync(10);
    await c4;
    void p3;
    expect(events).toEqual([
      ['admit', { running: 1, queued: 0, fromQueue: false }],
      ['queue', { running: 1, queued: 1 }],
      ['reject', 'queue-full', true],
      ['admit', { running: 1, queued: 0, fromQueue: true }],
      ['admit', { running: 1, queued: 0, fromQueue: false }],
      ['queue', { running: 1, queued: 1 }],
      ['reject', 'queue-timeout', true],
    ]);
  });
});

describe('Bulkhead: aborts', () => {
  it('a queued caller that aborts leaves the queue at once with its reason and frees its place', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const hold = deferred();
    const p0 = b.execute(() => hold.promise);
    const controller = new AbortController();
    const fn = vi.fn(() => 'never');
    const p1 = b.execute(fn, { signal: controller.signal });
    expect(b.queued).toBe(1);
    const reason = new Error('changed my mind');
    controller.abort(reason);
    await expect(p1).rejects.toBe(reason);
    expect(b.queued).toBe(0);
    // Its place is free again.
    const p2 = b.execute(() => 'two');
    expect(b.queued).toBe(1);
    hold.resolve('zero');
    await expect(p2).resolves.toBe('two');
    await p0;
    expect(fn).not.toHaveBeenCalled();
    expect(b.running).toBe(0);
  });

  it('an aborted waiter in the middle of the queue leaves; the others keep their order', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    const hold = deferred();
    const order: number[] = [];
    void b.execute(() => hold.promise);
    const c = new AbortController();
    const p1 = b.execute(() => order.push(1));
    const p2 = b.execute(() => order.push(2), { signal: c.signal });
    const p3 = b.execute(() => order.push(3));
    c.abort();
    await expect(p2).rejects.toMatchObject({ name: 'AbortError' });
    hold.resolve('x');
    await Promise.all([p1, p3]);
    expect(order).toEqual([1, 3]);
  });

  it('leaves no listener on a long-lived caller signal after many queued calls, admitted or aborted', async () => {
    const controller = new AbortController();
    const signal = controller.signal;
    const b = new Bulkhead({ maxConcurrent: 2, maxQueue: 1000 });
    const calls = Array.from({ length: 500 }, (_, i) =>
      b.execute(
        async () => {
          await flush();
          return i;
        },
        { signal },
      ),
    );
    expect(b.queued).toBe(498);
    // However many waiters share the signal, it carries at most one listener.
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    await expect(Promise.all(calls)).resolves.toHaveLength(500);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);

    // Waiters that leave by their own abort leave nothing behind on the shared signal either.
    const hold = deferred();
    const p0 = b.execute(() => hold.promise);
    const p1 = b.execute(() => hold.promise);
    const own = Array.from({ length: 100 }, () => new AbortController());
    const waiting = own.map((c) => b.execute(() => 'never', { signal: AbortSignal.any([signal, c.signal]) }));
    const shared = Array.from({ length: 100 }, () => b.execute(() => 'shared', { signal }));
    for (const c of own) c.abort();
    await Promise.allSettled(waiting);
    expect(b.queued).toBe(100);
    hold.resolve('x');
    await Promise.all([p0, p1, ...shared]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(b.running).toBe(0);
  });

  it('does not read the context signal for a call admitted at once', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const t = new Timeout(1000);
    const spy = vi.spyOn(AbortController.prototype, 'abort');
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
    vi.useFakeTimers();
    // Under a Timeout the context's signal is lazy: the bulkhead's fast path must not create it.
    await pipeline(t, b).execute(() => 1);
    expect(created).toBe(0);
    expect(spy).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1000);
  });

  it('a call whose signal already aborted is rejected before queuing', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const hold = deferred();
    const p0 = b.execute(() => hold.promise);
    const controller = new AbortController();
    const reason = new Error('already');
    controller.abort(reason);
    await expect(b.execute(() => 1, { signal: controller.signal })).rejects.toBe(reason);
    expect(b.queued).toBe(0);
    hold.resolve('x');
    await p0;
  });

  it('an admitted call that is aborted keeps its slot until its work settles', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    const work = deferred();
    const controller = new AbortController();
    const p = b.execute(() => work.promise, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(b.running).toBe(1);
    work.resolve('late');
    await flush();
    expect(b.running).toBe(0);
  });
});

describe('Bulkhead: queue structure', () => {
  it('keeps FIFO order through growth, wrap-around and aborts in the middle', async () => {
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 10_000 });
    const order: number[] = [];
    const expected: number[] = [];
    let hold = deferred();
    void b.execute(() => hold.promise);
    const all: Promise<unknown>[] = [];
    let id = 0;
    for (let round = 0; round < 5; round++) {
      const controllers: AbortController[] = [];
      for (let k = 0; k < 37 * (round + 1); k++) {
        const n = id++;
        const c = new AbortController();
        controllers.push(c);
        const p = b.execute(
          () => {
            order.push(n);
            return n;
          },
          { signal: c.signal },
        );
        all.push(p.catch(() => undefined));
        if (n % 3 === 1) c.abort();
        else expected.push(n);
      }
      // Let part of the queue through, then block again so later rounds wrap around the ring.
      const release = hold;
      hold = deferred();
      const blocker = b.execute(() => hold.promise);
      all.push(blocker);
      release.resolve('next');
      await flush();
    }
    hold.resolve('end');
    await Promise.all(all);
    expect(order).toEqual(expected);
    expect(b.queued).toBe(0);
    expect(b.running).toBe(0);

    // A large backlog (the buffer grows past its shrink threshold), drained, then used again.
    for (let round = 0; round < 2; round++) {
      const gate = deferred();
      const first = b.execute(() => gate.promise);
      const seen: number[] = [];
      const burst = Array.from({ length: 3000 }, (_, n) => b.execute(() => seen.push(n)));
      expect(b.queued).toBe(3000);
      gate.resolve('go');
      await Promise.all([first, ...burst]);
      expect(seen).toEqual(Array.from({ length: 3000 }, (_, n) => n));
      expect(b.queued).toBe(0);
    }
    // A small busy period after the bursts (the buffer is given back), then a burst again.
    for (const size of [1, 2000]) {
      const gate = deferred();
      const first = b.execute(() => gate.promise);
      const seen: number[] = [];
      const calls = Array.from({ length: size }, (_, n) => b.execute(() => seen.push(n)));
      gate.resolve('go');
      await Promise.all([first, ...calls]);
      expect(seen).toEqual(Array.from({ length: size }, (_, n) => n));
    }
    expect(b.running).toBe(0);
  });
});

describe('Bulkhead: slot semantics with Timeout', () => {
  it('pipeline(timeout, bulkhead): the caller times out at once, the slot stays taken until the work ends', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    const p = pipeline(new Timeout(100), b);
    const work = deferred();
    let signal: AbortSignal | undefined;
    const call = p.execute((ctx) => {
      signal = ctx.signal;
      return work.promise; // ignores its signal
    });
    const check = expect(call).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(100);
    await check;
    expect(signal?.aborted).toBe(true);
    expect(b.running).toBe(1);
    await expect(p.execute(() => 'next')).rejects.toMatchObject({ reason: 'queue-full' });
    work.resolve('done at last');
    await vi.advanceTimersByTimeAsync(0);
    expect(b.running).toBe(0);
    await expect(p.execute(() => 'next')).resolves.toBe('next');
    await vi.advanceTimersByTimeAsync(100);
  });

  it('pipeline(timeout, bulkhead): a waiter that times out in the queue leaves it', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const p = pipeline(new Timeout(100), b);
    const work = deferred();
    const first = b.execute(() => work.promise);
    const fn = vi.fn(() => 'never');
    const waiting = p.execute(fn);
    expect(b.queued).toBe(1);
    const check = expect(waiting).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(100);
    await check;
    expect(b.queued).toBe(0);
    work.resolve('x');
    await first;
    expect(fn).not.toHaveBeenCalled();
    expect(b.running).toBe(0);
  });

  it('pipeline(bulkhead, timeout): the slot is freed when the timeout rejects (time counts inside the slot)', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const p = pipeline(b, new Timeout(100));
    const work = deferred();
    const call = p.execute(() => work.promise);
    const queued = p.execute(() => 'second');
    expect(b.queued).toBe(1);
    const check = expect(call).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(100);
    await check;
    // The timeout settled the inner promise, so the slot went to the waiter.
    await expect(queued).resolves.toBe('second');
    expect(b.running).toBe(0);
    expect(b.queued).toBe(0);
    work.resolve('too late');
    await vi.advanceTimersByTimeAsync(100);
  });

  it('pipeline(bulkhead, timeout): time spent queued does not count against the timeout', async () => {
    vi.useFakeTimers();
    const b = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const p = pipeline(b, new Timeout(100));
    const first = p.execute(() => new Promise((resolve) => setTimeout(() => resolve('first'), 80)));
    const second = p.execute(() => new Promise((resolve) => setTimeout(() => resolve('second'), 80)));
    await vi.advanceTimersByTimeAsync(160);
    await expect(first).resolves.toBe('first');
    await expect(second).resolves.toBe('second');
    await vi.advanceTimersByTimeAsync(100);
  });
});
