/**
 * Measures the scenarios: every round runs them all in a fresh random order; an op scenario is
 * timed with mitata (its own warm-up and batching; we keep the median sample, p50) and its
 * allocation counted from heap deltas; the result of each metric is the median over the rounds.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { measure } from 'mitata';
import type { Libs } from './libs.js';
import { median, type Runner, type Scenario, type Size } from './scenarios.js';

export interface HarnessOptions {
  readonly size: Size;
  /** Rounds over all scenarios (each in a new shuffled order). */
  readonly rounds: number;
  /** mitata's minimum CPU time per measurement, in ms. */
  readonly minCpuMs: number;
  /** Calls per allocation measurement. */
  readonly bytesCalls: number;
  /** Progress output (one line per measurement), or none. */
  readonly log?: (line: string) => void;
}

export interface Result {
  readonly id: string;
  readonly group: string;
  readonly variant: string;
  readonly lib: string;
  readonly detail: string;
  readonly primary: string;
  readonly baseline?: string;
  status: 'ok' | 'n/a' | 'error';
  error?: string;
  /** Median over the rounds, per metric. */
  metrics: Record<string, number>;
  /** Every round's value, per metric. */
  samples: Record<string, number[]>;
  /** `metrics[primary]` / the baseline's, when both exist. */
  ratio?: number;
}

type Gc = () => void;
const gc = (globalThis as { gc?: Gc }).gc;

/** GC start times (performance.now() clock), to discard allocation counts a GC interfered with. */
const gcTimes: number[] = [];
let observer: PerformanceObserver | undefined;
function watchGc(): void {
  if (observer !== undefined) return;
  observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcTimes.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
}
/** Stops watching GCs, so the process can exit. */
export function stopWatchingGc(): void {
  observer?.disconnect();
  observer = undefined;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Bytes allocated per call: heapUsed after `n` calls minus before, right after a full GC, with
 * the young generation large enough (--max-semi-space-size) that no GC runs in between. If one
 * ran anyway (seen by a PerformanceObserver) the count is wrong: retry with fewer calls.
 */
export async function bytesPerCall(call: () => Promise<unknown>, n: number): Promise<number> {
  watchGc();
  for (let attempt = 0; attempt < 6; attempt++, n = Math.max(10, n >> 1)) {
    gc?.();
    await turn();
    const t0 = performance.now();
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) await call();
    const h1 = process.memoryUsage().heapUsed;
    const t1 = performance.now();
    await turn();
    await turn();
    if (!gcTimes.some((t) => t >= t0 && t <= t1)) return Math.max(0, (h1 - h0) / n);
  }
  return Number.NaN;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function push(result: Result, metrics: Record<string, number>): void {
  for (const [key, value] of Object.entries(metrics)) {
    const list = result.samples[key] ?? [];
    list.push(value);
    result.samples[key] = list;
  }
}

async function measureNs(call: () => Promise<unknown>, options: HarnessOptions): Promise<number> {
  if (options.size === 'tiny') {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await call();
    return ((performance.now() - t0) * 1e6) / 10;
  }
  return (await measure(call, { min_cpu_time: options.minCpuMs * 1e6 })).p50;
}

async function measureOp(call: () => Promise<unknown>, options: HarnessOptions): Promise<Record<string, number>> {
  if (options.size === 'tiny') {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await call();
    const ns = ((performance.now() - t0) * 1e6) / 10;
    return { ns, bytes: await bytesPerCall(call, 10) };
  }
  const stats = await measure(call, { min_cpu_time: options.minCpuMs * 1e6 });
  return { ns: stats.p50, avg: stats.avg, bytes: await bytesPerCall(call, options.bytesCalls) };
}

/** Runs the scenarios and returns one result each (n/a and errors included, never thrown). */
export async function runScenarios(
  scenarios: readonly Scenario[],
  libs: Libs,
  options: HarnessOptions,
): Promise<Result[]> {
  const results = new Map<string, Result>();
  const runners = new Map<string, Runner>();
  for (const s of scenarios) {
    const result: Result = {
      id: s.id,
      group: s.group,
      variant: s.variant,
      lib: s.lib,
      detail: s.detail,
      primary: s.primary,
      ...(s.baseline === undefined ? {} : { baseline: s.baseline }),
      status: 'ok',
      metrics: {},
      samples: {},
    };
    results.set(s.id, result);
    try {
      const runner = s.setup(libs);
      if (runner === undefined) result.status = 'n/a';
      else runners.set(s.id, runner);
    } catch (error) {
      result.status = 'error';
      result.error = String(error);
    }
  }

  // Warm custom scenarios once, untimed, so their first round is not a cold start.
  if (options.size === 'full') {
    for (const s of scenarios) {
      const runner = runners.get(s.id);
      if (runner?.kind === 'custom' && !s.once) await runner.run('tiny').catch(() => undefined);
    }
  }

  for (let round = 0; round < options.rounds; round++) {
    const order = shuffle(scenarios.filter((s) => runners.has(s.id) && (round === 0 || !s.once)));
    for (const s of order) {
      const runner = runners.get(s.id) as Runner;
      const result = results.get(s.id) as Result;
      try {
        const metrics = runner.kind === 'op' ? await measureOp(runner.call, options) : await runner.run(options.size);
        // The machine may be shared: time the baseline right after, so each round's ratio compares
        // measurements taken under the same load. The reported ratio is the median of these.
        const base = s.baseline === undefined ? undefined : runners.get(s.baseline);
        if (runner.kind === 'op' && base?.kind === 'op' && metrics.ns !== undefined) {
          const baseNs = await measureNs(base.call, options);
          if (baseNs > 0) metrics.pairedRatio = metrics.ns / baseNs;
        }
        push(result, metrics);
        options.log?.(
          `round ${round + 1}/${options.rounds}  ${s.id.padEnd(44)} ${Object.entries(metrics)
            .map(([k, v]) => `${k}=${v.toFixed(k === 'ms' ? 2 : 0)}`)
            .join(' ')}`,
        );
      } catch (error) {
        result.status = 'error';
        result.error = String(error);
        runners.delete(s.id);
      }
    }
  }

  for (const [id, runner] of runners) {
    try {
      runner.teardown?.();
    } catch (error) {
      const result = results.get(id) as Result;
      result.error = `teardown: ${String(error)}`;
    }
  }

  for (const result of results.values()) {
    for (const [key, values] of Object.entries(result.samples)) result.metrics[key] = median(values);
  }
  for (const result of results.values()) {
    if (result.baseline === undefined || result.status !== 'ok') continue;
    const base = results.get(result.baseline);
    const num = result.metrics[result.primary];
    const den = base?.metrics[result.primary];
    const paired = result.metrics.pairedRatio;
    if (paired !== undefined) result.ratio = paired;
    else if (num !== undefined && den !== undefined && den > 0) result.ratio = num / den;
    // What the policy itself allocates: the bare call's own allocation (its promise, the await) taken out.
    const bytes = result.metrics.bytes;
    const baseBytes = base?.metrics.bytes;
    if (result.primary === 'ns' && bytes !== undefined && baseBytes !== undefined) {
      result.metrics.netBytes = bytes - baseBytes;
    }
  }
  return [...results.values()];
}
