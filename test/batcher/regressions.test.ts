// Regressions of issue 11 ("0.1.0 under real use") for the Batcher: item 10 (a throw while the
// batch's results are read), and calls that must always return a promise.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batcher/index.js';
import type { Clock } from '../../src/core/clock.js';
import { collectReports, type Report } from '../support/reporter.js';

let reported: Report[];
beforeEach(() => {
  reported = collectReports();
});

/** Runs a batch of ['a', 'b', 'c'] whose results are `results`; returns each caller's outcome and close()'s. */
async function batchOf(results: () => unknown) {
  const batcher = new Batcher<string, string>({
    run: () => results() as string[],
    window: 1_000,
  });
  const calls = ['a', 'b', 'c'].map((item) => batcher.call(item));
  const outcomes = Promise.allSettled(calls);
  await expect(batcher.flush()).resolves.toBeUndefined();
  const settled = await outcomes;
  await expect(batcher.close()).resolves.toBeUndefined();
  return settled;
}

const bug = new Error('result getter threw');

describe('issue 11 item 10: a throw while reading the batch result', () => {
  it('an array whose element getter throws: every caller rejects with the error, close() resolves', async () => {
    const settled = await batchOf(() => {
      const list = ['A', 'B', 'C'];
      Object.defineProperty(list, 1, {
        get() {
          throw bug;
        },
      });
      return list;
    });
    expect(settled).toEqual([
      { status: 'rejected', reason: bug },
      { status: 'rejected', reason: bug },
      { status: 'rejected', reason: bug },
    ]);
  });

  it('a Map whose get throws for one key: every caller rejects with the error', async () => {
    class BrokenMap extends Map<string, string> {
      override get(key: string): string | undefined {
        if (key === 'b') throw bug;
        return super.get(key);
      }
    }
    const settled = await batchOf(
      () =>
        new BrokenMap([
          ['a', 'A'],
          ['b', 'B'],
          ['c', 'C'],
        ]),
    );
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toBe(bug);
  });

  it('a Map whose has throws: every caller rejects with the error', async () => {
    class BrokenMap extends Map<string, string> {
      override has(): boolean {
        throw bug;
      }
    }
    const settled = await batchOf(() => new BrokenMap([['a', 'A']]));
    expect(settled.map((s) => (s as PromiseRejectedResult).reason)).toEqual([bug, bug, bug]);
  });

  it('a Proxy array whose length trap throws: every caller rejects with the error', async () => {
    const settled = await batchOf(
      () =>
        new Proxy(['A', 'B', 'C'], {
          get(target, key, receiver) {
            if (key === 'length') throw bug;
            return Reflect.get(target, key, receiver);
          },
        }),
    );
    expect(settled.map((s) => (s as PromiseRejectedResult).reason)).toEqual([bug, bug, bug]);
  });

  it('a revoked Proxy (Array.isArray throws): every caller rejects', async () => {
    const settled = await batchOf(() => {
      const { proxy, revoke } = Proxy.revocable(['A', 'B', 'C'], {});
      revoke();
      return proxy;
    });
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((settled[0] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
  });

  it('a promise whose constructor getter throws (Promise.resolve throws): every caller rejects', async () => {
    const settled = await batchOf(() => {
      const promise = Promise.resolve(['A', 'B', 'C']);
      Object.defineProperty(promise, 'constructor', {
        get() {
          throw bug;
        },
      });
      return promise;
    });
    expect(settled.map((s) => (s as PromiseRejectedResult).reason)).toEqual([bug, bug, bug]);
  });

  it('a good result after a broken one: the batcher keeps working', async () => {
    let broken = true;
    const batcher = new Batcher<number, number>({
      run: (items) => {
        if (!broken) return items.map((i) => i * 10);
        const list = items.map((i) => i * 10);
        Object.defineProperty(list, 0, {
          get() {
            throw bug;
          },
        });
        return list;
      },
    });
    const first = [batcher.call(1), batcher.call(2)];
    await batcher.flush();
    await expect(Promise.all(first)).rejects.toBe(bug);
    broken = false;
    const second = [batcher.call(3), batcher.call(4)];
    await batcher.flush();
    await expect(Promise.all(second)).resolves.toEqual([30, 40]);
    await batcher.close();
  });

  it('with the timer dispatching the batch (no flush): nobody hangs and nothing is unhandled', async () => {
    vi.useFakeTimers();
    const batcher = new Batcher<string, string>({
      run: async () => {
        const list = ['A', 'B', 'C'];
        Object.defineProperty(list, 2, {
          get() {
            throw bug;
          },
        });
        return list;
      },
      window: 5,
    });
    const outcomes = Promise.allSettled(['a', 'b', 'c'].map((item) => batcher.call(item)));
    await vi.advanceTimersByTimeAsync(5);
    expect((await outcomes).map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(batcher.running).toBe(0);
    await expect(batcher.close()).resolves.toBeUndefined();
  });
});

describe('Batcher.call always returns a promise', () => {
  it('a clock whose setTimeout throws rejects the call; a throwing clearTimeout is reported', async () => {
    const clockBug = new Error('clock broke');
    let failSet = true;
    const clock: Clock = {
      now: () => 0,
      setTimeout: () => {
        if (failSet) throw clockBug;
        return 1;
      },
      clearTimeout: () => {
        throw clockBug;
      },
    };
    const batcher = new Batcher<number, number>({ run: (items) => items, clock });
    let call: Promise<number> | undefined;
    expect(() => {
      call = batcher.call(1);
    }).not.toThrow();
    await expect(call).rejects.toBe(clockBug);
    expect(batcher.pending).toBe(0);
    failSet = false;
    const ok = batcher.call(2);
    await batcher.flush();
    await expect(ok).resolves.toBe(2);
    expect(reported).toEqual([{ error: clockBug, source: 'Batcher clock.clearTimeout' }]);
  });

  it('an options object whose signal getter throws rejects the call', async () => {
    const batcher = new Batcher<number, number>({ run: (items) => items });
    const getterBug = new Error('getter');
    const options = {
      get signal(): AbortSignal {
        throw getterBug;
      },
    };
    let call: Promise<number> | undefined;
    expect(() => {
      call = batcher.call(1, options);
    }).not.toThrow();
    await expect(call).rejects.toBe(getterBug);
    await batcher.close();
  });
});
