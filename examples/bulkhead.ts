/**
 * Bulkhead: at most N calls run at once, a bounded queue waits for a slot, and anything beyond
 * is turned away at once (or after `queueTimeout` in the queue) with a BulkheadRejectedError.
 *
 * Run: npx tsx examples/bulkhead.ts
 */
import { Bulkhead, BulkheadRejectedError } from 'staunch';

const bulkhead = new Bulkhead({ maxConcurrent: 2, maxQueue: 2, queueTimeout: 150 });
bulkhead.on('queue', ({ queued }) => console.log(`  queued (${queued} waiting)`));
bulkhead.on('reject', ({ reason }) => console.log(`  rejected: ${reason}`));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A report that takes `ms` to render. */
async function render(id: number, ms: number): Promise<string> {
  await sleep(ms);
  return `report ${id}`;
}

// Six requests arrive together: 2 run, 2 wait, 2 are rejected at once (queue full).
// The first two take 50 ms, so the queued ones get a slot well within the 150 ms queue timeout.
const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((id) => bulkhead.execute(() => render(id, 50))));
results.forEach((r, i) => {
  if (r.status === 'fulfilled') console.log(`request ${i + 1}: ${r.value}`);
  else if (r.reason instanceof BulkheadRejectedError) console.log(`request ${i + 1}: rejected (${r.reason.reason})`);
  else throw r.reason;
});

// Slow work: queued callers give up after queueTimeout.
const slow = await Promise.allSettled([1, 2, 3].map((id) => bulkhead.execute(() => render(id, 400))));
console.log(
  `slow batch: ${slow.map((r) => (r.status === 'fulfilled' ? 'done' : (r.reason as BulkheadRejectedError).reason)).join(', ')}`,
);
console.log(`running now: ${bulkhead.running}, queued: ${bulkhead.queued}`);
