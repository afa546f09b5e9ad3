import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Issue 11, item 25: README code that does not compile (an undefined `HttpError`, blocks that were
// not TypeScript at all) misleads every reader who copies it. Every ```ts block of the README is
// extracted to its own module and type-checked with tsc, `strict`, against the sources ('staunch'
// and 'staunch/<name>' map to src/ through `paths`, as in tsconfig.json).
//
// What an example leaves to the reader (a logger, a database, an Express app, ...) is declared,
// with real types, in CONTEXT below. A block that is a fragment on
// purpose (a signature, not code) is preceded by `<!-- readme-check: skip (reason) -->`; keep such
// skips few, and give the reason.

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Written next to the blocks as readme-context.d.ts (a string here, so that its globals stay out of
 * the test suite's own type-check).
 */
const CONTEXT = `// What the README's examples leave to the reader — their own logger, cache, database, handlers,
// and the policies an earlier example of the same section built — declared here with real types,
// so that this test type-checks each example exactly as it is printed. Nothing
// here is part of staunch.
import type { Meter } from '@opentelemetry/api';
import type { Express, RequestHandler } from 'express';
import type { Bulkhead, CircuitBreaker, Pipeline, Policy, RetryPolicy } from 'staunch';

declare global {
  // Your own code and data.
  interface User {
    id: string;
    name: string;
  }
  const log: { warn(data: object): void };
  const cache: Map<string, { items: string[] }>;
  class BadRequestError extends Error {}
  const cachedUsers: User[];
  const cachedQuotes: { symbol: string; price: number }[];
  const db: { query(sql: string, params?: unknown): Promise<User[]> };
  const sql: string;
  const metrics: { increment(name: string): void };
  const store: { set(key: string, value: string): Promise<void>; get(key: string): Promise<string> };
  function useConnection(): Promise<void>;
  function buildReport(options: { signal?: AbortSignal | undefined }): Promise<object>;
  function work(signal: AbortSignal): Promise<string>;
  const quotesHandler: RequestHandler;
  const h: () => string;
  const id: string;
  const url: string;
  const body: string;
  const signal: AbortSignal;
  const meter: Meter;
  const app: Express;

  // Built by an earlier example of the same section.
  const retry: RetryPolicy;
  const breaker: CircuitBreaker;
  const payments: CircuitBreaker;
  const search: CircuitBreaker;
  const bulkhead: Bulkhead;
  const inbound: Pipeline;
  const other: Policy<unknown>;
  const policy: Pipeline<User | null>;
}
`;
const SKIP = /^<!--\s*readme-check:\s*skip\s*\((.+)\)\s*-->$/;

interface Block {
  /** 1-based line of the opening fence in README.md. */
  readonly line: number;
  readonly code: string;
  /** The reason given for skipping it, if it is skipped. */
  readonly skip: string | undefined;
}

function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\S*)/.exec(lines[i] ?? '');
    if (!fence) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    if (fence[1] === 'ts' || fence[1] === 'typescript') {
      let before = start - 1;
      while (before >= 0 && (lines[before] ?? '').trim() === '') before--;
      const skip = SKIP.exec((lines[before] ?? '').trim())?.[1];
      blocks.push({ line: start + 1, code: lines.slice(start + 1, end).join('\n'), skip });
    }
    i = end;
  }
  return blocks;
}

function tsc(project: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', project],
      { cwd: root, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}` }),
    );
  });
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = readmeBlocks(readme);

describe('README code blocks', () => {
  it('finds the ```ts blocks, and every skip gives a reason; at most two are skipped', () => {
    expect(blocks.length).toBeGreaterThan(20);
    const skipped = blocks.filter((b) => b.skip !== undefined);
    for (const b of skipped) expect(b.skip?.trim().length, `README.md:${b.line}`).toBeGreaterThan(10);
    expect(skipped.length).toBeLessThanOrEqual(2);
  });

  it('every ```ts block type-checks (strict) against the sources', { timeout: 180_000 }, async () => {
    // Inside the repository (in the gitignored .tmp/), so that node_modules and @types resolve.
    mkdirSync(join(root, '.tmp'), { recursive: true });
    const dir = mkdtempSync(join(root, '.tmp', 'readme-'));
    try {
      const files: string[] = [];
      for (const block of blocks) {
        if (block.skip !== undefined) continue;
        // Each block is a module of its own (`export {}`), as a reader would paste it into a file.
        const file = `readme-line-${block.line}.ts`;
        writeFileSync(join(dir, file), `${block.code}\nexport {};\n`);
        files.push(file);
      }
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(join(dir, 'readme-context.d.ts'), CONTEXT);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2022',
            lib: ['es2022', 'dom'],
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            skipLibCheck: true,
            noEmit: true,
            types: ['node'],
            paths: {
              staunch: [join(root, 'src/index.ts')],
              'staunch/*': [join(root, 'src/integrations/*/index.ts')],
            },
          },
          files: [...files, 'readme-context.d.ts'],
        }),
      );
      const { code, output } = await tsc(join(dir, 'tsconfig.json'));
      // Errors name the README line: readme-line-<fence line>.ts(<line in block + fence>, col).
      const errors = output
        .split('\n')
        .filter((l) => /error TS/.test(l))
        .map((l) =>
          l.replace(/^.*readme-line-(\d+)\.ts\((\d+),(\d+)\)/, (_, fence: string, line: string, col: string) => {
            return `README.md:${Number(fence) + Number(line)}:${col}`;
          }),
        );
      expect(errors).toEqual([]);
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
