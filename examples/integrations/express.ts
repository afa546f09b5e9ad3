/**
 * Express + staunch: a route protected by a bulkhead and a timeout, calling a flaky upstream
 * through `staunch/fetch` (retries honouring Retry-After, a circuit breaker counting 5xx).
 *
 * Run: npx tsx examples/integrations/express.ts
 */
import express from 'express';
import { Bulkhead, CircuitBreaker, pipeline, Timeout } from 'staunch';
import { asyncHandler, staunch, staunchErrorHandler } from 'staunch/express';
import { createFetch } from 'staunch/fetch';
import { startUpstream, urlOf } from './upstream.js';

const upstream = await startUpstream({ failures: 2, slowMs: 5_000 });

// Outbound: retry 5xx/429 (Retry-After honoured), one breaker for the upstream, 1 s per attempt.
const breaker = new CircuitBreaker({ name: 'quotes-upstream', volumeThreshold: 10 });
const resilientFetch = createFetch({ policy: pipeline(breaker, new Timeout(1_000)), retry: { backoff: [50, 100] } });

// Inbound: at most 2 requests at a time, 2 s each.
const inbound = pipeline(new Bulkhead({ maxConcurrent: 2 }), new Timeout(2_000));

const app = express();
// asyncHandler: a handler's rejection reaches staunch and Express on Express 4 as on 5 (Express 4
// ignores an async handler's promise: a rejection there would end the process).
app.get(
  '/quote',
  staunch({ policy: inbound }),
  asyncHandler(async (_req, res) => {
    const signal = res.locals.signal as AbortSignal;
    const answer = await resilientFetch(`${upstream.url}/quote`, { signal });
    res
      .status(answer.status)
      .type('json')
      .send(await answer.text());
  }),
);
app.get(
  '/report',
  staunch({ policy: inbound }),
  asyncHandler(async (_req, res) => {
    // Slower than the 2 s timeout: the client gets a 504, and the signal cancels the upstream call.
    const answer = await resilientFetch(`${upstream.url}/slow`, { signal: res.locals.signal as AbortSignal });
    res.send(await answer.text());
  }),
);
app.use(staunchErrorHandler());

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = urlOf(server);

const first = await fetch(`${base}/quote`);
console.log(`GET /quote -> ${first.status} ${await first.text()} (upstream saw ${upstream.served()} requests)`);

const burst = await Promise.all([fetch(`${base}/report`), fetch(`${base}/report`), fetch(`${base}/report`)]);
for (const res of burst) {
  console.log(
    `GET /report -> ${res.status}${res.headers.get('retry-after') ? ` retry-after=${res.headers.get('retry-after')}` : ''}`,
  );
  await res.arrayBuffer();
}
console.log(`breaker: ${breaker.state}, requests in window: ${breaker.metrics().requests}`);

server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
await upstream.close();
