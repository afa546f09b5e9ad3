/**
 * The full pipeline around a real HTTP call, in the order that mirrors Hystrix's own flow:
 * Fallback -> Retry -> CircuitBreaker -> Bulkhead -> Timeout -> fetch.
 * The first policy is the outermost: the fallback sees what is left after the retries, each retry
 * passes through the breaker, and the timeout bounds each single attempt.
 *
 * Run: npx tsx examples/pipeline.ts
 */
import { Bulkhead, CircuitBreaker, CircuitOpenError, Fallback, pipeline, RetryPolicy, Timeout } from 'staunch';
import { HttpError, startFlakyServer } from './support/flaky-server.js';

interface Quote {
  readonly price: number | null;
  readonly stale?: boolean;
}

const upstream = await startFlakyServer('flaky');

const breaker = new CircuitBreaker({
  volumeThreshold: 6,
  errorThresholdPercentage: 60,
  rollingWindow: 5_000,
  buckets: 10,
  sleepWindow: 300,
});
const quotes = pipeline(
  new Fallback<Quote>(() => ({ price: null, stale: true })),
  new RetryPolicy({
    maxRetries: 2,
    backoff: [20, 40], // ms
    // Retrying cannot help while the breaker is open, nor with a client error.
    failOn: [CircuitOpenError, (e) => e instanceof HttpError && e.status < 500],
  }),
  breaker,
  new Bulkhead({ maxConcurrent: 4, maxQueue: 16 }),
  new Timeout(250), // per attempt, in ms
);
breaker.on('stateChange', ({ from, to }) => console.log(`  breaker ${from} -> ${to}`));

/** The protected call: `ctx.signal` is aborted by the timeout, so fetch stops at once. */
function getQuote(id: number): Promise<Quote> {
  return quotes.execute(async ({ signal }) => {
    const res = await fetch(`${upstream.url}/quote/${id}`, { signal });
    if (!res.ok) throw new HttpError(res.status);
    return (await res.json()) as Quote;
  });
}

try {
  console.log('flaky upstream (every other request fails): the retries hide it');
  for (let id = 1; id <= 3; id++) console.log(`quote ${id}: ${JSON.stringify(await getQuote(id))}`);

  console.log('upstream hangs: each attempt times out, the breaker opens, the fallback answers');
  upstream.mode = 'hang';
  for (let id = 4; id <= 6; id++) console.log(`quote ${id}: ${JSON.stringify(await getQuote(id))}`);
  const before = upstream.requests;
  console.log(`quote 7: ${JSON.stringify(await getQuote(7))} (upstream calls: ${upstream.requests - before})`);

  console.log('upstream recovers: after the sleep window a trial call closes the breaker');
  upstream.mode = 'ok';
  await new Promise((resolve) => setTimeout(resolve, 350));
  console.log(`quote 8: ${JSON.stringify(await getQuote(8))}`);
  console.log(`breaker: ${breaker.state}`);
} finally {
  await upstream.close();
}
