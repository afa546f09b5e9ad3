/**
 * The Hystrix dashboard stream: a Node server serving `/hystrix.stream` for two breakers. Point
 * a Hystrix (or Turbine-compatible) dashboard at it; here a client reads two rounds of frames.
 *
 * Run: npx tsx examples/integrations/hystrix.ts
 */
import { createServer } from 'node:http';
import { CircuitBreaker } from 'staunch';
import { createHystrixStream } from 'staunch/hystrix';
import { urlOf } from './upstream.js';

const payments = new CircuitBreaker({ name: 'payments', group: 'checkout', volumeThreshold: 4 });
const search = new CircuitBreaker({ name: 'search', group: 'catalog' });

// Some traffic: payments fails until its breaker opens, search succeeds.
for (let i = 0; i < 6; i++) {
  await payments.execute(() => Promise.reject(new Error('card service down'))).catch(() => {});
  await search.execute(() => 'results');
}

const stream = createHystrixStream({
  breakers: [payments, search],
  interval: 200, // ms between rounds of frames
  maxBufferedBytes: 256 * 1024, // a client that stops reading has rounds dropped beyond this…
  slowClientTimeout: 10_000, // …and is disconnected after 10 s of that, freeing its slot
});
const server = createServer((req, res) => {
  if (req.url === '/hystrix.stream') stream(req, res);
  else res.writeHead(404).end();
});
server.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));

// A HEAD (a health check, a proxy probing the URL) gets the headers only and takes no slot.
const head = await fetch(`${urlOf(server)}/hystrix.stream`, { method: 'HEAD' });
console.log(`HEAD: ${head.status}, clients: ${stream.connections}`);

const controller = new AbortController();
const res = await fetch(`${urlOf(server)}/hystrix.stream`, { signal: controller.signal });
console.log(`connected: ${res.status} ${res.headers.get('content-type')}`);
const reader = res.body!.getReader();
const decoder = new TextDecoder();
let text = '';
let frames = 0;
while (frames < 4) {
  const { value } = await reader.read();
  text += decoder.decode(value, { stream: true });
  let end = text.indexOf('\n\n');
  while (end >= 0) {
    const frame = text.slice(0, end);
    text = text.slice(end + 2);
    end = text.indexOf('\n\n');
    if (!frame.startsWith('data: ')) continue;
    const c = JSON.parse(frame.slice(6));
    frames++;
    console.log(
      `${c.group}/${c.name}: open=${c.isCircuitBreakerOpen} requests=${c.requestCount} errors=${c.errorPercentage}% ` +
        `short-circuited=${c.rollingCountShortCircuited} p99=${c.latencyExecute['99']}ms`,
    );
  }
}
controller.abort();
await reader.cancel().catch(() => {});
console.log(`clients after disconnect: ${await waitFor(() => stream.connections === 0)}`);

stream.close();
server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));

async function waitFor(done: () => boolean): Promise<number> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
  return stream.connections;
}
