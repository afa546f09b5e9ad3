/**
 * RetryPolicy: retry a flaky call with exponential backoff and jitter, and give up at once on
 * errors that retrying cannot fix.
 *
 * Run: npx tsx examples/retry.ts
 */
import { exponential, RetryPolicy } from 'staunch';

class NotFoundError extends Error {}

const retry = new RetryPolicy({
  maxRetries: 4,
  backoff: exponential({ initial: 20, factor: 2, max: 200 }), // 20, 40, 80, 160 ms
  jitter: 0.2, // each delay uniform in [0.8 d, 1.2 d)
  failOn: NotFoundError, // never retried
});
retry.on('retry', ({ attempt, delay, outcome }) => {
  const reason = outcome.kind === 'error' ? String(outcome.error) : 'a bad result';
  console.log(`attempt ${attempt} failed (${reason}); retrying in ${Math.round(delay)} ms`);
});
retry.on('giveUp', ({ attempts }) => console.log(`giving up after ${attempts} attempt(s)`));

// A dependency that fails twice, then answers.
let calls = 0;
const value = await retry.execute(async ({ attempt }) => {
  calls++;
  if (attempt < 3) throw new Error(`connection reset (call ${calls})`);
  return `price: 42 (attempt ${attempt})`;
});
console.log(`got ${value}`);

// A failure that retrying cannot fix fails on the first attempt, and is rethrown unchanged.
const missing = new NotFoundError('no such item');
const error = await retry.execute(() => Promise.reject(missing)).catch((e: unknown) => e);
console.log(`not retried: ${String(error)}; same object: ${error === missing}`);
