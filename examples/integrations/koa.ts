/**
 * Koa + staunch: the middleware protects what follows it with a bulkhead and a timeout; the
 * handler calls a flaky upstream through `staunch/fetch`, and honours `ctx.state.signal`.
 *
 * Run: npx tsx examples/integrations/koa.ts
 */
import Koa from 'koa';
import { Bulkhead, pipeline, Timeout } from 'staunch';
import { createFetch } from 'staunch/fetch';
import { staunch } from 'staunch/koa';
import { startUpstream, urlOf } from './upstream.js';

const upstream = await startUpstream({ failures: 2, slowMs: 5_000 });
const resilientFetch = createFetch({ policy: new Timeout(800), retry: { backoff: [20, 40] } });

const app = new Koa();
app.use(staunch({ policy: pipeline(new Bulkhead({ maxConcurrent: 4 }), new Timeout(1_500)) }));
app.use(async (ctx) => {
  const path = ctx.path === '/slow' ? '/slow' : '/quote';
  const answer = await resilientFetch(`${upstream.url}${path}`, { signal: ctx.state.signal as AbortSignal });
  ctx.status = answer.status;
  ctx.body = await answer.text();
});

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = urlOf(server);

for (const path of ['/quote', '/slow']) {
  const res = await fetch(`${base}${path}`);
  console.log(`GET ${path} -> ${res.status} ${await res.text()}`);
}

server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
await upstream.close();
