/**
 * Profiling aid. Two uses:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts --id=retry/value/staunch [--seconds=5] [--from=src]
 *     runs one op scenario in a loop (for the profiler).
 *   npx tsx bench/profile.ts /tmp/prof/CPU.xxx.cpuprofile [--top=25]
 *     prints the functions with the most self time.
 */
import { readFileSync } from 'node:fs';

function arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const file = process.argv.slice(2).find((a) => a.endsWith('.cpuprofile'));
if (file !== undefined) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, '$1');
    const key = `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + node.hitCount);
    total += node.hitCount;
  }
  const top = Number(arg('top') ?? 25);
  for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * hits) / total).toFixed(1).padStart(5)} %  ${key}`);
  }
} else {
  const { loadLibs } = await import('./libs.js');
  const { SCENARIOS } = await import('./scenarios.js');
  const id = arg('id');
  const scenario = SCENARIOS.find((s) => s.id === id);
  if (scenario === undefined)
    throw new Error(`unknown scenario ${id}; one of:\n${SCENARIOS.map((s) => s.id).join('\n')}`);
  const runner = scenario.setup(await loadLibs((arg('from') ?? 'src') as 'src' | 'dist'));
  if (runner?.kind !== 'op') throw new Error(`${id} is not an op scenario (or n/a)`);
  const until = performance.now() + Number(arg('seconds') ?? 5) * 1000;
  let calls = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 10_000; i++) await runner.call();
    calls += 10_000;
  }
  runner.teardown?.();
  console.log(`${calls} calls`);
}
