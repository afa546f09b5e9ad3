import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SUBPATHS } from '../../tsup.config.js';

// The package manifest, the build and the docs agree on the public entry points (API.md: the main
// entry plus seven integrations, each framework an optional peer). The built files themselves are
// checked by `npm run test:package`.

const read = (path: string): unknown => JSON.parse(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'));
const pkg = read('package.json') as {
  exports: Record<string, unknown>;
  files: string[];
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  dependencies?: Record<string, string>;
  types: string;
  typesVersions: Record<string, Record<string, string[]>>;
  type: string;
  sideEffects: boolean;
  engines: { node: string };
};
const API_SUBPATHS = ['express', 'fastify', 'koa', 'hono', 'fetch', 'hystrix', 'opentelemetry'];
// The majors the suite tests (issue 11, item 2): Express 4-5, Fastify 4-5, Koa 2-3, Hono 4.
const PEERS = {
  express: '>=4.0.0 <6',
  fastify: '>=4.0.0 <6',
  koa: '>=2.0.0 <4',
  hono: '>=4.0.0 <5',
  '@opentelemetry/api': '>=1.4.0',
};

describe('package.json', () => {
  it('is an ES module package without side effects, for Node 20+', () => {
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.engines.node).toBe('>=20');
  });

  it('exports the main entry and every subpath of API.md with types, import and require', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(
      ['.', './package.json', ...API_SUBPATHS.map((s) => `./${s}`)].sort(),
    );
    for (const [subpath, name] of [['.', 'index'], ...API_SUBPATHS.map((s) => [`./${s}`, s])] as const) {
      expect(pkg.exports[subpath], subpath).toEqual({
        import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
        require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
      });
    }
  });

  // Issue 11, item 23: 0.1.0 declared tslib, which no dist file imports. The core has no runtime
  // dependency (`npm run test:package` checks that dist imports nothing undeclared, and that every
  // declared dependency is imported).
  it('has no runtime dependency, and every framework as an optional peer', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies).toEqual(PEERS);
    for (const name of Object.keys(PEERS)) expect(pkg.peerDependenciesMeta[name]?.optional, name).toBe(true);
  });

  // Issue 11, item 24: TypeScript's node10 resolution (the default of "module": "commonjs") predates
  // "exports"; "typesVersions" shows it the subpaths' types. `npm run test:package` type-checks an
  // import of every entry point under node10, node16 and bundler, and runs attw with no exception.
  it('maps every subpath to its declarations for node10 resolution (typesVersions)', () => {
    expect(pkg.types).toBe('./dist/index.d.ts');
    expect(pkg.typesVersions).toEqual({
      '*': Object.fromEntries(API_SUBPATHS.map((s) => [s, [`./dist/${s}.d.ts`]])),
    });
  });

  it('ships only what a user needs', () => {
    expect(pkg.files.filter((f) => !f.startsWith('!')).sort()).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'dist',
    ]);
  });
});

describe('build and docs', () => {
  it('tsup builds one entry per subpath, from src/integrations/<name>/index.ts', () => {
    expect([...SUBPATHS].sort()).toEqual([...API_SUBPATHS].sort());
  });

  it('every integration source exists', () => {
    const missing = API_SUBPATHS.filter(
      (s) => !existsSync(new URL(`../../src/integrations/${s}/index.ts`, import.meta.url)),
    );
    expect(missing).toEqual([]);
  });

  // Issue 11, item 27: the modules were named `index` and `integrations/fetch`, and the landing page
  // was empty. `npm run test:package` also builds the reference and checks the names TypeDoc gives.
  it('TypeDoc names each module by its import path and opens on the README', () => {
    const typedoc = read('typedoc.json') as { readme: string };
    expect(typedoc.readme).toBe('README.md');
    for (const [file, name] of [
      ['src/index.ts', 'staunch'],
      ...API_SUBPATHS.map((s) => [`src/integrations/${s}/index.ts`, `staunch/${s}`]),
    ] as const) {
      const source = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      const header = source.slice(0, source.indexOf('*/'));
      expect(header, file).toContain('@packageDocumentation');
      expect(header.match(/@module (\S+)/)?.[1], file).toBe(name);
    }
  });

  it('TypeDoc documents every entry point', () => {
    const typedoc = read('typedoc.json') as { entryPoints: string[] };
    expect(typedoc.entryPoints.sort()).toEqual(
      ['src/index.ts', ...API_SUBPATHS.map((s) => `src/integrations/${s}/index.ts`)].sort(),
    );
  });
});
