/**
 * The soak's reduced form (100,000 calls) as part of the suite: runs scripts/soak.ts as a child
 * process and requires it to pass its own checks (every call answered once, heap back within a few
 * MB after GC, no listener left on a long-lived caller signal, policies idle) and to exit 0 by
 * itself within the bound — the exit proves nothing keeps the event loop alive. The full form is
 * `npm run soak` (one million calls).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runSoak(args: readonly string[], boundMs: number) {
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }>(
    (resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'scripts/soak.ts', ...args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      // A process that does not exit by itself within the bound is a failure, not a hang of the suite.
      const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
      });
    },
  );
}

describe('soak (reduced: 100,000 calls through Fallback → Retry → CircuitBreaker → Bulkhead → Timeout)', () => {
  it('answers every call, leaks nothing, and exits by itself', async () => {
    const r = await runSoak(['--calls', '100000', '--heap-mb', '5'], 55_000);
    expect(r.signal, `killed after the bound; stderr: ${r.stderr}`).toBeNull();
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      ok: boolean;
      problems: string[];
      calls: number;
      outcomes: Record<string, number>;
      heapDeltaMb: number;
      sharedSignal: { active: number; added: number };
    };
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
    expect(report.calls).toBe(100_000);
    // Mixed outcomes really happened: values, fallbacks, caller aborts.
    expect(report.outcomes.value).toBeGreaterThan(50_000);
    expect(report.outcomes.fallback).toBeGreaterThan(1_000);
    expect(report.outcomes.aborted).toBeGreaterThan(1_000);
    expect(report.sharedSignal.added).toBeGreaterThan(0);
    expect(report.sharedSignal.active).toBe(0);
    expect(Math.abs(report.heapDeltaMb)).toBeLessThan(5);
  }, 60_000);

  it('its checks can fail: a run that leaks on purpose reports heap growth and listeners, and exits 1', async () => {
    const r = await runSoak(['--calls', '30000', '--heap-mb', '5', '--inject-leak'], 55_000);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ok: boolean; problems: string[] };
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/heap grew by/);
    expect(report.problems.join('\n')).toMatch(/listeners left on the shared signal/);
  }, 60_000);
});
