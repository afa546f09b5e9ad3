// Proves that an entry point runs outside Node: bundles it for the browser and reports every
// Node built-in it imports and every global it uses that a browser does not have.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, stop } from 'esbuild';
import ts from 'typescript';

const BUILTINS = new Set(builtinModules);
/** Bare imports the core may have at run time: none, the package has no runtime dependency. */
const ALLOWED_PACKAGES = new Set([]);
/** Named in the issue; any other undeclared global is reported as well. */
export const NODE_GLOBALS = [
  'process',
  'Buffer',
  'require',
  'module',
  '__dirname',
  '__filename',
  'setImmediate',
  'clearImmediate',
  'global',
];

/**
 * @param {string} entry a .ts or .js entry file
 * @returns {Promise<string[]>} the problems found; empty when the entry is runtime-neutral
 */
export async function checkRuntimeNeutral(entry) {
  const problems = [];
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'forbid-node-and-packages',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) => {
              const name = args.path.startsWith('@')
                ? args.path.split('/').slice(0, 2).join('/')
                : args.path.split('/')[0];
              if (args.path.startsWith('node:') || BUILTINS.has(name)) {
                problems.push(`imports the Node built-in '${args.path}' (from ${args.importer})`);
              } else if (!ALLOWED_PACKAGES.has(name)) {
                problems.push(
                  `imports the package '${args.path}' (from ${args.importer}); the core may import only ${[...ALLOWED_PACKAGES].join(', ')}`,
                );
              }
              return { path: args.path, external: true };
            });
          },
        },
      ],
    });
  } finally {
    // esbuild keeps a service process for later builds; end it so nothing is left running.
    await stop();
  }
  const code = result.outputFiles[0]?.text ?? '';

  // Free identifiers: type-check the bundle as plain JavaScript against the ES2022 + DOM
  // libraries only (no @types/node). Whatever it cannot find is a global a browser lacks.
  const dir = mkdtempSync(join(tmpdir(), 'staunch-neutral-'));
  try {
    const file = join(dir, 'bundle.js');
    writeFileSync(file, code);
    const program = ts.createProgram([file], {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
      noResolve: true,
    });
    const missing = new Set();
    for (const d of program.getSemanticDiagnostics(program.getSourceFile(file))) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      const m = /^Cannot find name '([^']+)'/.exec(text);
      if (m) missing.add(m[1]);
    }
    for (const name of missing) {
      const node = NODE_GLOBALS.includes(name) ? ' (Node-only)' : '';
      problems.push(`uses the global '${name}'${node}, which a browser does not define`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}
