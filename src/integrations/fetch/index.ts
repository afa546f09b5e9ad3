/**
 * `staunch/fetch` — a `fetch` that runs every request through a staunch policy and a retry.
 * Web-standard APIs only (`fetch`, `Request`, `Response`, `Headers`), so it runs on Node, Deno,
 * Bun, browsers and edge runtimes.
 *
 * @packageDocumentation
 */

import { checkOptions, functionOption, numberOption, showValue } from '../../core/validate.js';
import {
  CircuitOpenError,
  type ExecutionContext,
  type Policy,
  pipeline,
  type RetryOptions,
  type RetryOutcome,
  RetryPolicy,
  StaunchError,
  type StaunchErrorCode,
} from '../../index.js';

/** The fetch function signature this module takes and returns. */
export type FetchFunction = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * Thrown inside the pipeline for a response whose status counts as a failure (by default 5xx and
 * 429), so that a circuit breaker counts it and a retry retries it. Carries the `Response`.
 */
export class HttpStatusError extends StaunchError {
  static override readonly code: StaunchErrorCode = 'STAUNCH_HTTP_STATUS';
  /** The failed response; its body is unread (unless it was discarded for a retry). */
  readonly response: Response;
  /** The response's status code. */
  readonly status: number;
  constructor(response: Response) {
    super(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} from ${response.url}`);
    this.response = response;
    this.status = response.status;
  }
}

/** Options of {@link createFetch}. Every one is optional. */
export interface CreateFetchOptions {
  /**
   * The policy (or pipeline) each attempt runs through, inside the retry: e.g.
   * `pipeline(breaker, new Timeout(2000))`. A breaker in it sees failure statuses as failures.
   */
  readonly policy?: Policy<unknown>;
  /**
   * The retry around the attempts: {@link RetryOptions} (defaults: 3 retries, exponential backoff
   * from 100 ms; `retryAfter` reads the response's `Retry-After`; a {@link CircuitOpenError} is not
   * retried), or `false` for no retry. Default `{}`.
   */
  readonly retry?: RetryOptions | false;
  /**
   * The HTTP methods that are retried. Default the idempotent ones: GET, HEAD, OPTIONS, PUT,
   * DELETE, TRACE. Other methods still run through `policy`, once.
   */
  readonly retryMethods?: readonly string[];
  /** Which statuses count as failures. Default: 5xx and 429. */
  readonly failureStatus?: (status: number) => boolean;
  /**
   * When the retries are exhausted on a failure status: `'return'` resolves with the last
   * `Response` (like plain `fetch`, check `response.ok`); `'throw'` rejects with the
   * {@link HttpStatusError}, whose `response` no longer holds the connection: a body of up to
   * 64 KiB (by `Content-Length`) is buffered and stays readable, a larger or unsized one is
   * cancelled. Default `'return'`.
   */
  readonly onFailureStatus?: 'return' | 'throw';
  /**
   * The longest `Retry-After` honoured, in milliseconds; a response asking for a longer wait is
   * not retried. Default 60000.
   */
  readonly maxRetryAfter?: number;
  /** The underlying fetch. Default the global `fetch` (looked up at call time). */
  readonly fetch?: FetchFunction;
}

const DEFAULT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'];
const KNOWN = new Set([
  'policy',
  'retry',
  'retryMethods',
  'failureStatus',
  'onFailureStatus',
  'maxRetryAfter',
  'fetch',
]);
const OWNER = 'createFetch';

/** The default failure statuses: 5xx and 429. */
export function isFailureStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

/**
 * Parses a `Retry-After` header value: delay-seconds or an HTTP-date.
 * @param now the current time in epoch milliseconds (for HTTP-dates). Default `Date.now()`.
 * @returns the delay in milliseconds (0 for a date in the past), or `undefined` when absent or
 *   unparseable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Cancels a body nobody will read, so its connection is released. Never throws. */
function discard(response: Response | undefined): void {
  const body = response?.body;
  if (body === null || body === undefined || body.locked) return;
  body.cancel().catch(() => {});
}

function retryAfterOf(error: unknown): number | undefined {
  return error instanceof HttpStatusError ? parseRetryAfter(error.response.headers.get('retry-after')) : undefined;
}

/**
 * Builds a `fetch`-compatible function that runs each request through `policy`, inside a retry.
 *
 * - A response with a failure status (5xx, 429) becomes an {@link HttpStatusError} inside the
 *   pipeline, so breakers count it and the retry retries it; network errors are failures too.
 * - The retry honours `Retry-After` (seconds or HTTP-date), up to `maxRetryAfter`.
 * - Only idempotent methods are retried by default.
 * - The caller's `init.signal` (or the `Request`'s signal) cancels the call at once, and each
 *   attempt's fetch gets the execution signal, so a timeout or a caller's abort cancels it.
 * - Bodies of discarded responses are cancelled, so sockets are not held.
 * - When retries run out on a failure status, the last `Response` is returned (or the error
 *   thrown: `onFailureStatus: 'throw'`).
 */
export function createFetch(options: CreateFetchOptions = {}): FetchFunction {
  checkOptions(OWNER, options, [...KNOWN]);
  const policy = options.policy;
  if (policy !== undefined && (typeof policy !== 'object' || policy === null || typeof policy.execute !== 'function')) {
    throw new TypeError(`${OWNER}: policy must be a staunch policy`);
  }
  const failureStatus =
    functionOption<(status: number) => boolean>(OWNER, 'failureStatus', options.failureStatus) ?? isFailureStatus;
  const mode = options.onFailureStatus ?? 'return';
  if (mode !== 'return' && mode !== 'throw') {
    throw new TypeError(`${OWNER}: onFailureStatus must be 'return' or 'throw', got ${String(mode)}`);
  }
  const maxRetryAfter = numberOption(OWNER, 'maxRetryAfter', options.maxRetryAfter, 60_000, {
    min: 0,
    allowInfinity: true,
  });
  const retryMethods: unknown = options.retryMethods ?? DEFAULT_METHODS;
  if (!Array.isArray(retryMethods) || !retryMethods.every((m) => typeof m === 'string')) {
    throw new TypeError(`${OWNER}: retryMethods must be an array of HTTP method names, got ${showValue(retryMethods)}`);
  }
  const methods = new Set((retryMethods as string[]).map((m) => m.toUpperCase()));
  const baseFetch = functionOption<FetchFunction>(OWNER, 'fetch', options.fetch);
  const retry = options.retry === false ? undefined : buildRetry(options.retry ?? {}, maxRetryAfter);
  // One flat chain: the attempt number and the signals flow from the retry into the policy.
  const withRetry: Policy<unknown> | undefined =
    retry === undefined ? undefined : policy === undefined ? retry : pipeline(retry, policy);

  return async function resilientFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const fetchImpl: FetchFunction = baseFetch ?? globalThis.fetch;
    const retried = retry !== undefined && methods.has(request.method.toUpperCase());
    let last: Response | undefined;

    const attempt = async (ctx: ExecutionContext): Promise<Response> => {
      // A new attempt: the previous failed response will never be read.
      discard(last);
      last = undefined;
      // Clone so the original's body stays readable for a further attempt.
      const response = await fetchImpl(retried ? request.clone() : request, { signal: ctx.signal });
      if (failureStatus(response.status)) {
        last = response;
        throw new HttpStatusError(response);
      }
      return response;
    };
    try {
      const chain = retried ? withRetry : policy;
      if (chain === undefined) return await attempt({ signal: request.signal, attempt: 1 });
      return (await chain.execute(attempt, { signal: request.signal })) as Response;
    } catch (error) {
      if (error instanceof HttpStatusError && error.response === last) {
        if (mode === 'return') return error.response;
        // A caller that catches the error and moves on must not leave the socket busy: buffer a
        // small body (it stays readable on error.response), cancel a large one.
        (error as { response: Response }).response = await released(error.response);
        throw error;
      }
      discard(last);
      throw error;
    }
  };
}

/** Largest failure body kept readable on a thrown {@link HttpStatusError}, in bytes. */
const MAX_BUFFERED_BODY = 64 * 1024;

/** A copy of `response` that holds no connection: its body buffered when small, else dropped. */
async function released(response: Response): Promise<Response> {
  const init = { status: response.status, statusText: response.statusText, headers: response.headers };
  if (response.body === null) return response;
  const length = Number(response.headers.get('content-length'));
  if (Number.isFinite(length) && length <= MAX_BUFFERED_BODY) {
    try {
      return new Response(await response.arrayBuffer(), init);
    } catch {
      return new Response(null, init);
    }
  }
  await response.body.cancel().catch(() => {});
  return new Response(null, init);
}

function buildRetry(options: RetryOptions, maxRetryAfter: number): RetryPolicy {
  const tooLong = (error: unknown): boolean => {
    const after = retryAfterOf(error);
    return after !== undefined && after > maxRetryAfter;
  };
  const failOn = options.failOn === undefined ? [] : Array.isArray(options.failOn) ? options.failOn : [options.failOn];
  return new RetryPolicy({
    ...options,
    // Retrying into an open breaker only waits for the same rejection.
    failOn: [...(options.failOn === undefined ? [CircuitOpenError] : failOn), tooLong],
    retryAfter:
      options.retryAfter ??
      ((outcome: RetryOutcome) => (outcome.kind === 'error' ? retryAfterOf(outcome.error) : undefined)),
  });
}
