/**
 * Fastify + staunch: the plugin protects every route of its scope with a bulkhead and a timeout;
 * the handler calls a flaky upstream through `staunch/fetch`.
 *
 * Run: npx tsx examples/integrations/fastify.ts
 */
import Fastify from 'fastify';
import { Bulkhead, pipeline, Timeout } from 'staunch';
import { staunchPlugin } from 'staunch/fastify';
import { createFetch } from 'staunch/fetch';
import { startUpstream } from './upstream.js';

const upstream = await startUpstream({ failures: 1 });
// The retry's 300 ms pause keeps the first request in the bulkhead while the second arrives.
const resilientFetch = createFetch({ policy: new Timeout(1_000), retry: { backoff: [300] } });

const app = Fastify({ forceCloseConnections: true });
// A factory: each route gets its own bulkhead and timeout (a breaker opened by one route never
// refuses another). A single policy instance shared by every route needs `shared: true`.
await app.register(staunchPlugin, {
  policy: () => pipeline(new Bulkhead({ maxConcurrent: 1 }), new Timeout(2_000)),
  bulkheadStatus: 429,
});
app.get('/quote', async (request, reply) => {
  // request.staunch.signal: aborted if the client leaves or the 2 s timeout expires.
  const answer = await resilientFetch(`${upstream.url}/quote`, { signal: request.staunch?.signal ?? null });
  return reply
    .code(answer.status)
    .type('application/json')
    .send(await answer.text());
});
app.get('/health', { config: { staunch: false } }, async () => 'ok');

const base = await app.listen({ port: 0, host: '127.0.0.1' });

const results = await Promise.all([fetch(`${base}/quote`), fetch(`${base}/quote`)]);
for (const res of results) console.log(`GET /quote -> ${res.status} ${await res.text()}`);
const health = await fetch(`${base}/health`);
console.log(`GET /health -> ${health.status} ${await health.text()} (not protected)`);

await app.close();
await upstream.close();
