/**
 * The benchmark scenarios, as data: the harness (bench/harness.ts) measures them, the CI test
 * (test/bench.test.ts) runs each once with a tiny size so this code cannot rot.
 *
 * Two kinds:
 * - `op`: one awaited call, measured per operation (ns/op with mitata, bytes/op from heap deltas);
 *   its ratio is to the `bare` scenario of the same variant, measured in the same run.
 * - `custom`: a scenario that measures itself (a burst, a window of calls, idle breakers, a sustained
 *   run where the event loop turns) and returns named metrics; `primary` names the headline one.
 */
import type { BreakerLike, Libs, OpossumBreaker, StaunchPolicy } from './libs.js';

export type Size = 'full' | 'tiny';
export type Metrics = Record<string, number>;

export interface OpRunner {
  readonly kind: 'op';
  /** One operation; the harness awaits it. */
  readonly call: () => Promise<unknown>;
  readonly teardown?: () => void;
}
export interface CustomRunner {
  readonly kind: 'custom';
  readonly run: (size: Size) => Promise<Metrics>;
  readonly teardown?: () => void;
}
export type Runner = OpRunner | CustomRunner;

export interface Scenario {
  /** Unique, stable: `group/variant/lib`. */
  readonly id: string;
  readonly group: string;
  /** The protected function, or the parameter of the scenario (window size, ...). */
  readonly variant: string;
  readonly lib: string;
  /** What exactly is configured, for the table. */
  readonly detail: string;
  /** The headline metric of a custom scenario (`ns` for op scenarios). */
  readonly primary: string;
  /** The scenario whose `primary` metric is the denominator of the ratio. */
  readonly baseline?: string;
  /** Measure once rather than in every round (expensive, with its own internal samples). */
  readonly once?: boolean;
  /** Returns undefined when the library lacks what the scenario needs ("n/a"). */
  readonly setup: (libs: Libs) => Runner | undefined;
}

// ---------------------------------------------------------------------------------------------
// Protected functions

interface Ctx {
  readonly signal: AbortSignal;
}
type Fn = (ctx: Ctx) => Promise<number>;

const resolved = Promise.resolve();
/** The three protected functions of the success path. */
const FNS = {
  /** `async () => 1` */
  value: (async () => 1) as Fn,
  /** awaits an already-resolved promise */
  await: (async () => {
    await resolved;
    return 1;
  }) as Fn,
  /** reads `ctx.signal` (so a lazily created signal is materialised) */
  signal: (async (ctx: Ctx) => (ctx.signal.aborted ? 0 : 1)) as Fn,
} as const;
type Variant = keyof typeof FNS;
const VARIANTS = Object.keys(FNS) as Variant[];

const FAILURE = new Error('bench failure');
const fail = async (): Promise<number> => {
  throw FAILURE;
};
const noop = (): void => {};
const bareCtx: Ctx = { signal: new AbortController().signal };

const scenarios: Scenario[] = [];
function add(s: Omit<Scenario, 'id' | 'primary'> & { primary?: string }): void {
  const id = `${s.group}/${s.variant}/${s.lib}`;
  if (scenarios.some((x) => x.id === id)) throw new Error(`duplicate scenario ${id}`);
  scenarios.push({ primary: 'ns', ...s, id });
}
const op = (call: () => Promise<unknown>, teardown?: () => void): OpRunner =>
  teardown === undefined ? { kind: 'op', call } : { kind: 'op', call, teardown };

/** A staunch policy's execute as an op, or n/a when its constructor is missing. */
function staunchOp(make: (libs: Libs) => StaunchPolicy | undefined, fn: Fn): (libs: Libs) => Runner | undefined {
  return (libs) => {
    const policy = make(libs);
    if (policy === undefined) return undefined;
    return op(() => policy.execute(fn));
  };
}

// ---------------------------------------------------------------------------------------------
// Policy factories (each scenario builds its own instance)

