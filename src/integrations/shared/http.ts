/**
 * Shared by the server integrations: how staunch's errors become HTTP responses, and how a
 * request picks its policy (one per key, kept in a bounded LRU).
 */
import { BulkheadRejectedError, CircuitOpenError, isStaunchError, type Policy, TimeoutError } from '../../index.js';

/** An HTTP answer for an error: status, extra headers and body. */
export interface ErrorResponse {
  /** The HTTP status code. */
  readonly status: number;
  /** Extra response headers, e.g. `{ 'retry-after': '5' }`. */
  readonly headers: Readonly<Record<string, string>>;
  /** A string is sent as `text/plain`; anything else as JSON. */
  readonly body: unknown;
}

/** How staunch's errors are mapped to HTTP. Every option is optional. */
export interface ErrorMappingOptions {
  /** Status of a {@link BulkheadRejectedError} (load shed): 503 or 429. Default 503. */
  readonly bulkheadStatus?: 503 | 429;
  /**
   * `Retry-After` of a load-shed response, in seconds; `false` sends none. Default 1.
   * (A {@link CircuitOpenError}'s `Retry-After` always comes from the breaker's next trial time.)
   */
  readonly bulkheadRetryAfter?: number | false;
  /**
   * Builds the response body from the error and the chosen status. Default:
   * `{ error: { code, message } }` as JSON.
   */
  readonly body?: (error: Error, status: number) => unknown;
  /**
   * Overrides the mapping: receives the error and the default mapping (`undefined` for errors that
   * are not staunch's); return a response, or `undefined` to leave the error to the framework's
   * own error handling.
   */
  readonly mapError?: (error: unknown, defaultResponse: ErrorResponse | undefined) => ErrorResponse | undefined;
}

/** The default body: `{ error: { code, message } }`. */
export function defaultBody(error: Error): unknown {
  const code = (error as { code?: unknown }).code;
  return { error: { code: typeof code === 'string' ? code : error.name, message: error.message } };
}

/**
 * The default mapping: {@link BulkheadRejectedError} → 503 (or 429) with `Retry-After`;
 * {@link CircuitOpenError} → 503 with `Retry-After` = `ceil(error.retryAfter / 1000)` seconds (none
 * when the breaker is forced open); {@link TimeoutError} → 504. Anything else → `undefined`.
 */
export function toErrorResponse(error: unknown, options: ErrorMappingOptions = {}): ErrorResponse | undefined {
  const mapped = defaultMapping(error, options);
  return options.mapError !== undefined ? options.mapError(error, mapped) : mapped;
}

function defaultMapping(error: unknown, options: ErrorMappingOptions): ErrorResponse | undefined {
  if (!isStaunchError(error)) return undefined;
  const body = options.body ?? defaultBody;
  if (error instanceof BulkheadRejectedError) {
    const status = options.bulkheadStatus ?? 503;
    const retryAfter = options.bulkheadRetryAfter ?? 1;
    const headers: Record<string, string> = retryAfter === false ? {} : { 'retry-after': String(retryAfter) };
    return { status, headers, body: body(error, status) };
  }
  if (error instanceof CircuitOpenError) {
    const headers: Record<string, string> = Number.isFinite(error.retryAfter)
      ? { 'retry-after': String(Math.max(0, Math.ceil(error.retryAfter / 1000))) }
      : {};
    return { status: 503, headers, body: body(error, 503) };
  }
  if (error instanceof TimeoutError) return { status: 504, headers: {}, body: body(error, 504) };
  return undefined;
}

/** Validates the mapping options (at middleware construction). */
export function checkMappingOptions(owner: string, options: ErrorMappingOptions): void {
  if (options.bulkheadStatus !== undefined && options.bulkheadStatus !== 503 && options.bulkheadStatus !== 429) {
    throw new RangeError(`${owner}: bulkheadStatus must be 503 or 429, got ${String(options.bulkheadStatus)}`);
  }
  const ra = options.bulkheadRetryAfter;
  if (ra !== undefined && ra !== false && !(typeof ra === 'number' && Number.isInteger(ra) && ra >= 0)) {
    throw new RangeError(`${owner}: bulkheadRetryAfter must be a whole number of seconds >= 0 or false`);
  }
  for (const name of ['body', 'mapError'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`${owner}: ${name} must be a function`);
    }
  }
}

