import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every example runs as a user would run it (`npx tsx examples/<name>.ts`), in a child process:
// it must exit by itself with code 0, print nothing on stderr, and say what it is expected to say.
// `import ... from 'staunch'` in the examples resolves to src/ through the `paths` of
// tsconfig.json, which tsx reads, so no build is needed.

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx/cli');

const EXPECTED: Record<string, readonly (string | RegExp)[]> = {
  'retry.ts': [/attempt 1 failed .*retrying in \d+ ms/, 'got price: 42 (attempt 3)', 'same object: true'],
  'timeout.ts': [
    'answer after 20 ms',
    'timed out:',
    'noticed the abort',
    'cancelled by the caller: Error: user navigated away',
  ],
  'fallback.ts': ['user: Ada (cached)', 'both failed: Error: user service unavailable / cause: Error: cache miss'],
  'circuit-breaker.ts': ['closed -> open', 'short-circuited, next trial in', 'half-open -> closed', 'state: closed'],
  'bulkhead.ts': [
    'request 1: report 1',
    'request 6: rejected (queue-full)',
    'slow batch: done, done, queue-timeout',
    'running now: 0, queued: 0',
  ],
  'pipeline.ts': [
    'quote 3: {"price":42',
    'closed -> open',
    '(upstream calls: 0)',
    'half-open -> closed',
    'breaker: closed',
  ],
  'demo.ts': [
    /retry +attempt 1 failed \(HTTP 503\); attempt 2 in \d+ ms/,
    /timeout +attempt \d took longer than 250 ms/,
    /breaker +closed -> open/,
    /breaker +short-circuit: upstream not called/,
    /breaker +open -> half-open/,
    /breaker +half-open -> closed/,
    /bulkhead +rejected \(queue-full\)/,
    /fallback +served a placeholder/,
    /== summary\nphase +calls/,
  ],
};

function runExample(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsx, `examples/${file}`],
      { cwd: root, timeout: 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('examples', () => {
  const files = readdirSync(new URL('../examples', import.meta.url)).filter((f) => f.endsWith('.ts'));

  it('every example has expectations here, and every expectation an example', () => {
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.concurrent.each(files)('%s', (file) => {
    it('runs to completion, exits 0 and prints what it should', { timeout: 90_000 }, async () => {
      const { code, stdout, stderr } = await runExample(file);
      expect(stderr, 'stderr').toBe('');
      expect(code, `exit code; output:\n${stdout}`).toBe(0);
      for (const expected of EXPECTED[file] ?? []) {
        if (typeof expected === 'string') expect(stdout).toContain(expected);
        else expect(stdout).toMatch(expected);
      }
    });
  });
});
