/**
 * The vitest configuration Stryker runs (stryker.config.json): the unit tests of the mutated
 * modules plus the fast reliability suites (model-based property test, bad input). It leaves out
 * what cannot kill a mutant of src/ in reasonable time: the package, bench and examples checks,
 * the framework integrations, and the long reliability runs (burst, soak, real sockets).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: [
      'test/{core,retry,timeout,fallback,breaker,bulkhead,batcher,semaphore}/**/*.test.ts',
      'test/reliability/pipeline.property.test.ts',
      'test/reliability/bad-input.test.ts',
      'test/reliability/regressions.test.ts',
      'test/reliability/mutation-gaps.test.ts',
    ],
    setupFiles: ['test/setup.ts'],
    restoreMocks: true,
    unstubGlobals: true,
    testTimeout: 20_000,
  },
});
