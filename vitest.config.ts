import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // test/setup.ts fails a test file that leaves a timer or handle alive (with where it was
    // created); the hanging-process reporter also names whatever still keeps the run from ending.
    reporters: ['default', 'hanging-process'],
    // Unhandled errors and rejections fail the run (vitest's default, stated for clarity).
    dangerouslyIgnoreUnhandledErrors: false,
    restoreMocks: true,
    unstubGlobals: true,
    testTimeout: 20_000,
    teardownTimeout: 5_000,
  },
});
