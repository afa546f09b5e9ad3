/**
 * Keeps the benchmark suite from rotting: every scenario runs once, at a tiny size, against
 * staunch from src. No speed is asserted — only that each scenario completes and yields numbers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesPerCall, runScenarios, stopWatchingGc } from '../bench/harness.js';
import { type Libs, loadLibs } from '../bench/libs.js';
import { evaluateTargets, formatMarkdown, formatText, TARGETS, tables } from '../bench/report.js';
import { SCENARIOS } from '../bench/scenarios.js';

let libs: Libs;
beforeAll(async () => {
  libs = await loadLibs('src');
});
afterAll(async () => {
  stopWatchingGc();
  // The scenarios' Timeout(1000) policies keep their shared timer (unref'd) for up to 1 s after
  // their last call, by design; let it go off so the leak check sees nothing left.
  await new Promise((resolve) => setTimeout(resolve, 1100));
});

describe('benchmark scenarios', () => {
  it('have unique ids and baselines that exist', () => {
    const ids = new Set(SCENARIOS.map((s) => s.id));
    expect(ids.size).toBe(SCENARIOS.length);
    for (const s of SCENARIOS) if (s.baseline !== undefined) expect(ids.has(s.baseline), s.id).toBe(true);
    for (const t of TARGETS) expect(ids.has(t.id), t.label).toBe(true);
  });

  it.each(SCENARIOS.map((s) => [s.id, s] as const))('%s runs once and yields numbers', async (_id, scenario) => {
    const [result] = await runScenarios([scenario], libs, { size: 'tiny', rounds: 1, minCpuMs: 1, bytesCalls: 10 });
    expect(result?.error).toBeUndefined();
    // A policy still being written may be missing: that is "n/a", never a crash.
    expect(['ok', 'n/a']).toContain(result?.status);
    if (result?.status !== 'ok') return;
    const primary = result.metrics[result.primary];
    expect(typeof primary).toBe('number');
    expect(Number.isFinite(primary)).toBe(true);
    for (const value of Object.values(result.metrics)) expect(typeof value).toBe('number');
  });

  it('formats a report from results', async () => {
    const picked = SCENARIOS.filter((s) => s.group === 'bare' || s.id === 'retry/value/staunch');
    const results = await runScenarios(picked, libs, { size: 'tiny', rounds: 1, minCpuMs: 1, bytesCalls: 10 });
    const retry = results.find((r) => r.id === 'retry/value/staunch');
    expect(retry?.ratio).toBeGreaterThan(0);
    const targets = evaluateTargets(results);
    expect(targets.find((t) => t.id === 'retry/value/staunch')?.value).toBe(retry?.ratio);
    for (const t of tables(results, targets)) {
      expect(formatText(t)).toContain(t.title);
      expect(formatMarkdown(t)).toContain('|');
    }
  });

  it('counts the bytes a call allocates', async () => {
    const bytes = await bytesPerCall(async () => new Array(1000).fill(0), 20);
    // Without --expose-gc the count may be disturbed by a GC (NaN after retries) but is never negative.
    if (!Number.isNaN(bytes)) expect(bytes).toBeGreaterThanOrEqual(0);
  });
});
