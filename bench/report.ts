/** Targets, the printed table, the JSON results and the markdown section. */
import { execSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { Result } from './harness.js';

export interface Target {
  readonly label: string;
  readonly id: string;
  /** `ratio`, or a metric name of the scenario. */
  readonly metric: string;
  readonly max: number;
  readonly unit: string;
  readonly peers: string;
}

/** The issue's targets (ratios to a bare `await fn()` on this machine, Node 20). */
export const TARGETS: readonly Target[] = [
  { label: 'Retry, success', id: 'retry/value/staunch', metric: 'ratio', max: 2.5, unit: '×', peers: 'cockatiel 3.7×' },
  {
    label: 'CircuitBreaker, success',
    id: 'breaker/value/staunch',
    metric: 'ratio',
    max: 2.5,
    unit: '×',
    peers: 'cockatiel 3.6–4.9×, opossum 20×',
  },
  {
    label: 'Bulkhead, success',
    id: 'bulkhead/value/staunch',
    metric: 'ratio',
    max: 2.5,
    unit: '×',
    peers: 'cockatiel 3.2×',
  },
  {
    label: 'Timeout, success',
    id: 'timeout/value/staunch',
    metric: 'ratio',
    max: 4,
    unit: '×',
    peers: 'cockatiel 240×, p-timeout 180×',
  },
  {
    label: 'Full pipeline, success',
    id: 'pipeline/value/staunch',
    metric: 'ratio',
    max: 6,
    unit: '×',
    peers: 'cockatiel 300×, opossum 14×',
  },
  {
    label: 'Bytes per call, full pipeline (net of bare)',
    id: 'pipeline/value/staunch',
    metric: 'netBytes',
    max: 300,
    unit: 'B',
    peers: 'cockatiel ≈8,500 B, opossum ≈1,240 B',
  },
  {
    label: '100k burst through Bulkhead(100) vs no limit',
    id: 'burst/100k/staunch',
    metric: 'ratio',
    max: 1.5,
    unit: '×',
    peers: 'cockatiel 27×, opossum rejects 99.9 %',
  },
  {
    label: 'Heap per idle breaker',
    id: 'idle-breakers/10k/staunch',
    metric: 'bytes',
    max: 1024,
    unit: 'B',
    peers: 'cockatiel 1.25–2 KB, opossum 7 KB',
  },
  {
    label: 'Timers per idle breaker',
    id: 'idle-breakers/10k/staunch',
    metric: 'timersPer',
    max: 0,
    unit: '',
    peers: 'opossum 2 intervals',
  },
  {
    label: 'Failure in closed breaker, window 10⁶ vs 10',
    id: 'closed-failure/window 1e6/staunch',
    metric: 'ratio',
    max: 1.5,
    unit: '×',
    peers: 'cockatiel flat, opossum ~100 ms',
  },
];

export interface TargetResult extends Target {
  readonly value: number | undefined;
  readonly pass: boolean | undefined;
}

export function evaluateTargets(results: readonly Result[]): TargetResult[] {
  return TARGETS.map((t) => {
    const r = results.find((x) => x.id === t.id);
    const value =
      r === undefined || r.status !== 'ok' ? undefined : t.metric === 'ratio' ? r.ratio : r.metrics[t.metric];
    return { ...t, value, pass: value === undefined || Number.isNaN(value) ? undefined : value <= t.max };
  });
}

export interface Machine {
  nproc: number;
  cpu: string;
  node: string;
  v8: string;
  platform: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const info = execSync('grep -m1 "model name" /proc/cpuinfo', { encoding: 'utf8' });
    cpu = info.split(':')[1]?.trim() ?? cpu;
  } catch {
    // not Linux: keep os.cpus()
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // keep os.cpus()
  }
  return {
    nproc,
    cpu,
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  if (Math.abs(n) >= 1e6) return n.toExponential(2);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function targetsFor(id: string, targets: readonly TargetResult[]): string {
  return targets
    .filter((t) => t.id === id)
    .map((t) => {
      const mark = t.pass === undefined ? 'n/a' : t.pass ? 'PASS' : 'FAIL';
      const what = t.metric === 'ratio' ? '' : t.metric.endsWith('ytes') ? ' B' : ` ${t.metric}`;
      return `${mark} ≤${t.max}${t.unit === '×' ? '×' : what}`;
    })
    .join(', ');
}

interface Table {
  readonly title: string;
  readonly head: string[];
  readonly rows: string[][];
}

/** The results as tables, one per kind of scenario. */
export function tables(results: readonly Result[], targets: readonly TargetResult[]): Table[] {
  const out: Table[] = [];
  const status = (r: Result): string | undefined =>
    r.status === 'ok' ? undefined : r.status === 'n/a' ? 'n/a' : 'error';
  const cell = (r: Result, v: string): string => status(r) ?? v;
  const opGroups = [
    'bare',
    'retry',
    'breaker',
    'bulkhead',
    'timeout',
    'fallback',
    'pipeline3',
    'pipeline',
    'open-breaker',
  ];
  const byGroup = (g: string) => results.filter((r) => r.group === g);

  out.push({
    title:
      'Per call (median ns/op over rounds; ratio to bare `await fn()` of the same function, timed right after it in each round, median over rounds; bytes allocated per call, and net of the bare call)',
    head: ['scenario', 'fn', 'library', 'ns/op', 'ratio', 'B/call', 'net B', 'target'],
    rows: opGroups.flatMap((g) =>
      byGroup(g).map((r) => [
        g,
        r.variant,
        `${r.lib}${r.lib === 'bare' ? '' : ` — ${r.detail}`}`,
        cell(r, fmt(r.metrics.ns, 0)),
        cell(r, r.ratio === undefined ? '1.00' : fmt(r.ratio, 2)),
        cell(r, fmt(r.metrics.bytes, 0)),
        cell(r, r.lib === 'bare' ? '0' : fmt(r.metrics.netBytes, 0)),
        targetsFor(r.id, targets),
      ]),
    ),
  });
  out.push({
    title: 'One failure in a closed breaker after N calls in the window (median of single timed failures)',
    head: ['window', 'library', 'ns/failure', 'vs window 10', 'still closed', 'target'],
    rows: byGroup('closed-failure').map((r) => [
      r.variant,
      `${r.lib} — ${r.detail}`,
      cell(r, fmt(r.metrics.ns, 0)),
      cell(r, fmt(r.ratio ?? 1, 2)),
      cell(r, r.metrics.closed === 1 ? 'yes' : 'no'),
      targetsFor(r.id, targets),
    ]),
  });
  out.push({
    title: 'Burst: 100,000 calls (each awaits a resolved promise) fired at once',
    head: ['library', 'ms', 'vs no limit', 'rejected %', 'target'],
    rows: byGroup('burst').map((r) => [
      `${r.lib} — ${r.detail}`,
      cell(r, fmt(r.metrics.ms, 1)),
      cell(r, fmt(r.ratio ?? 1, 2)),
      cell(r, fmt(r.metrics.rejectedPct, 1)),
      targetsFor(r.id, targets),
    ]),
  });
  out.push({
    title: '10,000 idle circuit breakers (each made one call)',
    head: ['library', 'heap B/breaker', 'live timers/breaker', 'intervals/breaker', 'idle CPU ms/s', 'target'],
    rows: byGroup('idle-breakers').map((r) => [
      `${r.lib} — ${r.detail}`,
      cell(r, fmt(r.metrics.bytes, 0)),
      cell(r, fmt(r.metrics.timersPer, 2)),
      cell(r, fmt(r.metrics.intervalsPer, 2)),
      cell(r, fmt(r.metrics.idleCpuMsPerS, 1)),
      targetsFor(r.id, targets),
    ]),
  });
  out.push({
    title: 'Sustained: 300 batches of 100 concurrent calls, a setImmediate turn between batches',
    head: ['library', 'ns/call', 'ratio'],
    rows: byGroup('sustained').map((r) => [
      `${r.lib} — ${r.detail}`,
      cell(r, fmt(r.metrics.ns, 0)),
      cell(r, fmt(r.ratio ?? 1, 2)),
    ]),
  });
  return out;
}

export function formatText(t: Table): string {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  // Right-align the columns that hold numbers.
  const numeric = t.head.map((_, i) => t.rows.every((r) => /^([-\d.,e+]+|—|n\/a|error|yes|no)$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
  return [t.title, line(t.head), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

export function formatMarkdown(t: Table): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    `**${t.title}**`,
    '',
    `| ${t.head.map(esc).join(' | ')} |`,
    `|${t.head.map((_, i) => (i >= 3 ? ' ---: ' : ' --- ')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function targetsMarkdown(targets: readonly TargetResult[]): string {
  return [
    '| target | staunch | limit | peers (issue) | |',
    '| --- | ---: | ---: | --- | --- |',
    ...targets.map(
      (t) =>
        `| ${t.label} | ${fmt(t.value, t.unit === '×' ? 2 : 0)}${t.unit === '×' ? '×' : t.unit ? ` ${t.unit}` : ''} | ≤ ${t.max}${t.unit === '×' ? '×' : t.unit ? ` ${t.unit}` : ''} | ${t.peers} | ${t.pass === undefined ? 'n/a' : t.pass ? 'pass' : '**FAIL**'} |`,
    ),
  ].join('\n');
}
