import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx/cli');

/**
 * Runs an example as a user would (`npx tsx examples/integrations/<name>.ts`); `staunch` and
 * `staunch/*` resolve to the sources through tsconfig.json's `paths`, so no build is needed.
 */
function run(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsx, `examples/integrations/${name}.ts`],
      { cwd: root, timeout: 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('integration examples run, print what happened and exit by themselves', () => {
  const expected: Record<string, RegExp[]> = {
    express: [/GET \/quote -> 200/, /GET \/report -> 504/, /GET \/report -> 503 retry-after=1/],
    fastify: [/GET \/quote -> 200/, /GET \/quote -> 429/, /GET \/health -> 200 ok/],
    koa: [/GET \/quote -> 200/, /GET \/slow -> 504/],
    hono: [/#1 -> 503/, /breaker open, retry-after=5s/],
    hystrix: [/text\/event-stream/, /checkout\/payments: open=true/, /clients after disconnect: 0/],
    opentelemetry: [/staunch\.policy\.events/, /staunch\.pipeline\.duration \(s\)/],
  };
  it.concurrent.each(Object.keys(expected))('%s', { timeout: 90_000 }, async (name) => {
    const { code, stdout, stderr } = await run(name);
    expect(stderr.replace(/npm warn.*\n/g, '')).toBe('');
    expect(code).toBe(0);
    for (const pattern of expected[name] ?? []) expect(stdout).toMatch(pattern);
  });
});
