/**
 * The library's own errors. Each carries a stable `code` and a brand (a registered symbol), so
 * `instanceof` and {@link isStaunchError} work across duplicate copies of the package.
 */

const BRAND: unique symbol = Symbol.for('staunch.error') as never;

type Branded = { readonly [BRAND]: true; readonly code: string };

function hasBrand(value: unknown): value is Branded {
  return typeof value === 'object' && value !== null && (value as Partial<Branded>)[BRAND] === true;
}

/** Stable codes of the errors staunch itself throws. */
export type StaunchErrorCode =
  | 'STAUNCH_TIMEOUT'
  | 'STAUNCH_CIRCUIT_OPEN'
  | 'STAUNCH_BULKHEAD_REJECTED'
  | 'STAUNCH_FALLBACK_FAILED'
  | 'STAUNCH_SEMAPHORE_RELEASE'
  | 'STAUNCH_BATCH_RESULT_MISSING'
  | 'STAUNCH_BATCHER_CLOSED'
  | 'STAUNCH_SEMAPHORE_TIMEOUT'
  | 'STAUNCH_HTTP_STATUS'
  | (string & {});

/**
 * Base class of every error staunch throws. Recognise it with `instanceof` (works across
 * duplicate package copies, through a registered brand) or {@link isStaunchError}.
 */
export class StaunchError extends Error {
  /** A stable machine-readable code, e.g. `'STAUNCH_TIMEOUT'`. Subclasses set their own. */
  static readonly code: StaunchErrorCode = 'STAUNCH_ERROR';
  /** A stable machine-readable code, e.g. `'STAUNCH_TIMEOUT'`. */
  readonly code: StaunchErrorCode;
  declare readonly [BRAND]: true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    const ctor = new.target as typeof StaunchError;
    this.code = ctor.code;
    this.name = ctor.name;
  }

  /**
   * True for instances of this class, including those made by a duplicate copy of the package
   * (recognised by the registered brand and the `code`).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (!hasBrand(value)) return false;
    return this.code === 'STAUNCH_ERROR' || value.code === this.code;
  }
}

// The brand lives on the prototype: one definition for all instances, found by the same lookup.
Object.defineProperty(StaunchError.prototype, BRAND, { value: true });

/** True for any error thrown by any copy of staunch. */
export function isStaunchError(value: unknown): value is StaunchError {
  return hasBrand(value);
}

/** Thrown by {@link Timeout} when the protected call did not settle within its deadline. */
export class TimeoutError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_TIMEOUT';
  /** The deadline that was exceeded, in milliseconds. */
  readonly timeout: number;
  constructor(timeout: number, options?: { cause?: unknown }) {
    super(`Operation timed out after ${timeout} ms`, options);
    this.timeout = timeout;
  }
}

/** Thrown by a circuit breaker that is open (or isolated): the function was not called. */
export class CircuitOpenError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_CIRCUIT_OPEN';
  /**
   * The time, in milliseconds on the breaker's clock, from which a trial call is allowed, or
   * `Infinity` when the breaker is forced open.
   */
  readonly retryAt: number;
  /** Milliseconds from the moment of rejection until {@link CircuitOpenError.retryAt}. */
  readonly retryAfter: number;
  constructor(message: string, retryAt: number, retryAfter: number) {
    super(message);
    this.retryAt = retryAt;
    this.retryAfter = retryAfter;
  }
}

/** Which limit of a bulkhead rejected a call. */
export type BulkheadRejectionReason = 'queue-full' | 'queue-timeout';

/** Thrown by a bulkhead that could not admit a call. */
export class BulkheadRejectedError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_BULKHEAD_REJECTED';
  /** `'queue-full'`: no slot and no room in the queue; `'queue-timeout'`: waited too long. */
  readonly reason: BulkheadRejectionReason;
  /** The bulkhead's `maxConcurrent`. */
  readonly maxConcurrent: number;
  /** The bulkhead's `maxQueue`. */
  readonly maxQueue: number;
  constructor(message: string, reason: BulkheadRejectionReason, maxConcurrent: number, maxQueue: number) {
    super(message);
    this.reason = reason;
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }
}

/**
 * Thrown by a {@link Fallback} whose handler itself failed. `error` is the original failure,
 * `cause` is the handler's error.
 */
export class FallbackError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_FALLBACK_FAILED';
  /** The failure that made the fallback run. */
  readonly error: unknown;
  constructor(error: unknown, fallbackError: unknown) {
    super(`Fallback failed: ${describe(fallbackError)} (original failure: ${describe(error)})`, {
      cause: fallbackError,
    });
    this.error = error;
  }
}

/** A short printable description of an unknown thrown value. */
export function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Thrown by {@link Semaphore.release} when no permit is held: a release without an acquire. */
export class SemaphoreReleaseError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_SEMAPHORE_RELEASE';
  /** The semaphore's number of permits. */
  readonly permits: number;
  constructor(permits: number) {
    super(`Semaphore.release(): no permit is held (all ${permits} permits are free); release() without acquire()`);
    this.permits = permits;
  }
}

/** Thrown by {@link Semaphore.acquire} when no permit became free within the wait's timeout. */
export class SemaphoreTimeoutError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_SEMAPHORE_TIMEOUT';
  /** How long the caller waited, in milliseconds. */
  readonly timeout: number;
  /** The semaphore's number of permits. */
  readonly permits: number;
  constructor(timeout: number, permits: number) {
    super(`Semaphore.acquire(): no permit free within ${timeout} ms (permits: ${permits})`);
    this.timeout = timeout;
    this.permits = permits;
  }
}

/**
 * Given to a {@link Batcher} caller whose item got no result: the batch function's `Map` has no
 * entry for the item's key, or its array does not have one result per item.
 */
export class BatchResultMissingError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_BATCH_RESULT_MISSING';
  /** The caller's item. */
  readonly item: unknown;
  /** The item's key (the item itself without a `key` option). */
  readonly key: unknown;
  constructor(message: string, item: unknown, key: unknown) {
    super(message);
    this.item = item;
    this.key = key;
  }
}

/** Thrown by {@link Batcher.call} after {@link Batcher.close}. */
export class BatcherClosedError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_BATCHER_CLOSED';
  constructor() {
    super('Batcher.call(): the batcher is closed');
  }
}
