#!/usr/bin/env node
// The package checks (`npm run test:package`, after `npm run build`):
//   1. every file the package.json entry points and exports map name exists in dist;
//   2. dist imports nothing but tslib, the optional peers and (integrations only) `node:` built-ins;
//   3. dist/index.js is runtime-neutral (no Node built-in, no Node-only global);
//   4. `npm pack`, then publint and Are the Types Wrong on the tarball;
//   5. a consumer in a temporary directory installs the tarball, first alone (the main entry must
//      work without any peer), then with the peers (from npm's cache), and both imports and
//      requires every entry point, making one real call through the package.
// Every step runs even when an earlier one fails; the exit code is 1 if any failed.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkRuntimeNeutral } from './lib/neutral.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The peer each subpath needs at run time (none for the others). */
const PEER_OF = {
  './express': 'express',
  './fastify': 'fastify',
  './koa': 'koa',
  './hono': 'hono',
  './opentelemetry': '@opentelemetry/api',
};

const failures = [];
const started = performance.now();
function fail(step, message) {
  failures.push(`${step}: ${message}`);
  console.error(`  ✗ ${message}`);
}
let lap = performance.now();
function ok(message) {
  const now = performance.now();
  console.log(`  ✓ ${message} (${((now - lap) / 1000).toFixed(1)} s)`);
  lap = now;
}
function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}
/** Runs a command; on failure records its output and returns undefined. */
function tryRun(step, cmd, args, options) {
  try {
    return run(cmd, args, options);
  } catch (error) {
    fail(step, `${[cmd, ...args].join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
    return undefined;
  }
}

function exportTargets(value, out = []) {
  if (typeof value === 'string') out.push(value);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) exportTargets(v, out);
  return out;
}

// 1. Entry points exist.
console.log('1. entry points');
const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
const targets = new Set([pkg.main, pkg.module, pkg.types, ...exportTargets(pkg.exports)].filter(Boolean));
for (const target of targets) {
  if (!existsSync(join(root, target)))
    fail('exports', `${target} is listed in package.json but missing after the build`);
}
/** Subpaths whose four files all exist: the only ones the smoke test can load. */
const built = subpaths.filter((s) => exportTargets(pkg.exports[s]).every((t) => existsSync(join(root, t))));
if (built.length === subpaths.length) ok(`all ${targets.size} targets of ${subpaths.length} entry points exist`);

// 2. Imports of dist.
console.log('2. imports of dist');
const peers = Object.keys(pkg.peerDependencies ?? {});
const runtimeDeps = Object.keys(pkg.dependencies ?? {});
const allowed = (spec) =>
  spec.startsWith('.') ||
  spec.startsWith('node:') ||
  [...peers, ...runtimeDeps].some((name) => spec === name || spec.startsWith(`${name}/`));
let importProblems = 0;
for (const file of readdirSync(join(root, 'dist')).filter((f) => /\.(c?js)$/.test(f))) {
  const code = readFileSync(join(root, 'dist', file), 'utf8');
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s*)["']([^"']+)["']/gm)) {
    if (!allowed(m[1])) {
      importProblems++;
      fail('imports', `dist/${file} imports '${m[1]}', which is neither a dependency nor a peer`);
    }
  }
}
if (importProblems === 0)
  ok(`dist imports only relative chunks, node: built-ins, ${[...runtimeDeps, ...peers].join(', ')}`);

// 3. The main entry runs outside Node.
console.log('3. runtime-neutral main entry');
if (existsSync(join(root, 'dist/index.js'))) {
  const problems = await checkRuntimeNeutral(join(root, 'dist/index.js'));
  for (const p of problems) fail('neutral', `dist/index.js ${p}`);
  if (problems.length === 0) ok('dist/index.js bundles for the browser with no Node built-in or Node-only global');
}

// 4. Pack, then lint the tarball.
console.log('4. npm pack, publint, attw');
const work = mkdtempSync(join(tmpdir(), 'staunch-package-'));
try {
  const packed = tryRun('pack', npm, ['pack', '--json', '--pack-destination', work], { cwd: root });
  const info = packed === undefined ? undefined : JSON.parse(packed)[0];
  const tarball = info === undefined ? undefined : join(work, info.filename);
  if (tarball !== undefined) {
    const files = info.files.map((f) => f.path);
    const stray = files.filter((f) => !/^(dist\/|README\.md$|CHANGELOG\.md$|LICENSE$|package\.json$)/.test(f));
    if (stray.length > 0) fail('pack', `the tarball holds files a user does not need: ${stray.join(', ')}`);
    else ok(`packed ${files.length} files, ${(info.size / 1024).toFixed(1)} kB`);

    if (tryRun('publint', bin('publint'), ['run', tarball, '--strict']) !== undefined) ok('publint --strict');
    // Profile node16: every entry point must resolve with types under node16/nodenext (from ESM
    // and from CJS) and bundler resolution. The default "strict" profile also demands node10
    // ("moduleResolution": "node"), which predates "exports" and cannot see subpaths at all; the
    // main entry still works there through "main"/"types".
    const attwArgs = [tarball, '--profile', 'node16', '--format', 'table-flipped', '--no-emoji', '--no-color'];
    if (tryRun('attw', bin('attw'), attwArgs) !== undefined) ok('attw --profile node16');

    // 5. A consumer project.
    console.log('5. consumer install');
    smoke(tarball);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

function smoke(tarball) {
  const consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '0.0.0' }));
  const install = (specs) =>
    tryRun('install', npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-save', ...specs], {
      cwd: consumer,
    }) !== undefined;

  const esm = (entries) =>
    entries.map((s, i) => `import * as m${i} from '${join('staunch', s)}';`).join('\n') +
    `\nconst all = [${entries.map((_, i) => `m${i}`).join(', ')}];\n`;
  const cjs = (entries) => `const all = [${entries.map((s) => `require('${join('staunch', s)}')`).join(', ')}];\n`;
  // One real call through the package as installed: a retry that succeeds on the second attempt.
  const check = `
const { RetryPolicy, TimeoutError, pipeline, Timeout } = all[0];
let calls = 0;
const result = await new RetryPolicy({ backoff: [1] }).execute(() => (++calls < 2 ? Promise.reject(new Error('flaky')) : 'ok'));
if (result !== 'ok' || calls !== 2) throw new Error('RetryPolicy.execute gave ' + result + ' after ' + calls + ' calls');
const timedOut = await pipeline(new Timeout(5)).execute(() => new Promise(() => {})).catch((e) => e);
if (!(timedOut instanceof TimeoutError)) throw new Error('expected a TimeoutError, got ' + timedOut);
all.forEach((m, i) => { if (Object.keys(m).length === 0) throw new Error('entry ' + i + ' exports nothing'); });
console.log('loaded ' + all.length + ' entry point(s); RetryPolicy.execute resolved ' + result);
`;
  const runBoth = (label, entries) => {
    writeFileSync(join(consumer, 'smoke.mjs'), `${esm(entries)}${check}`);
    writeFileSync(
      join(consumer, 'smoke.cjs'),
      `${cjs(entries)}(async () => {${check}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    for (const file of ['smoke.mjs', 'smoke.cjs']) {
      const out = tryRun('smoke', process.execPath, [file], { cwd: consumer });
      if (out !== undefined) ok(`${label}, ${file.endsWith('.mjs') ? 'import' : 'require'}: ${out.trim()}`);
    }
  };

  // The main entry alone: the optional peers are not installed.
  if (!install([tarball])) return;
  runBoth("'staunch' without any peer installed", ['.']);

  // With the peers, installed as a user would, at the versions this repository uses so npm finds
  // them in its cache (~10-15 s). `--link-peers` links them from this repository's node_modules
  // instead (instant; resolution from the consumer's node_modules is the same).
  const peerVersions = peers.map((name) => {
    const { version } = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    return `${name}@${version}`;
  });
  if (!process.argv.includes('--link-peers')) {
    if (!install([tarball, ...peerVersions])) return;
  } else {
    for (const name of peers) {
      const link = join(consumer, 'node_modules', name);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(join(root, 'node_modules', name), link, 'dir');
    }
  }
  const peerSpecs = peerVersions;
  const withPeers = built.filter((s) => s === '.' || PEER_OF[s] === undefined || peers.includes(PEER_OF[s]));
  const missing = subpaths.filter((s) => !built.includes(s));
  const how = process.argv.includes('--link-peers') ? 'linked' : 'installed';
  runBoth(`${withPeers.length} entry points, peers ${how}: ${peerSpecs.join(', ')}`, withPeers);
  if (missing.length > 0) fail('smoke', `not built, so not loaded: ${missing.join(', ')}`);
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(`\npackage checks FAILED in ${seconds} s (${failures.length} problem(s)):`);
  for (const f of failures) console.error(`- ${f.split('\n')[0]}`);
  process.exit(1);
}
console.log(`\npackage checks passed in ${seconds} s`);