const S = {
  retry: (l: Libs) => new l.staunch.RetryPolicy(),
  breaker: (l: Libs) => (l.staunch.CircuitBreaker ? new l.staunch.CircuitBreaker() : undefined),
  bulkhead: (l: Libs) => (l.staunch.Bulkhead ? new l.staunch.Bulkhead({ maxConcurrent: 10 }) : undefined),
  timeout: (l: Libs) => new l.staunch.Timeout(1000),
  fallback: (l: Libs) => new l.staunch.Fallback(() => 0),
  pipeline3: (l: Libs) => {
    const { Fallback, RetryPolicy, Timeout, pipeline } = l.staunch;
    return pipeline(new Fallback(() => 0), new RetryPolicy(), new Timeout(1000));
  },
  pipeline: (l: Libs, maxConcurrent = 10) => {
    const { CircuitBreaker, Bulkhead, Fallback, RetryPolicy, Timeout, pipeline } = l.staunch;
    if (CircuitBreaker === undefined || Bulkhead === undefined) return undefined;
    return pipeline(
      new Fallback(() => 0),
      new RetryPolicy(),
      new CircuitBreaker(),
      new Bulkhead({ maxConcurrent }),
      new Timeout(1000),
    );
  },
};

const C = {
  retry: (l: Libs) => l.cockatiel.retry(l.cockatiel.handleAll, { maxAttempts: 3 }),
  consecutive: (l: Libs) =>
    l.cockatiel.circuitBreaker(l.cockatiel.handleAll, {
      halfOpenAfter: 5000,
      breaker: new l.cockatiel.ConsecutiveBreaker(5),
    }),
  sampling: (l: Libs, duration = 10_000, threshold = 0.5) =>
    l.cockatiel.circuitBreaker(l.cockatiel.handleAll, {
      halfOpenAfter: 5000,
      breaker: new l.cockatiel.SamplingBreaker({ threshold, duration }),
    }),
  bulkhead: (l: Libs, limit = 10) => l.cockatiel.bulkhead(limit),
  timeout: (l: Libs) => l.cockatiel.timeout(1000, l.cockatiel.TimeoutStrategy.Aggressive),
  cooperative: (l: Libs) => l.cockatiel.timeout(1000, l.cockatiel.TimeoutStrategy.Cooperative),
  fallback: (l: Libs) => l.cockatiel.fallback(l.cockatiel.handleAll, 0),
  pipeline: (l: Libs, limit = 10) =>
    l.cockatiel.wrap(C.fallback(l), C.retry(l), C.sampling(l), C.bulkhead(l, limit), C.timeout(l)) as unknown as {
      execute(fn: Fn): Promise<unknown>;
    },
};

// ---------------------------------------------------------------------------------------------
// Success path

