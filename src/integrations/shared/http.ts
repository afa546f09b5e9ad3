/**
 * Shared by the server integrations: how staunch's errors become HTTP responses, how middleware
 * options are checked, and how a request picks its policy (one per key, kept in a bounded LRU that
 * never drops a policy in use or holding state).
 */
import type { ExecuteOptions, Operation } from '../../core/context.js';
import type { Stage } from '../../core/policy.js';
import { reportError } from '../../core/report.js';
import { checkOptions, functionOption, numberOption, showValue } from '../../core/validate.js';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  isStaunchError,
  Policy,
  StaunchError,
  type StaunchErrorCode,
  TimeoutError,
} from '../../index.js';

/** An HTTP answer for an error: status, extra headers and body. */
export interface ErrorResponse {
  /** The HTTP status code (an integer from 200 to 599). */
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
   * `Retry-After` of a load-shed response (a {@link BulkheadRejectedError}, or a
   * {@link PolicyLimitError} of a per-key policy factory), in whole seconds; `false` sends none.
   * Default 1. (A {@link CircuitOpenError}'s `Retry-After` always comes from the breaker's next
   * trial time.)
   */
  readonly bulkheadRetryAfter?: number | false;
  /**
   * Builds the response body from the error and the chosen status. Default: {@link defaultBody},
   * `{ error: { code, message } }` as JSON with a generic message that reveals nothing about the
   * server (no policy names, limits or timeouts).
   *
   * If it throws (or returns something that cannot be serialised), the default body is sent
   * instead and the error is handed to the error reporter (`setErrorReporter` from `'staunch'`,
   * source e.g. `'staunch/express body'`): a broken callback never crashes the server.
   */
  readonly body?: (error: Error, status: number) => unknown;
  /**
   * Overrides the mapping: receives the error and the default mapping (`undefined` for errors that
   * are not staunch's); return a response, or `undefined` to leave the error to the framework's
   * own error handling.
   *
   * If it throws, or returns something that is not a valid response (a status that is not an
   * integer from 200 to 599, a header name or value Node would refuse, a body that cannot be
   * serialised), the default mapping is used as if there were no `mapError`, and the error is
   * handed to the error reporter (`setErrorReporter` from `'staunch'`, source e.g.
   * `'staunch/express mapError'`): a broken callback never crashes the server.
   */
  readonly mapError?: (error: unknown, defaultResponse: ErrorResponse | undefined) => ErrorResponse | undefined;
}

/** The names of the {@link ErrorMappingOptions}. */
export const MAPPING_OPTIONS: readonly string[] = ['bulkheadStatus', 'bulkheadRetryAfter', 'body', 'mapError'];

/**
 * The names of the options every server middleware takes: the {@link ErrorMappingOptions}, the
 * {@link PolicySelection} and `failureStatus`. A middleware with more options passes its own list
 * to {@link checkMiddlewareOptions}.
 */
export const MIDDLEWARE_OPTIONS: readonly string[] = [
  ...MAPPING_OPTIONS,
  'policy',
  'key',
  'maxPolicies',
  'failureStatus',
];

/**
 * Thrown (as the rejection of the request's call, so it is answered like a load shed: 503 with
 * `Retry-After`) when a request's key needs a new policy but all `maxPolicies` per-key policies
 * are in use — each one either has calls in flight or holds state that dropping it would lose (a
 * breaker that is not closed or has failures in its window, a bulkhead with calls running or
 * queued). The request never reaches the handler.
 */
export class PolicyLimitError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_POLICY_LIMIT';
  /** The `maxPolicies` that was reached. */
  readonly maxPolicies: number;
  constructor(message: string, maxPolicies: number) {
    super(message);
    this.maxPolicies = maxPolicies;
  }
}

/** The generic message of each status the default mapping produces. */
const GENERIC_MESSAGES: Readonly<Record<number, string>> = {
  429: 'Too many requests; try again later',
  503: 'Service temporarily unavailable; try again later',
  504: 'The request took too long to complete',
};

