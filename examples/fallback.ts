/**
 * Fallback: answer with a substitute value when the call fails, and keep both errors when the
 * fallback fails too.
 *
 * Run: npx tsx examples/fallback.ts
 */
import { Fallback, FallbackError } from 'staunch';

const cache = new Map([['user:1', { name: 'Ada (cached)' }]]);

const fromCache = new Fallback((error, { attempt }) => {
  console.log(`  primary failed on attempt ${attempt}: ${String(error)}; using the cache`);
  const hit = cache.get('user:1');
  if (hit === undefined) throw new Error('cache miss');
  return hit;
});
fromCache.on('fallback', () => console.log('  fallback served a value'));

const user = await fromCache.execute(async () => {
  throw new Error('user service unavailable');
});
console.log(`user: ${user.name}`);

// The fallback itself fails: a FallbackError keeps the original error and, as `cause`, the fallback's.
cache.clear();
const error = await fromCache
  .execute(async () => {
    throw new Error('user service unavailable');
  })
  .catch((e: unknown) => e);
if (error instanceof FallbackError) {
  console.log(`both failed: ${String(error.error)} / cause: ${String(error.cause)}`);
}
