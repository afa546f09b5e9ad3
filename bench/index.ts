/**
 * `npm run bench`: runs every scenario of bench/scenarios.ts for staunch and its peers in one
 * process, prints the tables and the targets, and writes bench/results/latest.{json,md} plus a
 * dated copy of the JSON.
 *
 * Options: --from=dist|src|auto (default auto: dist when built), --rounds=N (default 5),
 * --min-cpu-ms=N (mitata time per measurement, default 100), --filter=REGEX (scenario ids),
 * --tiny (CI-sized), --no-write, --quiet.
 *
 * It needs `--expose-gc` (allocation counts) and a large young generation (so that no GC runs
 * inside an allocation count); started without them, it restarts itself with them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NODE_FLAGS = ['--expose-gc', '--max-semi-space-size=64'];

if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  const child = spawnSync(
    process.execPath,
    [...NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

const { loadLibs } = await import('./libs.js');
const { SCENARIOS } = await import('./scenarios.js');
const { runScenarios, stopWatchingGc } = await import('./harness.js');
const { evaluateTargets, formatMarkdown, formatText, machine, tables, targetsMarkdown } = await import('./report.js');

function arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const from = (arg('from') ?? 'auto') as 'dist' | 'src' | 'auto';
const tiny = flag('tiny');
const options = {
  size: tiny ? ('tiny' as const) : ('full' as const),
  rounds: Number(arg('rounds') ?? (tiny ? 1 : 5)),
  minCpuMs: Number(arg('min-cpu-ms') ?? 100),
  bytesCalls: 2000,
  ...(flag('quiet') ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
};
const filter = arg('filter');
const scenarios = filter === undefined ? SCENARIOS : SCENARIOS.filter((s) => new RegExp(filter).test(s.id));

const libs = await loadLibs(from);
const info = { ...machine(), staunch: libs.staunchSource };
process.stderr.write(`${JSON.stringify(info)}\n`);

const started = new Date();
const results = await runScenarios(scenarios, libs, options);
stopWatchingGc();
const targets = evaluateTargets(results);
const out = tables(results, targets).filter((t) => t.rows.length > 0);

console.log(`\nstaunch benchmarks — ${started.toISOString()}`);
console.log(
  `machine: ${info.nproc} × ${info.cpu}, Node ${info.node} (V8 ${info.v8}); staunch from ${info.staunch}; ${options.rounds} rounds\n`,
);
for (const t of out) console.log(`${formatText(t)}\n`);
console.log('Targets');
for (const t of targets) {
  const value = t.value === undefined ? 'n/a' : t.value.toFixed(t.unit === '×' ? 2 : 0);
  const mark = t.pass === undefined ? 'n/a ' : t.pass ? 'PASS' : 'FAIL';
  console.log(`  ${mark}  ${t.label.padEnd(46)} ${value.padStart(8)} ≤ ${t.max}${t.unit}   (${t.peers})`);
}
const errors = results.filter((r) => r.status === 'error');
for (const r of errors) console.log(`error in ${r.id}: ${r.error}`);

if (!flag('no-write')) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(
    { date: started.toISOString(), machine: info, options: { ...options, log: undefined, filter }, targets, results },
    null,
    2,
  )}\n`;
  const stamp = started.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
  writeFileSync(join(dir, 'latest.json'), json);
  writeFileSync(join(dir, `${stamp}.json`), json);
  const md = [
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${info.nproc} × ${info.cpu}, Node ${info.node}; staunch from ${info.staunch}; medians of ${options.rounds} rounds.`,
    '',
    targetsMarkdown(targets),
    '',
    ...out.map((t) => `${formatMarkdown(t)}\n`),
  ].join('\n');
  writeFileSync(join(dir, 'latest.md'), md);
  process.stderr.write(`wrote ${join(dir, 'latest.json')}, ${stamp}.json and latest.md\n`);
}
