import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkRuntimeNeutral } from '../../scripts/lib/neutral.mjs';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// The core must run in browsers, Deno, Bun and edge runtimes: no `node:` import, no package (it has
// no runtime dependency), no Node-only global. `npm run test:package` runs the same check on the built dist/index.js.
describe('the main entry is runtime-neutral', () => {
  it('src/index.ts bundles for the browser with no Node built-in, package or Node-only global', async () => {
    expect(await checkRuntimeNeutral(here('../../src/index.ts'))).toEqual([]);
  });

  it('the check itself catches Node built-ins and Node-only globals', async () => {
    const problems = await checkRuntimeNeutral(here('./fixtures/node-only.js'));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`Node built-in 'node:events'`),
        expect.stringContaining(`'process' (Node-only)`),
        expect.stringContaining(`'Buffer' (Node-only)`),
        expect.stringContaining(`'setImmediate' (Node-only)`),
        expect.stringContaining(`'__dirname' (Node-only)`),
        expect.stringContaining(`'global' (Node-only)`),
        expect.stringContaining(`'require' (Node-only)`),
      ]),
    );
    // Feature detection through globalThis is allowed.
    expect(problems.join('\n')).not.toContain('globalThis');
  });
});
