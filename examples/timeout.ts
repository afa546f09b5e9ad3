/**
 * Timeout: reject a slow call at the deadline with a TimeoutError, and abort the signal the
 * call was given so the work itself stops.
 *
 * Run: npx tsx examples/timeout.ts
 */
import { Timeout, TimeoutError } from 'staunch';

const timeout = new Timeout(100); // milliseconds

/** A slow lookup that honours its AbortSignal, as `fetch` does. */
function slowLookup(ms: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(`answer after ${ms} ms`), ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        console.log(`  lookup(${ms}) noticed the abort and stopped`);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

console.log(await timeout.execute(({ signal }) => slowLookup(20, signal)));

try {
  await timeout.execute(({ signal }) => slowLookup(5_000, signal));
} catch (error) {
  if (error instanceof TimeoutError) console.log(`timed out: ${error.message}`);
  else throw error;
}

// The caller's own cancellation wins over the deadline: the call rejects with the caller's reason.
const controller = new AbortController();
setTimeout(() => controller.abort(new Error('user navigated away')), 30);
const cancelled = await timeout
  .execute(({ signal }) => slowLookup(5_000, signal), { signal: controller.signal })
  .catch((e: unknown) => e);
console.log(`cancelled by the caller: ${String(cancelled)}`);
