/**
 * Issue 11 item 17: `execute()` sometimes threw synchronously instead of rejecting — with a
 * throwing option getter, a signal whose `aborted` getter throws, a throwing clock, a fake pipeline.
 * It must always return a promise, whatever throws, on every policy and on a pipeline.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/batcher/index.js';
import { CircuitBreaker } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import type { Clock } from '../../src/core/clock.js';
import { Fallback, type Policy, pipeline, RetryPolicy, setErrorReporter, Timeout } from '../../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: hostile input on purpose, past the types.
const bad = (value: unknown): any => value;

/** Calls `execute` and checks it returned a promise rather than throwing. */
function run(policy: Policy<unknown>, fn: () => unknown, options?: unknown): Promise<unknown> {
  let result: unknown;
  expect(() => {
    result = policy.execute(fn, bad(options));
  }, 'execute() threw synchronously').not.toThrow();
  expect(result).toBeInstanceOf(Promise);
  return result as Promise<unknown>;
}

const everyPolicy = (): [string, Policy<unknown>][] => [
  ['RetryPolicy', new RetryPolicy({ maxRetries: 0 })],
  ['Timeout', new Timeout(1_000)],
  ['Bulkhead', new Bulkhead()],
  ['CircuitBreaker', new CircuitBreaker()],
  ['Fallback', new Fallback(() => 'fallback', { exclude: () => true })],
  [
    'pipeline',
    pipeline(
      new Fallback(() => 'fallback', { exclude: () => true }),
      new RetryPolicy({ maxRetries: 0 }),
      new CircuitBreaker(),
      new Bulkhead(),
      new Timeout(1_000),
    ),
  ],
];

