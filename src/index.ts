/**
 * staunch — composable resilience policies for async functions: retry, circuit breaker,
 * bulkhead, timeout, fallback, and `pipeline` to chain them.
 *
 * @packageDocumentation
 * @module staunch
 */

export { type BatchCallOptions, Batcher, type BatcherOptions, type BatchResults } from './batcher/index.js';
export {
  CircuitBreaker,
  type CircuitBreakerEvents,
  type CircuitBreakerMetrics,
  type CircuitBreakerOptions,
  type CircuitBreakerRule,
  type CircuitBreakerSnapshot,
  type CircuitState,
  type ConsecutiveFailuresRule,
  consecutiveFailures,
  type FailureKind,
  type GoResiliencyOptions,
  type GoResiliencyRule,
  goResiliency,
  type HystrixOptions,
  type HystrixRule,
  hystrix,
  type LatencyMetrics,
  PERCENTILES,
  type Percentile,
  type SlowCallOptions,
  type SlowCallRule,
  slowCalls,
} from './breaker/index.js';
export { Bulkhead, type BulkheadEvents, type BulkheadOptions } from './bulkhead/index.js';
export type { ClassifyOptions } from './core/classify.js';
export type { Clock } from './core/clock.js';
export { systemClock } from './core/clock.js';
export type { ExecuteOptions, ExecutionContext, Operation } from './core/context.js';
export {
  BatcherClosedError,
  BatchResultMissingError,
  BulkheadRejectedError,
  type BulkheadRejectionReason,
  CircuitOpenError,
  FallbackError,
  isStaunchError,
  SemaphoreReleaseError,
  SemaphoreTimeoutError,
  StaunchError,
  type StaunchErrorCode,
  TimeoutError,
} from './core/errors.js';
export type { Listener, Unsubscribe } from './core/events.js';
export type { ErrorMatcher } from './core/match.js';
export { Pipeline, Policy, pipeline } from './core/policy.js';
export { type ErrorReporter, type ErrorSource, setErrorReporter } from './core/report.js';
export { Fallback, type FallbackEvents, type FallbackHandler, type FallbackOptions } from './fallback/Fallback.js';
export {
  type Backoff,
  constant,
  type DecorrelatedJitterOptions,
  decorrelatedJitter,
  type ExponentialOptions,
  exponential,
} from './retry/backoff.js';
export { type RetryEvents, type RetryOptions, type RetryOutcome, RetryPolicy } from './retry/RetryPolicy.js';
export { type AcquireOptions, Semaphore, type SemaphoreOptions } from './semaphore/index.js';
export { Timeout, type TimeoutEvents, type TimeoutOptions } from './timeout/Timeout.js';
