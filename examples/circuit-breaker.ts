/**
 * CircuitBreaker (Hystrix's error-percentage rule): after enough failures in the rolling window
 * the breaker opens and calls fail fast, without reaching the sick dependency; after the sleep
 * window one trial call decides whether it closes again.
 *
 * Run: npx tsx examples/circuit-breaker.ts
 */
import { CircuitBreaker, CircuitOpenError } from 'staunch';

const breaker = new CircuitBreaker({
  errorThresholdPercentage: 50, // open when half of the calls in the window fail...
  volumeThreshold: 4, // ...once the window holds at least 4 calls
  rollingWindow: 2_000, // ms, in 10 buckets of 200 ms
  buckets: 10,
  sleepWindow: 300, // ms to stay open before a trial call
});
breaker.on('stateChange', ({ from, to }) => console.log(`  breaker: ${from} -> ${to}`));

let healthy = false;
async function callInventory(): Promise<string> {
  if (!healthy) throw new Error('inventory service: 503');
  return 'in stock';
}

for (let i = 1; i <= 6; i++) {
  try {
    console.log(`call ${i}: ${await breaker.execute(callInventory)}`);
  } catch (error) {
    if (error instanceof CircuitOpenError) {
      console.log(`call ${i}: short-circuited, next trial in ${Math.round(error.retryAfter)} ms`);
    } else {
      console.log(`call ${i}: failed (${String(error)})`);
    }
  }
}

console.log(`state: ${breaker.state}; the dependency recovers; waiting out the sleep window`);
healthy = true;
await new Promise((resolve) => setTimeout(resolve, 350));
console.log(`state after the sleep window: ${breaker.state}`);
console.log(`trial call: ${await breaker.execute(callInventory)}`);
console.log(`state: ${breaker.state}`);