for (const variant of VARIANTS) {
  const fn = FNS[variant];
  const baseline = `bare/${variant}/bare`;
  const detail = { value: 'async () => 1', await: 'awaits a resolved promise', signal: 'reads ctx.signal' }[variant];
  add({
    group: 'bare',
    variant,
    lib: 'bare',
    detail: `await fn() (${detail})`,
    setup: () => (variant === 'signal' ? op(() => fn(bareCtx)) : op(fn as () => Promise<number>)),
  });

  const success = (group: string, lib: string, d: string, setup: (libs: Libs) => Runner | undefined): void =>
    add({ group, variant, lib, detail: d, baseline, setup });

  success('retry', 'staunch', 'new RetryPolicy()', staunchOp(S.retry, fn));
  success('retry', 'cockatiel', 'retry(handleAll, { maxAttempts: 3 })', (l) => {
    const p = C.retry(l);
    return op(() => p.execute(fn));
  });
  if (variant !== 'signal') {
    success('retry', 'p-retry', 'pRetry(fn, { retries: 3 })', (l) =>
      op(() => l.pRetry(fn as () => Promise<number>, { retries: 3 })),
    );
  }

  success('breaker', 'staunch', 'new CircuitBreaker() (Hystrix rule, defaults)', staunchOp(S.breaker, fn));
  success('breaker', 'cockatiel', 'ConsecutiveBreaker(5)', (l) => {
    const p = C.consecutive(l);
    return op(() => p.execute(fn));
  });
  success('breaker', 'cockatiel-sampling', 'SamplingBreaker(0.5, 10 s)', (l) => {
    const p = C.sampling(l);
    return op(() => p.execute(fn));
  });
  if (variant !== 'signal') {
    success('breaker', 'opossum', 'new CircuitBreaker(fn) (defaults: 10 s timeout)', (l) => {
      const b = new l.Opossum(fn);
      return op(
        () => b.fire(),
        () => b.shutdown(),
      );
    });
  }

  success('bulkhead', 'staunch', 'new Bulkhead({ maxConcurrent: 10 })', staunchOp(S.bulkhead, fn));
  success('bulkhead', 'cockatiel', 'bulkhead(10)', (l) => {
    const p = C.bulkhead(l);
    return op(() => p.execute(fn));
  });
  if (variant !== 'signal') {
    success('bulkhead', 'p-limit', 'pLimit(10)', (l) => {
      const limit = l.pLimit(10);
      return op(() => limit(fn as () => Promise<number>));
    });
  }

  success('timeout', 'staunch', 'new Timeout(1000)', staunchOp(S.timeout, fn));
  success('timeout', 'cockatiel', 'timeout(1000, Aggressive)', (l) => {
    const p = C.timeout(l);
    return op(() => p.execute(fn));
  });
  success('timeout', 'cockatiel-coop', 'timeout(1000, Cooperative)', (l) => {
    const p = C.cooperative(l);
    return op(() => p.execute(fn));
  });
  if (variant !== 'signal') {
    success('timeout', 'p-timeout', 'pTimeout(fn(), { milliseconds: 1000 })', (l) =>
      op(() => l.pTimeout((fn as () => Promise<number>)(), { milliseconds: 1000 })),
    );
  }

  success('fallback', 'staunch', 'new Fallback(() => 0)', staunchOp(S.fallback, fn));
  success('fallback', 'cockatiel', 'fallback(handleAll, 0)', (l) => {
    const p = C.fallback(l);
    return op(() => p.execute(fn));
  });

  success('pipeline3', 'staunch', 'Fallback → Retry → Timeout(1000)', staunchOp(S.pipeline3, fn));
  success('pipeline3', 'cockatiel', 'wrap(fallback, retry, timeout(1000))', (l) => {
    const c = l.cockatiel;
    const p = c.wrap(C.fallback(l), C.retry(l), C.timeout(l));
    return op(() => p.execute(fn));
  });

  success(
    'pipeline',
    'staunch',
    'Fallback → Retry → CircuitBreaker → Bulkhead(10) → Timeout(1000)',
    staunchOp(S.pipeline, fn),
  );
  success('pipeline', 'cockatiel', 'wrap(fallback, retry, sampling breaker, bulkhead(10), timeout(1000))', (l) => {
    const p = C.pipeline(l);
    return op(() => p.execute(fn));
  });
  if (variant !== 'signal') {
    success('pipeline', 'opossum', 'CircuitBreaker(fn, { timeout: 1000, capacity: 10 })', (l) => {
      const b = new l.Opossum(fn, { timeout: 1000, capacity: 10 });
      return op(
        () => b.fire(),
        () => b.shutdown(),
      );
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Failure path: an open breaker's rejection

add({
  group: 'open-breaker',
  variant: 'reject',
  lib: 'bare',
  detail: 'fail().catch(noop)',
  setup: () => op(() => fail().then(undefined, noop)),
});
const openBaseline = 'open-breaker/reject/bare';
add({
  group: 'open-breaker',
  variant: 'reject',
  lib: 'staunch',
  detail: 'isolated CircuitBreaker (opened by hand)',
  baseline: openBaseline,
  setup: (l) => {
    const b = S.breaker(l) as BreakerLike | undefined;
    if (b?.isolate === undefined) return undefined;
    b.isolate();
    return op(() => b.execute(FNS.value).then(undefined, noop));
  },
});
add({
  group: 'open-breaker',
  variant: 'reject',
  lib: 'cockatiel',
  detail: 'ConsecutiveBreaker, isolate()',
  baseline: openBaseline,
  setup: (l) => {
    const p = C.consecutive(l);
    const handle = p.isolate();
    return op(
      () => p.execute(FNS.value).then(undefined, noop),
      () => handle.dispose(),
    );
  },
});
add({
  group: 'open-breaker',
  variant: 'reject',
  lib: 'opossum',
  detail: 'open()',
  baseline: openBaseline,
  setup: (l) => {
    const b = new l.Opossum(FNS.value);
    b.open();
    return op(
      () => b.fire().then(undefined, noop),
      () => b.shutdown(),
    );
  },
});

// ---------------------------------------------------------------------------------------------
// Failure path: one failure in a closed breaker after N calls in its window

/** How a library's breaker is driven in the window scenarios. */
interface WindowBreaker {
  call(fn: Fn): Promise<unknown>;
  closed(): boolean;
  teardown?: () => void;
}

const LONG_WINDOW = 600_000; // ms: nothing leaves the window during the run
const WINDOWS = { full: [10, 10_000, 1_000_000], tiny: [10, 100, 1000] } as const;

const windowBreakers: Record<string, { detail: string; make: (l: Libs) => WindowBreaker | undefined }> = {
  staunch: {
    detail: 'CircuitBreaker({ errorThresholdPercentage: 90, rollingWindow: 600 s })',
    make: (l) => {
      if (l.staunch.CircuitBreaker === undefined) return undefined;
      const b = new l.staunch.CircuitBreaker({ errorThresholdPercentage: 90, rollingWindow: LONG_WINDOW, buckets: 10 });
      return { call: (fn) => b.execute(fn), closed: () => (b as unknown as BreakerLike).state === 'closed' };
    },
  },
  cockatiel: {
    detail: 'SamplingBreaker({ threshold: 0.9, duration: 600 s })',
    make: (l) => {
      const p = C.sampling(l, LONG_WINDOW, 0.9);
      return { call: (fn) => p.execute(fn), closed: () => p.state === l.cockatiel.CircuitState.Closed };
    },
  },
  opossum: {
    detail: '{ errorThresholdPercentage: 90, rollingCountTimeout: 600 s, timeout: false }',
    make: (l) => {
      let run: Fn = FNS.value;
      const b: OpossumBreaker = new l.Opossum(() => run(bareCtx), {
        errorThresholdPercentage: 90,
        rollingCountTimeout: LONG_WINDOW,
        rollingCountBuckets: 10,
        timeout: false,
      });
      return {
        call: (fn) => {
          run = fn;
          return b.fire();
        },
        closed: () => !b.opened,
        teardown: () => b.shutdown(),
      };
    },
  },
};

for (const [index, label] of ['10', '1e4', '1e6'].entries()) {
  for (const [lib, wb] of Object.entries(windowBreakers)) {
    add({
      group: 'closed-failure',
      variant: `window ${label}`,
      lib,
      detail: wb.detail,
      baseline: `closed-failure/window 10/${lib}`,
      once: true,
      setup: (l) => {
        const breaker = wb.make(l);
        if (breaker === undefined) return undefined;
        return {
          kind: 'custom',
          run: async (size) => {
            const calls = WINDOWS[size][index] as number;
            // Fill the window with successes, concurrently in batches (the order does not matter).
            const batch = 1000;
            for (let done = 0; done < calls; done += batch) {
              const n = Math.min(batch, calls - done);
              const all: Promise<unknown>[] = new Array(n);
              for (let i = 0; i < n; i++) all[i] = breaker.call(FNS.value);
              await Promise.all(all);
            }
            // Time single failures; a success after each keeps the error rate far below the threshold.
            const samples = size === 'full' ? 21 : 3;
            const times: number[] = [];
            for (let i = 0; i < samples; i++) {
              const t0 = performance.now();
              await breaker.call(fail).then(undefined, noop);
              times.push((performance.now() - t0) * 1e6);
              await breaker.call(FNS.value);
            }
            return { ns: median(times), calls, closed: breaker.closed() ? 1 : 0 };
          },
          ...(breaker.teardown ? { teardown: breaker.teardown } : {}),
        };
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Burst: 100,000 calls at once through a Bulkhead(100) with a queue of 100,000

const BURST = { full: 100_000, tiny: 1000 } as const;
function burst(limited: (fn: () => Promise<number>) => Promise<unknown>): CustomRunner {
  return {
    kind: 'custom',
    run: async (size) => {
      const n = BURST[size];
      let rejected = 0;
      const onReject = (): void => {
        rejected++;
      };
      const all: Promise<unknown>[] = new Array(n);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) all[i] = limited(FNS.await as () => Promise<number>).then(undefined, onReject);
      await Promise.all(all);
      const ms = performance.now() - t0;
      return { ms, calls: n, rejectedPct: (100 * rejected) / n };
    },
  };
}
const burstBaseline = 'burst/100k/bare';
add({
  group: 'burst',
  variant: '100k',
  lib: 'bare',
  detail: 'no limit',
  primary: 'ms',
  setup: () => burst((fn) => fn()),
});
add({
  group: 'burst',
  variant: '100k',
  lib: 'staunch',
  detail: 'Bulkhead({ maxConcurrent: 100, maxQueue: 100000 })',
  primary: 'ms',
  baseline: burstBaseline,
  setup: (l) => {
    if (l.staunch.Bulkhead === undefined) return undefined;
    const b = new l.staunch.Bulkhead({ maxConcurrent: 100, maxQueue: 100_000 });
    return burst((fn) => b.execute(fn));
  },
});
add({
  group: 'burst',
  variant: '100k',
  lib: 'cockatiel',
  detail: 'bulkhead(100, 100000)',
  primary: 'ms',
  baseline: burstBaseline,
  setup: (l) => {
    const b = l.cockatiel.bulkhead(100, 100_000);
    return burst((fn) => b.execute(fn));
  },
});
add({
  group: 'burst',
  variant: '100k',
  lib: 'p-limit',
  detail: 'pLimit(100)',
  primary: 'ms',
  baseline: burstBaseline,
  setup: (l) => {
    const limit = l.pLimit(100);
    return burst((fn) => limit(fn));
  },
});
add({
  group: 'burst',
  variant: '100k',
  lib: 'opossum',
  detail: '{ capacity: 100, timeout: false } (rejects over capacity)',
  primary: 'ms',
  baseline: burstBaseline,
  setup: (l) => {
    let run: () => Promise<number> = FNS.value as () => Promise<number>;
    const b = new l.Opossum(() => run(), { capacity: 100, timeout: false });
    return {
      ...burst((fn) => {
        run = fn;
        return b.fire();
      }),
      teardown: () => b.shutdown(),
    };
  },
});

// ---------------------------------------------------------------------------------------------
// Memory: 10,000 idle breakers (each has made one call), their timers and idle CPU

const IDLE = { full: { count: 10_000, cpuMs: 1000 }, tiny: { count: 50, cpuMs: 20 } } as const;

/** Counts the timers started (and not yet fired or cleared) while `track` is active. */
function trackTimers(): { live: () => number; intervals: () => number; stop: () => void } {
  const g = globalThis as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved = {
    setTimeout: g.setTimeout as (...args: unknown[]) => unknown,
    setInterval: g.setInterval as (...args: unknown[]) => unknown,
    clearTimeout: g.clearTimeout as (...args: unknown[]) => unknown,
    clearInterval: g.clearInterval as (...args: unknown[]) => unknown,
  };
  const timeouts = new Set<unknown>();
  const intervals = new Set<unknown>();
  g.setTimeout = (cb: unknown, ...rest: unknown[]) => {
    const handle = saved.setTimeout(
      (...args: unknown[]) => {
        timeouts.delete(handle);
        (cb as (...a: unknown[]) => void)(...args);
      },
      ...rest,
    );
    timeouts.add(handle);
    return handle;
  };
  g.setInterval = (...args: unknown[]) => {
    const handle = saved.setInterval(...args);
    intervals.add(handle);
    return handle;
  };
  g.clearTimeout = (handle: unknown) => {
    timeouts.delete(handle);
    intervals.delete(handle);
    return saved.clearTimeout(handle);
  };
  g.clearInterval = (handle: unknown) => {
    timeouts.delete(handle);
    intervals.delete(handle);
    return saved.clearInterval(handle);
  };
  return {
    live: () => timeouts.size + intervals.size,
    intervals: () => intervals.size,
    stop: () => Object.assign(g, saved),
  };
}

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}
async function idleCpu(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleepMs(ms);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1000 / (performance.now() - t0)) * 1000; // CPU ms per second
}

function idleBreakers(make: (l: Libs) => (() => { call(): Promise<unknown>; dispose?: () => void }) | undefined) {
  return (l: Libs): CustomRunner | undefined => {
    const factory = make(l);
    if (factory === undefined) return undefined;
    return {
      kind: 'custom',
      run: async (size) => {
        const { count, cpuMs } = IDLE[size];
        const cpuBefore = await idleCpu(cpuMs);
        const timers = trackTimers();
        const h0 = heapUsed();
        const breakers = new Array(count);
        try {
          for (let i = 0; i < count; i++) {
            breakers[i] = factory();
            await breakers[i].call();
          }
          await sleepMs(0);
          const bytes = (heapUsed() - h0) / count;
          const live = timers.live();
          const intervals = timers.intervals();
          const cpuAfter = await idleCpu(cpuMs);
          return {
            bytes,
            timersPer: live / count,
            intervalsPer: intervals / count,
            idleCpuMsPerS: Math.max(0, cpuAfter - cpuBefore),
            count,
          };
        } finally {
          timers.stop();
          for (const b of breakers) b?.dispose?.();
        }
      },
    };
  };
}

add({
  group: 'idle-breakers',
  variant: '10k',
  lib: 'staunch',
  detail: 'new CircuitBreaker() after one call',
  primary: 'bytes',
  once: true,
  setup: idleBreakers((l) => {
    const Ctor = l.staunch.CircuitBreaker;
    if (Ctor === undefined) return undefined;
    return () => {
      const b = new Ctor();
      return { call: () => b.execute(FNS.value) };
    };
  }),
});
add({
  group: 'idle-breakers',
  variant: '10k',
  lib: 'cockatiel',
  detail: 'ConsecutiveBreaker(5) after one call',
  primary: 'bytes',
  once: true,
  setup: idleBreakers((l) => () => {
    const p = C.consecutive(l);
    return { call: () => p.execute(FNS.value) };
  }),
});
add({
  group: 'idle-breakers',
  variant: '10k',
  lib: 'cockatiel-sampling',
  detail: 'SamplingBreaker(0.5, 10 s) after one call',
  primary: 'bytes',
  once: true,
  setup: idleBreakers((l) => () => {
    const p = C.sampling(l);
    return { call: () => p.execute(FNS.value) };
  }),
});
add({
  group: 'idle-breakers',
  variant: '10k',
  lib: 'opossum',
  detail: 'new CircuitBreaker(fn) after one call',
  primary: 'bytes',
  once: true,
  setup: idleBreakers((l) => () => {
    const b = new l.Opossum(FNS.value);
    return { call: () => b.fire(), dispose: () => b.shutdown() };
  }),
});

// ---------------------------------------------------------------------------------------------
// Sustained: batches of concurrent calls with a turn of the event loop between (timers show)

const SUSTAINED = { full: { batches: 300, concurrency: 100 }, tiny: { batches: 3, concurrency: 10 } } as const;
function sustained(call: (fn: () => Promise<number>) => Promise<unknown>): CustomRunner {
  return {
    kind: 'custom',
    run: async (size) => {
      const { batches, concurrency } = SUSTAINED[size];
      const fn = FNS.await as () => Promise<number>;
      const all: Promise<unknown>[] = new Array(concurrency);
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) {
        for (let i = 0; i < concurrency; i++) all[i] = call(fn);
        await Promise.all(all);
        await new Promise(setImmediate);
      }
      const ms = performance.now() - t0;
      return { ns: (ms * 1e6) / (batches * concurrency), calls: batches * concurrency };
    },
  };
}
const sustainedBaseline = 'sustained/100 x 300/bare';
const sustainedScenarios: [string, string, (l: Libs) => Runner | undefined][] = [
  ['bare', 'await fn()', () => sustained((fn) => fn())],
  [
    'staunch',
    'Timeout(1000)',
    (l) => {
      const p = S.timeout(l);
      return sustained((fn) => p.execute(fn));
    },
  ],
  [
    'staunch-pipeline',
    'full pipeline, Bulkhead(100)',
    (l) => {
      // As many slots as concurrent calls: the bulkhead admits them all, nothing is rejected or retried.
      const p = S.pipeline(l, 100);
      return p && sustained((fn) => p.execute(fn));
    },
  ],
  [
    'cockatiel',
    'timeout(1000, Aggressive)',
    (l) => {
      const p = C.timeout(l);
      return sustained((fn) => p.execute(fn));
    },
  ],
  [
    'cockatiel-pipeline',
    'full pipeline, bulkhead(100)',
    (l) => {
      const p = C.pipeline(l, 100);
      return sustained((fn) => p.execute(fn));
    },
  ],
  ['p-timeout', 'pTimeout(fn(), 1000)', (l) => sustained((fn) => l.pTimeout(fn(), { milliseconds: 1000 }))],
  [
    'opossum',
    'defaults (10 s timeout)',
    (l) => {
      let run: () => Promise<number> = FNS.value as () => Promise<number>;
      const b = new l.Opossum(() => run());
      return {
        ...sustained((fn) => {
          run = fn;
          return b.fire();
        }),
        teardown: () => b.shutdown(),
      };
    },
  ],
];
for (const [lib, detail, setup] of sustainedScenarios) {
  add({
    group: 'sustained',
    variant: '100 x 300',
    lib,
    detail,
    ...(lib === 'bare' ? {} : { baseline: sustainedBaseline }),
    setup,
  });
}

// ---------------------------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Every scenario, in definition order. */
export const SCENARIOS: readonly Scenario[] = scenarios;