/**
 * The default body: `{ error: { code, message } }`, where `code` is the error's stable code (e.g.
 * `'STAUNCH_CIRCUIT_OPEN'`) and `message` a generic sentence for the status ("Service temporarily
 * unavailable; try again later" for 503, "Too many requests; try again later" for 429, "The
 * request took too long to complete" for 504). It never carries the error's own message, which
 * names internals a client must not see (a breaker's name such as a database host, a bulkhead's
 * occupancy and limits, a timeout's setting): those stay on the error, for your logs and the
 * policies' events (pass `body` or `mapError` to send something else).
 *
 * @param status the response status; without it, 504 for a {@link TimeoutError} and 503 otherwise.
 */
export function defaultBody(error: Error, status?: number): unknown {
  const code = (error as { code?: unknown }).code;
  const shown = status ?? (error instanceof TimeoutError ? 504 : 503);
  const message = GENERIC_MESSAGES[shown] ?? 'The request could not be completed';
  return { error: { code: typeof code === 'string' ? code : error.name, message } };
}

/**
 * Which middleware checked an options object, so that an error of its `mapError` or `body` is
 * reported under the middleware's name (e.g. `'staunch/express mapError'`).
 */
const owners = new WeakMap<object, string>();

/**
 * The default mapping: {@link BulkheadRejectedError} → 503 (or 429) with `Retry-After`;
 * {@link PolicyLimitError} → 503 with `Retry-After`; {@link CircuitOpenError} → 503 with
 * `Retry-After` = `ceil(error.retryAfter / 1000)` seconds (none when the breaker is forced open);
 * {@link TimeoutError} → 504. Anything else → `undefined`. Then `options.mapError`, if any.
 *
 * Never throws: a `body` or `mapError` that throws or returns an invalid response is reported
 * (`setErrorReporter`) and the default is used in its place.
 */
export function toErrorResponse(error: unknown, options: ErrorMappingOptions = {}): ErrorResponse | undefined {
  const owner = owners.get(options) ?? 'toErrorResponse';
  const mapped = defaultMapping(error, options, owner);
  const mapError = options.mapError;
  if (mapError === undefined) return mapped;
  try {
    return checkedResponse(mapError(error, mapped));
  } catch (failure) {
    reportError(failure, `${owner} mapError`);
    return mapped;
  }
}

function defaultMapping(error: unknown, options: ErrorMappingOptions, owner: string): ErrorResponse | undefined {
  if (!isStaunchError(error)) return undefined;
  const makeBody = (status: number): unknown => {
    const body = options.body;
    if (body === undefined) return defaultBody(error, status);
    try {
      const made = body(error, status);
      serializeBody(made);
      return made;
    } catch (failure) {
      reportError(failure, `${owner} body`);
      return defaultBody(error, status);
    }
  };
  if (error instanceof BulkheadRejectedError || error instanceof PolicyLimitError) {
    const status = error instanceof BulkheadRejectedError ? (options.bulkheadStatus ?? 503) : 503;
    const retryAfter = options.bulkheadRetryAfter ?? 1;
    const headers: Record<string, string> = retryAfter === false ? {} : { 'retry-after': String(retryAfter) };
    return { status, headers, body: makeBody(status) };
  }
  if (error instanceof CircuitOpenError) {
    const headers: Record<string, string> = Number.isFinite(error.retryAfter)
      ? { 'retry-after': String(Math.max(0, Math.ceil(error.retryAfter / 1000))) }
      : {};
    return { status: 503, headers, body: makeBody(503) };
  }
  if (error instanceof TimeoutError) return { status: 504, headers: {}, body: makeBody(504) };
  return undefined;
}

/** An HTTP token (RFC 9110), as Node checks header names. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Characters Node refuses in a header value (anything but tab, visible ASCII and obs-text). */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * A copy of a response returned by `mapError`, checked so that sending it cannot throw; throws a
 * `TypeError` that says what is wrong otherwise.
 */
