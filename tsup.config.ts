import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

/**
 * One entry per public subpath (see "exports" in package.json). An integration whose source does
 * not exist yet is skipped, so the build works while it is being written; `npm run test:package`
 * then fails on the export target that is missing from dist.
 */
export const SUBPATHS = ['express', 'fastify', 'koa', 'hono', 'fetch', 'hystrix', 'opentelemetry'] as const;

const entry: Record<string, string> = { index: 'src/index.ts' };
for (const name of SUBPATHS) {
  const file = `src/integrations/${name}/index.ts`;
  if (existsSync(file)) entry[name] = file;
}

export default defineConfig({
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // Neutral: the core must run in browsers, Deno, Bun and edge runtimes as well as Node.
  platform: 'neutral',
  // Shared chunks: the integrations import the core's classes from the same module as the main
  // entry, so `instanceof` holds between `staunch` and `staunch/express`.
  splitting: true,
  treeshake: true,
  // The frameworks are optional peers: never bundled. Node built-ins (only an integration may use
  // them) stay imports too.
  external: ['express', 'fastify', 'koa', 'hono', /^hono\//, '@opentelemetry/api', /^node:/],
});
