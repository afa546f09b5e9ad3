/**
 * Hono + staunch: a route protected by a per-upstream circuit breaker (one per key, in a bounded
 * LRU) and a timeout; the handler calls a flaky upstream through `staunch/fetch`.
 *
 * Run: npx tsx examples/integrations/hono.ts
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { CircuitBreaker, pipeline, Timeout } from 'staunch';
import { createFetch } from 'staunch/fetch';
import { type StaunchVariables, staunch } from 'staunch/hono';
import { startUpstream, urlOf } from './upstream.js';

const upstream = await startUpstream({ failures: 10 });
// No retry here: each failure reaches the route's breaker.
const resilientFetch = createFetch({ retry: false });

const app = new Hono<{ Variables: StaunchVariables }>();
app.get(
  '/quote/:region',
  staunch({
    policy: (region) =>
      pipeline(
        new CircuitBreaker({ name: `quotes-${region}`, volumeThreshold: 3, sleepWindow: 5_000 }),
        new Timeout(500),
      ),
    key: (c) => c.req.param('region') ?? 'default',
    maxPolicies: 50,
  }),
  async (c) => {
    const answer = await resilientFetch(`${upstream.url}/quote`, { signal: c.get('signal') });
    return c.body(await answer.text(), answer.status as 200);
  },
);

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise((resolve) => server.once('listening', resolve));
const base = urlOf(server);

for (let i = 1; i <= 5; i++) {
  const res = await fetch(`${base}/quote/eu`);
  const retryAfter = res.headers.get('retry-after');
  console.log(`GET /quote/eu #${i} -> ${res.status}${retryAfter ? ` (breaker open, retry-after=${retryAfter}s)` : ''}`);
  await res.arrayBuffer();
}
console.log(`upstream saw ${upstream.served()} requests: the open breaker spared it the rest`);

await new Promise((resolve) => server.close(resolve));
await upstream.close();