/** The body as bytes-ready text and its content type. */
export function serializeBody(body: unknown): { readonly text: string; readonly type: string } {
  if (typeof body === 'string') return { text: body, type: 'text/plain; charset=utf-8' };
  return { text: JSON.stringify(body ?? null), type: 'application/json; charset=utf-8' };
}

/** A policy for every request, or a factory of one policy per key. */
export type PolicyFactory = (key: string) => Policy<unknown>;

/** Which policy protects a request. */
export interface PolicySelection<Req> {
  /**
   * The policy (or pipeline) every request runs through, or a factory called once per distinct
   * key (see `key`) — e.g. one circuit breaker per upstream host.
   */
  readonly policy: Policy<unknown> | PolicyFactory;
  /** The key of a request, for a policy factory. Required with a factory. */
  readonly key?: (request: Req) => string;
  /**
   * How many keyed policies are kept (least recently used ones are dropped beyond it, losing their
   * state, e.g. a breaker's counts). Default 100.
   */
  readonly maxPolicies?: number;
}

/**
 * A small least-recently-used map with a fixed capacity. Reads refresh an entry; inserting beyond
 * the capacity drops the oldest.
 */
export class LruCache<V> {
  private readonly _map = new Map<string, V>();
  /** The most entries kept. */
  readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** The number of entries. */
  get size(): number {
    return this._map.size;
  }

  /** The value of `key`, or the one `create` makes (and stores). */
  getOrCreate(key: string, create: (key: string) => V): V {
    const map = this._map;
    const found = map.get(key);
    if (found !== undefined || map.has(key)) {
      // Re-insert: Map iteration order is insertion order, so the first entry is the least recent.
      map.delete(key);
      map.set(key, found as V);
      return found as V;
    }
    const value = create(key);
    map.set(key, value);
    if (map.size > this.maxSize) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    return value;
  }
}

/** Builds the request → policy function, validating the options. */
export function policySelector<Req>(owner: string, options: PolicySelection<Req>): (request: Req) => Policy<unknown> {
  const { policy, key } = options;
  if (typeof policy === 'function') {
    if (typeof key !== 'function') throw new TypeError(`${owner}: a policy factory needs a key function (key)`);
    const max = options.maxPolicies ?? 100;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`${owner}: maxPolicies must be an integer >= 1, got ${String(max)}`);
    }
    const cache = new LruCache<Policy<unknown>>(max);
    return (request) =>
      cache.getOrCreate(key(request), (k) => {
        const made = policy(k);
        if (!isPolicy(made)) throw new TypeError(`${owner}: the policy factory did not return a staunch policy`);
        return made;
      });
  }
  if (!isPolicy(policy)) throw new TypeError(`${owner}: policy must be a staunch policy or a factory function`);
  return () => policy;
}

function isPolicy(value: unknown): value is Policy<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Policy<unknown>).execute === 'function' &&
    Array.isArray((value as Policy<unknown>)._chain)
  );
}

/** Whether a response status counts as a failure of the protected call. Default: 5xx. */
export type FailureStatus = (status: number) => boolean;

/** The default {@link FailureStatus}: any 5xx. */
export const serverErrorStatus: FailureStatus = (status) => status >= 500;

/**
 * @internal Thrown inside the policy when the response itself reports a failure (a 5xx), so a
 * breaker counts it; the response has been sent already, so it is swallowed outside.
 */
export class ResponseStatusFailure extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`The response had the failure status ${status}`);
    this.name = 'ResponseStatusFailure';
    this.status = status;
  }
}

/** The reason a request's signal carries when the client went away. */
export function clientClosedReason(): Error {
  return new DOMException('The client closed the connection before the response was sent', 'AbortError');
}
