/**
 * Issue 11 items 17 and 22, Bulkhead: an injected clock or a look-alike signal that throws must
 * never strand a slot or a waiter, nor throw out of a timer. A slot is given back exactly once and
 * handed to the head of the queue whatever the clock does; the clock's errors go to the reporter.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Bulkhead } from '../../src/bulkhead/index.js';
import type { Clock } from '../../src/core/clock.js';
import { BulkheadRejectedError, setErrorReporter } from '../../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: a look-alike signal on purpose, past the types.
const bad = (value: unknown): any => value;

interface Breakable {
  readonly clock: Clock;
  readonly broken: { now: boolean; setTimeout: boolean; clearTimeout: boolean };
}

function breakable(): Breakable {
  const broken = { now: false, setTimeout: false, clearTimeout: false };
  let t = 0;
  const clock: Clock = {
    now: () => {
      if (broken.now) throw new Error('now() broke');
      return t++;
    },
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

/** A call that holds its slot until released. */
function holding(bulkhead: Bulkhead): { done: Promise<unknown>; release: () => void } {
  let release: () => void = () => {};
  const done = bulkhead.execute(() => new Promise<void>((resolve) => (release = resolve)));
  return { done, release: () => release() };
}

describe('Bulkhead: a hostile clock or signal never strands a slot', () => {
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

  it('a clock whose now() throws when the queue timer fires: no throw out of the timer, reported, waiters still served', async () => {
    const { clock, broken } = breakable();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 2, queueTimeout: 100, clock });
    const first = holding(bulkhead);
    const queued = bulkhead.execute(() => 'queued');
    broken.now = true;
    // Before the fix the timer callback threw (an uncaught exception in a real process).
    await vi.advanceTimersByTimeAsync(100);
    expect(reported.length).toBeGreaterThan(0);
    expect(reported[0]?.[1]).toBe('Bulkhead clock');
    expect(bulkhead.queued).toBe(1);
    first.release();
    await first.done;
    await expect(queued).resolves.toBe('queued');
    expect(bulkhead.running).toBe(0);
    broken.now = false;
    await vi.advanceTimersByTimeAsync(200);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a clock whose clearTimeout throws as the queue empties: the slot still reaches the waiter', async () => {
    const { clock, broken } = breakable();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeout: 1_000, clock });
    const first = holding(bulkhead);
    const queued = bulkhead.execute(() => 'queued');
    broken.clearTimeout = true;
    first.release();
    // Before the fix the first call rejected with the clock's error and the waiter hung for ever.
    await expect(first.done).resolves.toBeUndefined();
    await expect(queued).resolves.toBe('queued');
    expect(bulkhead.running).toBe(0);
    expect(bulkhead.queued).toBe(0);
    expect(reported.map(([, source]) => source)).toContain('Bulkhead clock.clearTimeout');
  });

  it('a look-alike signal whose removeEventListener throws: the slot still reaches its waiter', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const real = new AbortController().signal;
    const signal = {
      aborted: false,
      reason: undefined,
      addEventListener: real.addEventListener.bind(real),
      removeEventListener() {
        throw new Error('removeEventListener broke');
      },
    };
    const first = holding(bulkhead);
    const queued = bulkhead.execute(() => 'queued', { signal: bad(signal) });
    first.release();
    await expect(first.done).resolves.toBeUndefined();
    await expect(queued).resolves.toBe('queued');
    expect(bulkhead.running).toBe(0);
    expect(reported.map(([, source]) => source)).toContain('signal.removeEventListener');
  });

  it('a look-alike signal whose addEventListener throws: the call is rejected and leaves the queue', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const boom = new Error('addEventListener broke');
    const signal = {
      aborted: false,
      reason: undefined,
      addEventListener() {
        throw boom;
      },
      removeEventListener() {},
    };
    const first = holding(bulkhead);
    let ran = false;
    await expect(
      bulkhead.execute(
        () => {
          ran = true;
        },
        { signal: bad(signal) },
      ),
    ).rejects.toBe(boom);
    expect(bulkhead.queued).toBe(0);
    // The queue has room again, and the slot is not handed to the rejected call.
    const next = bulkhead.execute(() => 'next');
    await expect(bulkhead.execute(() => 'full')).rejects.toBeInstanceOf(BulkheadRejectedError);
    first.release();
    await first.done;
    await expect(next).resolves.toBe('next');
    expect(ran).toBe(false);
    expect(bulkhead.running).toBe(0);
  });
});
