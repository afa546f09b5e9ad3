import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // A leaked timer or handle keeps the run from ending: report which one.
    reporters: ['default', 'hanging-process'],
    // Unhandled errors and rejections fail the run (vitest's default, stated for clarity).
    dangerouslyIgnoreUnhandledErrors: false,
    restoreMocks: true,
    unstubGlobals: true,
    testTimeout: 20_000,
    teardownTimeout: 5_000,
  },
});
