/**
 * Issue 11 item 2: on Express 4 the README's async-handler example ended the process (exit 1) on a
 * timeout or a client disconnect, because Express 4 ignores a handler's promise and the rejection
 * went unhandled. The README's pattern now wraps the handler in `asyncHandler`; this runs it in a
 * child process on both majors and checks the process survives both, and (control) that the same
 * pattern unwrapped does crash Express 4, so the check can tell.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx/cli');

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsx, 'test/integrations/fixtures/express-readme.ts', ...args],
      { cwd: root, timeout: 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("the README's Express pattern in a child process", () => {
  it.concurrent.each(['4', '5'])(
    'Express %s survives a timeout and a client disconnect (asyncHandler)',
    { timeout: 90_000 },
    async (major) => {
      const { code, stdout, stderr } = await run(major);
      expect(stderr).toBe('');
      expect(stdout).toContain('timeout -> 504');
      expect(stdout).toContain('disconnect -> disconnected');
      expect(stdout).toContain('alive after both');
      expect(code).toBe(0);
    },
  );

  it.concurrent('control: unwrapped, the same handler ends an Express 4 process', { timeout: 90_000 }, async () => {
    const { code, stdout } = await run('4', 'unwrapped');
    expect(code).not.toBe(0);
    expect(stdout).not.toContain('alive after both');
  });
});