function checkedResponse(value: unknown): ErrorResponse | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`mapError must return { status, headers, body } or undefined, got ${showValue(value)}`);
  }
  const { status, headers, body } = value as Partial<ErrorResponse>;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new TypeError(`mapError returned an invalid status: ${showValue(status)} (an integer from 200 to 599)`);
  }
  const copy: Record<string, string> = {};
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null) {
      throw new TypeError(`mapError returned invalid headers: ${showValue(headers)}`);
    }
    for (const [name, raw] of Object.entries(headers)) {
      const text = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
      if (!HEADER_NAME.test(name) || typeof text !== 'string' || BAD_HEADER_VALUE.test(text)) {
        throw new TypeError(`mapError returned an invalid header: ${JSON.stringify(name)}: ${showValue(raw)}`);
      }
      copy[name] = text;
    }
  }
  serializeBody(body);
  return { status, headers: copy, body };
}

/**
 * Validates the mapping options (at middleware construction): a `TypeError` for a wrong type
 * (`null` included), a `RangeError` for a wrong value.
 */
export function checkMappingOptions(owner: string, options: ErrorMappingOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${owner}: options must be an object, got ${showValue(options)}`);
  }
  const status = options.bulkheadStatus;
  if (status !== undefined) {
    if (typeof status !== 'number') {
      throw new TypeError(`${owner}: bulkheadStatus must be 503 or 429, got ${showValue(status)}`);
    }
    if (status !== 503 && status !== 429) {
      throw new RangeError(`${owner}: bulkheadStatus must be 503 or 429, got ${showValue(status)}`);
    }
  }
  const ra = options.bulkheadRetryAfter;
  if (ra !== undefined && ra !== false) {
    if (typeof ra !== 'number') {
      throw new TypeError(
        `${owner}: bulkheadRetryAfter must be a whole number of seconds >= 0 or false, got ${showValue(ra)}`,
      );
    }
    if (!Number.isInteger(ra) || ra < 0) {
      throw new RangeError(
        `${owner}: bulkheadRetryAfter must be a whole number of seconds >= 0 or false, got ${showValue(ra)}`,
      );
    }
  }
  functionOption(owner, 'body', options.body);
  functionOption(owner, 'mapError', options.mapError);
  owners.set(options, owner);
}

/**
 * Validates a server middleware's options at construction: an object whose every key is in
 * `known` (a misspelt option is a `TypeError` naming the closest known one), the mapping options
 * ({@link checkMappingOptions}), `failureStatus` and `key` (functions), `maxPolicies` (an integer
 * >= 1) and `policy` (a staunch policy or a factory function). `null` is never taken as "default":
 * it is a `TypeError` like any other wrong type.
 */
export function checkMiddlewareOptions(owner: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${owner}: options must be an object, got ${showValue(options)}`);
  }
  checkOptions(owner, options, known);
  const o = options as StaunchMiddlewareOptions<unknown>;
  checkMappingOptions(owner, o);
  functionOption(owner, 'failureStatus', o.failureStatus);
  functionOption(owner, 'key', o.key);
  numberOption(owner, 'maxPolicies', o.maxPolicies, 100, { integer: true, min: 1 });
  const policy = o.policy;
  if (policy !== undefined && typeof policy !== 'function' && !isPolicy(policy)) {
    throw new TypeError(`${owner}: policy must be a staunch policy or a factory function, got ${showValue(policy)}`);
  }
}

/**
 * The options every server middleware takes (Express, Fastify, Koa, Hono): the policy that
 * protects a request (see {@link PolicySelection}), how staunch's errors become responses (see
 * {@link ErrorMappingOptions}) and which response statuses count as a failure. Each framework's
 * options extend these.
 *
 * @typeParam Req the framework's request (or context) object, as the `key` function receives it.
 */
export interface ServerOptions<Req> extends ErrorMappingOptions, PolicySelection<Req> {
  /**
   * Which response statuses count as a failure of the protected call (so a breaker in the policy
   * counts them). Default: any 5xx. One that throws is reported (`setErrorReporter`) and the
   * default decides.
   */
  readonly failureStatus?: FailureStatus;
}

/** The options as checked: every one optional (a framework may take its policy elsewhere). */
type StaunchMiddlewareOptions<Req> = Partial<ServerOptions<Req>>;

