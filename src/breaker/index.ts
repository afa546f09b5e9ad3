/**
 * The circuit breaker: {@link CircuitBreaker}, its trip rules and its metrics types.
 * @module
 */
export {
  CircuitBreaker,
  type CircuitBreakerEvents,
  type CircuitBreakerMetrics,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
  type FailureKind,
} from './CircuitBreaker.js';
export { type LatencyMetrics, PERCENTILES, type Percentile } from './LatencyHistogram.js';
export {
  type CircuitBreakerRule,
  type ConsecutiveFailuresRule,
  consecutiveFailures,
  type GoResiliencyOptions,
  type GoResiliencyRule,
  goResiliency,
  type HystrixOptions,
  type HystrixRule,
  hystrix,
  type SlowCallOptions,
  type SlowCallRule,
  slowCalls,
} from './rules.js';
export type { CircuitState } from './StateMachine.js';
