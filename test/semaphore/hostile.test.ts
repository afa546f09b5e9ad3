/**
 * Issue 11 items 17 and 22, Semaphore: `acquire()` always returns a promise, and a permit is never
 * handed to an acquire that already rejected, nor lost, whatever an injected clock or a look-alike
 * signal throws. The clock's errors that cannot reject anyone go to the reporter.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { setErrorReporter } from '../../src/index.js';
import { Semaphore } from '../../src/semaphore/index.js';

// biome-ignore lint/suspicious/noExplicitAny: a look-alike signal on purpose, past the types.
const bad = (value: unknown): any => value;

function breakable(): { clock: Clock; broken: { setTimeout: boolean; clearTimeout: boolean } } {
  const broken = { setTimeout: false, clearTimeout: false };
  const clock: Clock = {
    now: () => 0,
    setTimeout: (callback, ms) => {
      if (broken.setTimeout) throw new Error('setTimeout() broke');
      return globalThis.setTimeout(callback, ms);
    },
    clearTimeout: (handle) => {
      globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>);
      if (broken.clearTimeout) throw new Error('clearTimeout() broke');
    },
  };
  return { clock, broken };
}

describe('Semaphore: a hostile clock or signal never loses a permit', () => {
  let reported: [unknown, string][];
  let previous: ReturnType<typeof setErrorReporter>;
  beforeEach(() => {
    vi.useFakeTimers();
    reported = [];
    previous = setErrorReporter((error, source) => reported.push([error, source]));
  });
  afterEach(() => {
    setErrorReporter(previous);
  });

  it('setTimeout throws for a timed wait: the acquire rejects and leaves the queue, the permit is not lost', async () => {
    const { clock, broken } = breakable();
    const semaphore = new Semaphore(1, { clock, timeout: 100 });
    await semaphore.acquire();
    broken.setTimeout = true;
    await expect(semaphore.acquire()).rejects.toThrow('setTimeout() broke');
    expect(semaphore.waiting).toBe(0);
    // Before the fix the rejected acquire stayed queued and took this permit for ever.
    semaphore.release();
    expect(semaphore.available).toBe(1);
    broken.setTimeout = false;
    await expect(semaphore.acquire()).resolves.toBeUndefined();
    semaphore.release();
  });

  it('clearTimeout throws on release: the waiter still gets the permit, release does not throw', async () => {
    const { clock, broken } = breakable();
    const semaphore = new Semaphore(1, { clock, timeout: 100 });
    await semaphore.acquire();
    const waiter = semaphore.acquire();
    broken.clearTimeout = true;
    expect(() => semaphore.release()).not.toThrow();
    await expect(waiter).resolves.toBeUndefined();
    expect(semaphore.available).toBe(0);
    expect(reported.map(([, source]) => source)).toContain('Semaphore clock.clearTimeout');
    semaphore.release();
    expect(semaphore.available).toBe(1);
  });

  it('a signal whose aborted getter throws: acquire rejects (never throws)', async () => {
    const semaphore = new Semaphore(1);
    const boom = new Error('aborted getter');
    const signal = {
      get aborted(): boolean {
        throw boom;
      },
      addEventListener() {},
      removeEventListener() {},
    };
    let result: unknown;
    // It passes the look-alike check only if `aborted` reads as a boolean once: make it throw later.
    let reads = 0;
    const later = {
      get aborted(): boolean {
        if (++reads > 1) throw boom;
        return false;
      },
      addEventListener() {},
      removeEventListener() {},
    };
    expect(() => {
      result = semaphore.acquire({ signal: bad(signal) });
    }).not.toThrow();
    await expect(result).rejects.toBe(boom);
    expect(() => {
      result = semaphore.acquire({ signal: bad(later) });
    }).not.toThrow();
    await expect(result).rejects.toBe(boom);
    expect(semaphore.available).toBe(1);
  });

  it('a signal whose addEventListener throws: the acquire rejects and leaves the queue', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const boom = new Error('addEventListener broke');
    const signal = {
      aborted: false,
      addEventListener() {
        throw boom;
      },
      removeEventListener() {},
    };
    await expect(semaphore.acquire({ signal: bad(signal) })).rejects.toBe(boom);
    expect(semaphore.waiting).toBe(0);
    semaphore.release();
    expect(semaphore.available).toBe(1);
  });

  it('a signal whose removeEventListener throws: the waiter still gets the permit', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const real = new AbortController().signal;
    const signal = {
      aborted: false,
      addEventListener: real.addEventListener.bind(real),
      removeEventListener() {
        throw new Error('removeEventListener broke');
      },
    };
    const waiter = semaphore.acquire({ signal: bad(signal) });
    expect(() => semaphore.release()).not.toThrow();
    await expect(waiter).resolves.toBeUndefined();
    expect(reported.map(([, source]) => source)).toContain('signal.removeEventListener');
    semaphore.release();
    expect(semaphore.available).toBe(1);
  });
});
