/**
 * OpenTelemetry metrics for a pipeline: event counters, call and attempt durations, breaker
 * state. Collected here with the SDK's MetricReader and printed.
 *
 * Run: npx tsx examples/integrations/opentelemetry.ts
 */
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { CircuitBreaker, pipeline, RetryPolicy, Timeout } from 'staunch';
import { instrumented } from 'staunch/opentelemetry';

class PrintReader extends MetricReader {
  protected onForceFlush = () => Promise.resolve();
  protected onShutdown = () => Promise.resolve();
}
const reader = new PrintReader();
const provider = new MeterProvider({ readers: [reader] });

const breaker = new CircuitBreaker({ name: 'inventory', volumeThreshold: 5 });
const api = instrumented(pipeline(new RetryPolicy({ backoff: [10, 20] }), breaker, new Timeout(200)), {
  name: 'inventory-api',
  meter: provider.getMeter('example'),
});

let calls = 0;
for (let i = 0; i < 4; i++) {
  await api
    .execute(async () => {
      calls++;
      if (calls % 3 !== 0) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      return 'in stock';
    })
    .catch(() => {});
}

const { resourceMetrics } = await reader.collect();
for (const scope of resourceMetrics.scopeMetrics) {
  for (const metric of scope.metrics) {
    console.log(`${metric.descriptor.name} (${metric.descriptor.unit})`);
    for (const point of metric.dataPoints) {
      const value = typeof point.value === 'number' ? point.value : `count=${(point.value as { count: number }).count}`;
      const attributes = Object.entries(point.attributes)
        .filter(([k]) => k !== 'staunch.policy.name')
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      console.log(`  ${value}  ${attributes}`);
    }
  }
}
api.dispose();
await provider.shutdown();
