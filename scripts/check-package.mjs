#!/usr/bin/env node
// The package checks (`npm run test:package`, after `npm run build`):
//   1. every file the package.json entry points and exports map name exists in dist;
//   2. dist imports nothing but the optional peers and (integrations only) `node:` built-ins, and
//      every declared runtime dependency is imported by dist (there are none: a dependency that
//      nothing imports is a false declaration, one that something imports must be declared);
//   3. dist/index.js is runtime-neutral (no Node built-in, no Node-only global);
//   4. `npm pack`, then publint and Are the Types Wrong on the tarball;
//   5. a consumer in a temporary directory installs the tarball, first alone (the main entry must
//      work without any peer), then with the peers (from npm's cache), and both imports and
//      requires every entry point, making one real call through the package; then type-checks an
//      import of every entry point under each moduleResolution a user may have: node10 (the
//      default of "module": "commonjs"), node16 from CommonJS and from ESM, and bundler;
//   6. the API reference builds (TypeDoc, warnings are errors), its modules are named by their
//      import paths (`staunch`, `staunch/fetch`, ...) and its landing page is the README.
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
const packageOf = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
const imported = new Set();
let importProblems = 0;
for (const file of readdirSync(join(root, 'dist')).filter((f) => /\.(c?js)$/.test(f))) {
  const code = readFileSync(join(root, 'dist', file), 'utf8');
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s*)["']([^"']+)["']/gm)) {
    const spec = m[1];
    if (spec.startsWith('.') || spec.startsWith('node:')) continue;
    const name = packageOf(spec);
    imported.add(name);
    if (!peers.includes(name) && !runtimeDeps.includes(name)) {
      importProblems++;
      fail('imports', `dist/${file} imports '${spec}', which is neither a dependency nor a peer`);
    }
  }
}
// A declaration must be true: a runtime dependency that no dist file imports is installed for
// nothing in every user's node_modules (0.1.0 declared tslib, which the build never imported).
for (const name of runtimeDeps) {
  if (!imported.has(name)) {
    importProblems++;
    fail('imports', `"dependencies" declares '${name}', but no file in dist imports it`);
  }
}
if (importProblems === 0)
  ok(
    `dist imports only relative chunks, node: built-ins and the peers ${[...imported].join(', ') || '(none)'}; ` +
      `runtime dependencies: ${runtimeDeps.join(', ') || 'none'}`,
  );

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
    // The default ("strict") profile, with no exception: every entry point must resolve with the
    // right types under node10 (which predates "exports": "typesVersions" maps the subpaths there),
    // node16/nodenext from CommonJS and from ESM, and bundler.
    const attwArgs = [tarball, '--format', 'table-flipped', '--no-emoji', '--no-color'];
    if (tryRun('attw', bin('attw'), attwArgs) !== undefined) ok('attw (node10, node16 from CJS and ESM, bundler)');

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
  typeCheck(consumer, withPeers);
}

/**
 * The consumer type-checks an import of every entry point with the installed package, as users
 * configure TypeScript: `"module": "commonjs"` (whose default resolution is node10, which predates
 * "exports": 0.1.0 failed there on every subpath), node16 from a CommonJS and from an ES module
 * file, and bundler. An entry point that does not resolve, or resolves to a file without types, is
 * an error under `strict` (TS2307 / TS7016).
 */
function typeCheck(consumer, entries) {
  const specifier = (s) => (s === '.' ? 'staunch' : `staunch/${s.slice(2)}`);
  const imports = entries.map((s, i) => `import * as m${i} from '${specifier(s)}';`).join('\n');
  const source = `${imports}
export const entries: object[] = [${entries.map((_, i) => `m${i}`).join(', ')}];
// The types are real, not any: a Promise<number> from RetryPolicy.execute.
export const answer: Promise<number> = new m0.RetryPolicy({ maxRetries: 1 }).execute(() => 42);
`;
  writeFileSync(join(consumer, 'entries.ts'), source);
  writeFileSync(join(consumer, 'entries.mts'), source);
  const configs = [
    ['node10', 'node10 ("module": "commonjs")', { module: 'commonjs' }, 'entries.ts'],
    ['node16-cjs', 'node16 from CommonJS', { module: 'node16', moduleResolution: 'node16' }, 'entries.ts'],
    ['node16-esm', 'node16 from ESM', { module: 'node16', moduleResolution: 'node16' }, 'entries.mts'],
    ['bundler', 'bundler', { module: 'esnext', moduleResolution: 'bundler' }, 'entries.ts'],
  ];
  for (const [name, label, options, file] of configs) {
    const tsconfig = `tsconfig.${name}.json`;
    const compilerOptions = {
      target: 'es2022',
      lib: ['es2022', 'dom'],
      types: [],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      ...options,
    };
    writeFileSync(join(consumer, tsconfig), JSON.stringify({ compilerOptions, files: [file] }));
    if (tryRun('types', bin('tsc'), ['-p', tsconfig], { cwd: consumer }) !== undefined)
      ok(`types of ${entries.length} entry points resolve under ${label}`);
  }
}

// 6. The API reference, as `npm run docs` builds it, into the temporary directory.
console.log('6. API reference (TypeDoc)');
const docs = mkdtempSync(join(tmpdir(), 'staunch-docs-'));
try {
  const json = join(docs, 'api.json');
  if (tryRun('docs', bin('typedoc'), ['--out', join(docs, 'api'), '--json', json], { cwd: root }) !== undefined) {
    const project = JSON.parse(readFileSync(json, 'utf8'));
    const names = (project.children ?? []).map((c) => c.name).sort();
    const expected = subpaths.map((s) => (s === '.' ? 'staunch' : `staunch/${s.slice(2)}`)).sort();
    if (JSON.stringify(names) !== JSON.stringify(expected))
      fail('docs', `modules are named ${names.join(', ')}; expected the import paths ${expected.join(', ')}`);
    else ok(`modules named by import path: ${names.join(', ')}`);
    const landing = (project.readme ?? []).map((part) => part.text ?? '').join('');
    if (!landing.includes('# staunch')) fail('docs', 'the landing page does not show the README');
    else ok(`landing page: the README (${landing.length} characters)`);
  }
} finally {
  rmSync(docs, { recursive: true, force: true });
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(`\npackage checks FAILED in ${seconds} s (${failures.length} problem(s)):`);
  for (const f of failures) console.error(`- ${f.split('\n')[0]}`);
  process.exit(1);
}
console.log(`\npackage checks passed in ${seconds} s`);
