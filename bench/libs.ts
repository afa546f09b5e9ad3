/**
 * Loads staunch and its peers for the benchmarks. staunch comes from the built `dist/` (what users
 * run) or from `src/` (through tsx or vitest); CircuitBreaker and Bulkhead may not exist yet, so each
 * is looked up and, when missing, the scenarios that need it report "n/a".
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The part of a staunch policy the benchmarks use. */
export interface StaunchPolicy {
  execute<T>(fn: (ctx: { readonly signal: AbortSignal; readonly attempt: number }) => T | PromiseLike<T>): Promise<T>;
}
type Ctor<O> = new (options?: O) => StaunchPolicy;

export interface StaunchLib {
  RetryPolicy: Ctor<Record<string, unknown>>;
  Timeout: new (ms: number | Record<string, unknown>) => StaunchPolicy;
  Fallback: new (handler: (error: unknown) => unknown) => StaunchPolicy;
  pipeline: (...policies: StaunchPolicy[]) => StaunchPolicy;
  CircuitBreaker: (Ctor<Record<string, unknown>> & { prototype: BreakerLike }) | undefined;
  Bulkhead: Ctor<Record<string, unknown>> | undefined;
}

/** A staunch CircuitBreaker, as far as the benchmarks touch it. */
export interface BreakerLike extends StaunchPolicy {
  readonly state: string;
  isolate?: () => unknown;
}

// Peers: only the calls the benchmarks make, typed by hand (opossum ships no types).
export interface OpossumBreaker {
  fire(...args: unknown[]): Promise<unknown>;
  open(): void;
  shutdown(): void;
  readonly opened: boolean;
}
export type OpossumCtor = new (
  action: (...args: never[]) => unknown,
  options?: Record<string, unknown>,
) => OpossumBreaker;

export interface Libs {
  staunch: StaunchLib;
  /** Where staunch was loaded from, for the report. */
  staunchSource: string;
  cockatiel: typeof import('cockatiel');
  Opossum: OpossumCtor;
  pRetry: typeof import('p-retry').default;
  pTimeout: typeof import('p-timeout').default;
  pLimit: typeof import('p-limit').default;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function tryImport(path: string): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(path)) return undefined;
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** The first module under `src/<folder>/` that exports `name`. */
async function findInSrc(folder: string, name: string): Promise<unknown> {
  const dir = join(root, 'src', folder);
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  files.sort((a, b) => (a === 'index.ts' ? -1 : b === 'index.ts' ? 1 : a.localeCompare(b)));
  for (const file of files) {
    const mod = await tryImport(join(dir, file));
    if (mod?.[name] !== undefined) return mod[name];
  }
  return undefined;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Loads staunch from `dist` (default when built) or `src`. A `dist` older than `src`, or one that
 * lacks a policy that `src` has, is noted in `staunchSource` — and in the second case staunch is
 * loaded from `src` as a whole, so every scenario runs the same copy.
 */
export async function loadStaunch(from: 'dist' | 'src' | 'auto' = 'auto'): Promise<[StaunchLib, string]> {
  const distEntry = join(root, 'dist', 'index.js');
  const wantDist = from === 'dist' || (from === 'auto' && existsSync(distEntry));
  const notes: string[] = [];
  if (wantDist) {
    const mod = await tryImport(distEntry);
    if (mod === undefined) throw new Error('dist/index.js not found: build first with `npx tsup`');
    const lib = mod as unknown as StaunchLib;
    const srcBreaker = lib.CircuitBreaker ?? (await findInSrc('breaker', 'CircuitBreaker'));
    const srcBulkhead = lib.Bulkhead ?? (await findInSrc('bulkhead', 'Bulkhead'));
    const missing =
      (lib.CircuitBreaker === undefined && srcBreaker !== undefined) ||
      (lib.Bulkhead === undefined && srcBulkhead !== undefined);
    if (!missing || from === 'dist') {
      if (newestMtime(join(root, 'src')) > statSync(distEntry).mtimeMs) notes.push('dist older than src');
      return [{ ...lib }, ['dist', ...notes].join(', ')];
    }
    notes.push('dist lacks CircuitBreaker/Bulkhead');
  }
  const mod = (await import('../src/index.js')) as unknown as StaunchLib;
  const lib: StaunchLib = {
    ...mod,
    CircuitBreaker:
      mod.CircuitBreaker ?? ((await findInSrc('breaker', 'CircuitBreaker')) as StaunchLib['CircuitBreaker']),
    Bulkhead: mod.Bulkhead ?? ((await findInSrc('bulkhead', 'Bulkhead')) as StaunchLib['Bulkhead']),
  };
  return [lib, ['src', ...notes].join(', ')];
}

export async function loadLibs(from: 'dist' | 'src' | 'auto' = 'auto'): Promise<Libs> {
  const [staunch, staunchSource] = await loadStaunch(from);
  const cockatiel = await import('cockatiel');
  // A variable specifier: opossum has no type declarations for TypeScript to resolve.
  const opossumName = 'opossum';
  const opossum = (await import(opossumName)) as { default: OpossumCtor };
  const pRetry = (await import('p-retry')).default;
  const pTimeout = (await import('p-timeout')).default;
  const pLimit = (await import('p-limit')).default;
  return { staunch, staunchSource, cockatiel, Opossum: opossum.default, pRetry, pTimeout, pLimit };
}
