/**
 * staunch — composable resilience policies for async functions: retry, circuit breaker,
 * bulkhead, timeout, fallback, and `pipeline` to chain them.
 *
 * @packageDocumentation
 */
export type { Clock } from './core/clock.js';
export { systemClock } from './core/clock.js';
export type { ExecuteOptions, ExecutionContext, Operation } from './core/context.js';
export {
  BulkheadRejectedError,
  type BulkheadRejectionReason,
  CircuitOpenError,
  FallbackError,
  isStaunchError,
  StaunchError,
  type StaunchErrorCode,
  TimeoutError,
} from './core/errors.js';
export type { Listener, Unsubscribe } from './core/events.js';
export type { ErrorMatcher } from './core/match.js';
export { Pipeline, Policy, pipeline } from './core/policy.js';
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
export { Timeout, type TimeoutEvents, type TimeoutOptions } from './timeout/Timeout.js';