describe('execute() always returns a promise', () => {
  let reported: unknown[];
  let previous: ReturnType<typeof setErrorReporter>;
  beforeEach(() => {
    vi.useFakeTimers();
    reported = [];
    previous = setErrorReporter((error) => reported.push(error));
  });
  afterEach(async () => {
    setErrorReporter(previous);
    // The Timeouts' idle timers.
    await vi.advanceTimersByTimeAsync(2_000);
  });

  it.each(everyPolicy())(
    '%s: an options object whose signal getter throws rejects with its error',
    async (_, policy) => {
      const boom = new Error('signal getter');
      const options = {
        get signal(): AbortSignal {
          throw boom;
        },
      };
      await expect(run(policy, () => 1, options)).rejects.toBe(boom);
    },
  );

  it.each(everyPolicy())('%s: an options proxy whose traps throw rejects with its error', async (_, policy) => {
    const boom = new Error('trap');
    const options = new Proxy(
      {},
      {
        ownKeys() {
          throw boom;
        },
        get() {
          throw boom;
        },
      },
    );
    await expect(run(policy, () => 1, options)).rejects.toBe(boom);
  });

  it.each(everyPolicy())('%s: a signal whose aborted getter throws rejects with its error', async (_, policy) => {
    const boom = new Error('aborted getter');
    const signal = {
      get aborted(): boolean {
        throw boom;
      },
      reason: undefined,
      addEventListener() {},
      removeEventListener() {},
    };
    await expect(run(policy, () => 1, { signal })).rejects.toBe(boom);
  });

  it.each(everyPolicy())('%s: a signal whose aborted getter throws only when read again rejects', async (_, policy) => {
    // It passes the look-alike check (a boolean), then throws on the next read.
    const boom = new Error('aborted getter, second read');
    let reads = 0;
    const signal = {
      get aborted(): boolean {
        if (++reads > 1) throw boom;
        return false;
      },
      reason: undefined,
      addEventListener() {},
      removeEventListener() {},
    };
    await expect(run(policy, () => 1, { signal })).rejects.toBe(boom);
  });

  it.each(everyPolicy())(
    '%s: an aborted signal whose reason getter throws rejects with its error',
    async (_, policy) => {
      const boom = new Error('reason getter');
      const signal = {
        aborted: true,
        get reason(): unknown {
          throw boom;
        },
        addEventListener() {},
        removeEventListener() {},
      };
      await expect(run(policy, () => 1, { signal })).rejects.toBe(boom);
    },
  );

  describe('a clock that throws once the policy is built', () => {
    const boom = new Error('clock broke');
    function breakable(): { clock: Clock; broken: { now: boolean; timers: boolean } } {
      const broken = { now: false, timers: false };
      const clock: Clock = {
        now: () => {
          if (broken.now) throw boom;
          return 0;
        },
        setTimeout: (callback, ms) => {
          if (broken.timers) throw boom;
          return globalThis.setTimeout(callback, ms);
        },
        clearTimeout: (handle) => {
          if (broken.timers) throw boom;
          globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>);
        },
      };
      return { clock, broken };
    }

    it('Timeout: now() throws as the call starts', async () => {
      const { clock, broken } = breakable();
      const timeout = new Timeout({ timeout: 100, clock });
      broken.now = true;
      await expect(run(timeout, () => 1)).rejects.toBe(boom);
      expect(timeout.pending).toBe(0);
    });

    it('Timeout in a pipeline: now() throws as the call starts', async () => {
      const { clock, broken } = breakable();
      const bulkhead = new Bulkhead({ maxConcurrent: 1 });
      const policy = pipeline(new RetryPolicy({ maxRetries: 0 }), bulkhead, new Timeout({ timeout: 100, clock }));
      broken.now = true;
      await expect(run(policy, () => 1)).rejects.toBe(boom);
      expect(bulkhead.running).toBe(0);
    });

    it('CircuitBreaker: now() throws while open', async () => {
      const { clock, broken } = breakable();
      const breaker = new CircuitBreaker({ clock });
      breaker.isolate();
      broken.now = true;
      await expect(run(breaker, () => 1)).rejects.toBe(boom);
    });

    it('CircuitBreaker: now() throws on a timed closed-state call', async () => {
      const { clock, broken } = breakable();
      const breaker = new CircuitBreaker({ clock });
      broken.now = true;
      // One closed-state call in 8 is timed (reads the clock as it starts).
      const results = [];
      for (let i = 0; i < 16; i++) results.push(run(breaker, () => i).catch((e: unknown) => e));
      await Promise.all(results);
    });

    it('Bulkhead: now() throws as a call joins the queue', async () => {
      const { clock, broken } = breakable();
      const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeout: 100, clock });
      let release: () => void = () => {};
      const first = run(bulkhead, () => new Promise<void>((resolve) => (release = resolve)));
      broken.now = true;
      await expect(run(bulkhead, () => 2)).rejects.toBe(boom);
      expect(bulkhead.queued).toBe(0);
      release();
      await first;
      expect(bulkhead.running).toBe(0);
    });

    it('Bulkhead: setTimeout() throws as a call joins the queue', async () => {
      const { clock, broken } = breakable();
      const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeout: 100, clock });
      let release: () => void = () => {};
      let ran = 0;
      const first = run(bulkhead, () => new Promise<void>((resolve) => (release = resolve)));
      broken.timers = true;
      await expect(run(bulkhead, () => ran++)).rejects.toBe(boom);
      // The rejected call left the queue: it never runs, and the slot is not handed to it.
      expect(bulkhead.queued).toBe(0);
      release();
      await first;
      await vi.advanceTimersByTimeAsync(0);
      expect(ran).toBe(0);
      expect(bulkhead.running).toBe(0);
    });

    it('RetryPolicy: setTimeout() throws for the backoff delay', async () => {
      const { clock, broken } = breakable();
      const retry = new RetryPolicy({ maxRetries: 2, backoff: [10], clock });
      broken.timers = true;
      await expect(run(retry, () => Promise.reject(new Error('x')))).rejects.toBe(boom);
    });
  });

  describe('a fake pipeline member (duck-typed, not a staunch policy)', () => {
    const twice = {
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable on purpose.
      then(ok: (v: unknown) => void, fail: (e: unknown) => void): void {
        ok(1);
        ok(2);
        fail(3);
      },
    };
    const stages: [string, unknown, 'resolves' | 'rejects', unknown][] = [
      [
        'a stage whose _run throws',
        {
          _run: () => {
            throw new Error('fake stage');
          },
        },
        'rejects',
        Error,
      ],
      ['a stage without _run', {}, 'rejects', TypeError],
      ['a stage whose _run returns a plain value', { _run: () => 42 }, 'resolves', 42],
      ['a stage whose _run returns a thenable calling back twice', { _run: () => twice }, 'resolves', 1],
    ];

    it.each(stages)('%s: execute still returns a promise', async (_, stage, how, expected) => {
      const fake = bad({ _chain: [stage] });
      const p = run(pipeline(fake), () => 1);
      if (how === 'resolves') await expect(p).resolves.toBe(expected);
      else await expect(p).rejects.toBeInstanceOf(expected);
    });

    it.each(stages)('%s: inside a Bulkhead, the slot is given back exactly once', async (_, stage) => {
      const bulkhead = new Bulkhead({ maxConcurrent: 1 });
      const policy = pipeline(bulkhead, bad({ _chain: [stage] }));
      for (let i = 0; i < 3; i++) {
        await run(policy, () => 1).catch(() => {});
        expect(bulkhead.running).toBe(0);
      }
    });

    it.each(stages)('%s: with a signal, execute still returns a promise', async (_, stage) => {
      const controller = new AbortController();
      await run(pipeline(bad({ _chain: [stage] })), () => 1, { signal: controller.signal }).catch(() => {});
    });
  });

  it('wrap(): the wrapped function returns a promise whatever throws', async () => {
    const boom = new Error('sync');
    for (const [, policy] of everyPolicy()) {
      const wrapped = policy.wrap(() => {
        throw boom;
      });
      let result: unknown;
      expect(() => {
        result = wrapped();
      }).not.toThrow();
      await expect(result).rejects.toBe(boom);
    }
  });

  it('Batcher.call() (not a policy) returns a promise for a signal whose aborted getter throws', async () => {
    const batcher = new Batcher<number, number>({ run: (items) => items });
    const boom = new Error('aborted getter');
    const signal = {
      get aborted(): boolean {
        throw boom;
      },
      addEventListener() {},
      removeEventListener() {},
    };
    let result: unknown;
    expect(() => {
      result = batcher.call(1, bad({ signal }));
    }).not.toThrow();
    await expect(result).rejects.toBe(boom);
    await batcher.close();
  });
});