/** The body as bytes-ready text and its content type. Throws if the body cannot be serialised. */
export function serializeBody(body: unknown): { readonly text: string; readonly type: string } {
  if (typeof body === 'string') return { text: body, type: 'text/plain; charset=utf-8' };
  // JSON.stringify gives undefined for a function or a symbol: send null, like for undefined.
  const text: string | undefined = JSON.stringify(body ?? null);
  return { text: text ?? 'null', type: 'application/json; charset=utf-8' };
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
   * The most per-key policies kept at once (an integer >= 1). Default 100.
   *
   * To make room for a new key, the least recently used policy that is **at rest** is dropped:
   * no call in flight through it, and no state that dropping it would lose — every circuit
   * breaker in it closed (not open, half-open or forced) with no failure in its rolling window,
   * every bulkhead in it with nothing running or queued. A policy that is not at rest is never
   * dropped, so an open breaker keeps rejecting and a bulkhead's limit holds however many other
   * keys arrive. When all `maxPolicies` policies are in use, a request for a new key is not given
   * a policy: it is shed with a {@link PolicyLimitError} (503 with `Retry-After`, like a
   * bulkhead's load shed) without reaching the handler — memory stays bounded by `maxPolicies`.
   * Size it for the number of keys that can be busy or failing at the same time.
   */
  readonly maxPolicies?: number;
}

/**
 * A small least-recently-used map with a fixed capacity. Reads refresh an entry. Inserting beyond
 * the capacity drops the least recently used entry that `canEvict` allows (every entry, without
 * `canEvict`); when it allows none, nothing is dropped and nothing is inserted.
 */
export class LruCache<V> {
  private readonly _map = new Map<string, V>();
  private readonly _canEvict: ((value: V, key: string) => boolean) | undefined;
  /** The most entries kept. */
  readonly maxSize: number;

  /**
   * @param maxSize the most entries kept (an integer >= 1).
   * @param canEvict whether an entry may be dropped to make room; default: any entry may. An
   *   entry for which it throws is kept.
   */
  constructor(maxSize: number, canEvict?: (value: V, key: string) => boolean) {
    this.maxSize = numberOption('LruCache', 'maxSize', maxSize, 100, { integer: true, min: 1 });
    this._canEvict = functionOption('LruCache', 'canEvict', canEvict);
  }

  /** The number of entries. */
  get size(): number {
    return this._map.size;
  }

  /** The value of `key` (refreshing it), or `undefined`. */
  get(key: string): V | undefined {
    const map = this._map;
    const found = map.get(key);
    if (found === undefined && !map.has(key)) return undefined;
    // Re-insert: Map iteration order is insertion order, so the first entry is the least recent.
    map.delete(key);
    map.set(key, found as V);
    return found;
  }

  /**
   * The value of `key`, or the one `create` makes (and stores); `undefined` when the cache is full
   * and no entry may be dropped (then `create` is not called).
   */
  tryGetOrCreate(key: string, create: (key: string) => V): V | undefined {
    if (this._map.has(key)) return this.get(key) as V;
    if (this._map.size >= this.maxSize && !this._evictOne()) return undefined;
    const value = create(key);
    this._map.set(key, value);
    return value;
  }

  /**
   * The value of `key`, or the one `create` makes (and stores).
   * @throws RangeError when the cache is full and no entry may be dropped.
   */
  getOrCreate(key: string, create: (key: string) => V): V {
    if (this._map.has(key)) return this.get(key) as V;
    const value = this.tryGetOrCreate(key, create);
    if (value === undefined && !this._map.has(key)) {
      throw new RangeError(`LruCache: all ${this.maxSize} entries are in use; none may be dropped`);
    }
    return value as V;
  }

  /** Drops the least recently used entry that may be dropped; false when there is none. */
  private _evictOne(): boolean {
    const canEvict = this._canEvict;
    for (const [key, value] of this._map) {
      let evictable = true;
      if (canEvict !== undefined) {
        try {
          evictable = canEvict(value, key) === true;
        } catch {
          evictable = false;
        }
      }
      if (evictable) {
        this._map.delete(key);
        return true;
      }
    }
    return false;
  }
}

/**
 * A per-key policy as the selector hands it out: runs calls through the factory's policy and
 * counts those in flight, so the cache never drops a policy that is busy.
 */
class KeyedPolicy extends Policy<unknown> {
  /** @internal */
  readonly _chain: readonly Stage[];
  /** The factory's policy. */
  readonly policy: Policy<unknown>;
  /** Calls started through this policy and not yet settled. */
  inFlight = 0;
  private readonly _settled = (): void => {
    this.inFlight--;
  };

  constructor(policy: Policy<unknown>) {
    super();
    this.policy = policy;
    this._chain = policy._chain;
  }

  override execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<unknown> {
    this.inFlight++;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.policy.execute(fn, options));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(this._settled, this._settled);
    return result;
  }
}

