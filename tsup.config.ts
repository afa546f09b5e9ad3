import { defineConfig } from 'tsup';

export default defineConfig({
  // One entry per public subpath; integrations are added here with their subpath export.
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  splitting: true,
  treeshake: true,
});