/** Stands in for a policy when every per-key slot is in use: sheds the request. */
class PolicyLimitReached extends Policy<unknown> {
  /** @internal */
  readonly _chain: readonly Stage[] = [];
  private readonly _message: string;
  private readonly _max: number;

  constructor(owner: string, max: number) {
    super();
    this._max = max;
    this._message = `${owner}: all ${max} per-key policies (maxPolicies) are in use, by calls in flight or by state that must be kept; a request for a new key was shed`;
  }

  override execute(): Promise<never> {
    return Promise.reject(new PolicyLimitError(this._message, this._max));
  }
}

/**
 * Whether a policy is at rest: dropping it would lose nothing. Read through public members only:
 * a pipeline's `policies`, a breaker's `state` and `metrics()`, a bulkhead's `running` and
 * `queued`. Anything that cannot be read counts as not at rest.
 */
function atRest(policy: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  const p = policy as {
    readonly policies?: unknown;
    readonly state?: unknown;
    readonly metrics?: unknown;
    readonly running?: unknown;
    readonly queued?: unknown;
  };
  const members = p.policies;
  if (Array.isArray(members)) return members.every((member) => atRest(member, depth + 1));
  const state = p.state;
  if (state !== undefined) {
    if (state !== 'closed') return false;
    if (typeof p.metrics === 'function') {
      const metrics = (p.metrics as () => { readonly errors?: unknown }).call(policy);
      if (metrics.errors !== 0) return false;
    }
  }
  if (p.running !== undefined && p.running !== 0) return false;
  if (p.queued !== undefined && p.queued !== 0) return false;
  return true;
}

/**
 * Builds the request → policy function, validating the options. With a factory, each key's
 * policy is kept in an {@link LruCache} of `maxPolicies` that drops only policies at rest (see
 * {@link PolicySelection.maxPolicies}); when none can be dropped, a request for a new key gets a
 * policy that rejects with a {@link PolicyLimitError}.
 */
export function policySelector<Req>(owner: string, options: PolicySelection<Req>): (request: Req) => Policy<unknown> {
  const { policy, key } = options;
  if (typeof policy === 'function') {
    if (typeof key !== 'function') throw new TypeError(`${owner}: a policy factory needs a key function (key)`);
    const max = numberOption(owner, 'maxPolicies', options.maxPolicies, 100, { integer: true, min: 1 });
    const cache = new LruCache<KeyedPolicy>(max, (entry) => entry.inFlight === 0 && atRest(entry.policy));
    const shed = new PolicyLimitReached(owner, max);
    const make = (k: string): KeyedPolicy => {
      const made = policy(k);
      if (!isPolicy(made)) throw new TypeError(`${owner}: the policy factory did not return a staunch policy`);
      return new KeyedPolicy(made);
    };
    return (request) => cache.tryGetOrCreate(key(request), make) ?? shed;
  }
  if (!isPolicy(policy)) {
    throw new TypeError(`${owner}: policy must be a staunch policy or a factory function, got ${showValue(policy)}`);
  }
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
 * @internal The middleware's status classifier: the user's `failureStatus`, guarded. One that
 * throws is a bug of its own: it must not turn a sent response into a failure nor crash the
 * server, so its error goes to the error reporter and the default (any 5xx) decides.
 */
export function statusClassifier(owner: string, failureStatus: FailureStatus | undefined): FailureStatus {
  if (failureStatus === undefined) return serverErrorStatus;
  return (status) => {
    try {
      return Boolean(failureStatus(status));
    } catch (error) {
      reportError(error, `${owner} failureStatus`);
      return serverErrorStatus(status);
    }
  };
}

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
