/**
 * `staunch/fetch` — a `fetch` that runs every request through a staunch policy and a retry.
 * Web-standard APIs only (`fetch`, `Request`, `Response`, `Headers`), so it runs on Node, Deno,
 * Bun, browsers and edge runtimes.
 *
 * @packageDocumentation
 * @module staunch/fetch
 */

import { type AbortSubscription, onAbort, raceAbort } from '../../core/abort.js';
import { someInCauseChain } from '../../core/match.js';
import { checkOptions, functionOption, MAX_TIMER_DELAY, numberOption, showValue } from '../../core/validate.js';
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
  TimeoutError,
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
   * retried), or `false` for no retry. Whatever `failOn` you give, a redirect failure (a redirect
   * loop past the runtime's limit, or a redirect under `redirect: 'error'`) and a `Retry-After`
   * over `maxRetryAfter` are never retried. Default `{}`.
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
   * cancelled. In `'throw'` mode that body is read inside each failed attempt, within `policy`, so
   * a `Timeout` there (or the caller's abort) bounds the read: a slow failure body ends the
   * attempt with the `TimeoutError` (or the caller's reason) and closes the connection. In
   * `'return'` mode the returned `Response`'s body stays under the call's cancellation and the
   * remaining deadline, as a successful one does (see {@link createFetch}). Default `'return'`.
   */
  readonly onFailureStatus?: 'return' | 'throw';
  /**
   * The longest `Retry-After` honoured, in milliseconds; a response asking for a longer wait is
   * not retried. Only a valid header counts: delay-seconds (digits only) or an HTTP-date (see
   * {@link parseRetryAfter}); an invalid one (`"1.5"`, `"-1"`, garbage) is ignored and the
   * retry's backoff delay is used. Default 60000.
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
 * Parses a `Retry-After` header value (RFC 9110 §10.2.3): delay-seconds (digits only: `"120"`) or
 * an HTTP-date (IMF-fixdate `"Sun, 06 Nov 1994 08:49:37 GMT"`, or the obsolete RFC 850 and asctime
 * forms). Anything else — `"1.5"`, `"-1"`, `"1e3"`, `"soon"`, an impossible date — is invalid and
 * gives `undefined`, so the retry keeps its own backoff delay.
 * @param now the current time in epoch milliseconds (for HTTP-dates). Default `Date.now()`.
 * @returns the delay in milliseconds (0 for a date in the past), or `undefined` when absent or
 *   invalid.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = parseHttpDate(text, now);
  return date === undefined ? undefined : Math.max(0, date - now);
}

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTHS})-(\\d{2}) ${TIME} GMT$`,
);
/** `Sun Nov  6 08:49:37 1994` */
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** An HTTP-date in epoch milliseconds, or `undefined` when `text` is not a valid one. */
function parseHttpDate(text: string, now: number): number | undefined {
  // Each form as [day, month, year, hour, minute, second].
  let parts: string[] | undefined;
  let twoDigitYear = false;
  const imf = IMF_FIXDATE.exec(text);
  if (imf !== null) parts = imf.slice(1, 7);
  else {
    const rfc850 = RFC850_DATE.exec(text);
    if (rfc850 !== null) {
      parts = rfc850.slice(1, 7);
      twoDigitYear = true;
    } else {
      const asctime = ASCTIME_DATE.exec(text);
      if (asctime === null) return undefined;
      const [, month, day, hour, minute, second, year] = asctime as unknown as string[];
      parts = [day, month, year, hour, minute, second] as string[];
    }
  }
  const [day, month, yearText, hour, minute, second] = parts as [string, string, string, string, string, string];
  let year = Number(yearText);
  if (twoDigitYear) {
    // A two-digit year more than 50 years in the future is in the past century (RFC 9110).
    const current = new Date(now).getUTCFullYear();
    year += current - (current % 100);
    if (year > current + 50) year -= 100;
  }
  const monthIndex = MONTHS.split('|').indexOf(month);
  const dayOfMonth = Number(day);
  const [h, min, sec] = [Number(hour), Number(minute), Number(second)];
  if (h > 23 || min > 59 || sec > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, dayOfMonth);
  date.setUTCHours(h, min, Math.min(sec, 59));
  // Rejects impossible days (Feb 30) that the Date would roll over.
  if (dayOfMonth < 1 || date.getUTCDate() !== dayOfMonth || date.getUTCMonth() !== monthIndex) return undefined;
  return date.getTime();
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

/** Rejections of the underlying fetch caused by a redirect (see {@link isRedirectFailure}). */
const redirectFailures = new WeakSet<object>();

/**
 * Whether a rejection of the underlying fetch comes from a redirect — a loop past the runtime's
 * limit, or any redirect under `redirect: 'error'` — which the same request can only hit again.
 * Runtimes say so in a message of the error or of its `cause` (Node: `TypeError('fetch failed')`
 * caused by `'redirect count exceeded'` / `'unexpected redirect'`; Deno and Bun name the redirect
 * in the message), so the `cause` chain is searched (as code matchers search it) for "redirect". Never throws.
 */
function isRedirectFailure(error: unknown): boolean {
  return someInCauseChain(error, (link) => {
    const message = (link as { message?: unknown }).message;
    return typeof message === 'string' && /redirect/i.test(message);
  });
}

/** Whether `error` is a rejection of the underlying fetch caused by a redirect. */
function isRedirectError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && redirectFailures.has(error);
}

/** The deadline left to the attempt (`Infinity` when no `Timeout` encloses it), in milliseconds. */
function remainingOf(ctx: ExecutionContext): number {
  const remaining = (ctx as { remaining?: () => number }).remaining;
  if (typeof remaining !== 'function') return Number.POSITIVE_INFINITY;
  const ms = remaining.call(ctx);
  return typeof ms === 'number' && !Number.isNaN(ms) ? ms : Number.POSITIVE_INFINITY;
}

const now = (): number => globalThis.performance.now();

/**
 * The cancellation of one attempt's request, from its start until its body is read to the end (or
 * cancelled): the underlying fetch runs on {@link Exchange.controller}'s signal, which follows the
 * attempt's signal (a `Timeout` in `policy`, the caller's abort) and, once the response is handed
 * to the caller, the caller's signal and the deadline the attempt had left.
 */
class Exchange {
  readonly controller = new AbortController();
  private readonly _started = now();
  private _links: AbortSubscription[] = [];
  private _followed: AbortSignal | undefined = undefined;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _closed = false;
  /** Called once if the exchange is aborted while a wrapped body is being read. */
  onAborted: ((reason: unknown) => void) | undefined = undefined;

  /** Aborts with `signal`'s reason when it aborts, until the exchange is closed. */
  follow(signal: AbortSignal): void {
    if (this._closed || signal === this._followed) return;
    this._followed ??= signal;
    if (signal.aborted) this.abort(signal.reason);
    else this._links.push(onAbort(signal, () => this.abort(signal.reason)));
  }

  /** Aborts with a {@link TimeoutError} in `ms` milliseconds, unless closed first. */
  expireIn(ms: number): void {
    if (this._closed || ms === Number.POSITIVE_INFINITY) return;
    const expire = (): void => {
      this._timer = undefined;
      this.abort(new TimeoutError(Math.round(now() - this._started)));
    };
    if (ms <= 0) expire();
    else this._timer = globalThis.setTimeout(expire, Math.min(Math.ceil(ms), MAX_TIMER_DELAY));
  }

  /** Whether a deadline still runs: the body must then be tracked to clear it. */
  get timed(): boolean {
    return this._timer !== undefined;
  }

  abort(reason: unknown): void {
    if (this._closed) return;
    const hook = this.onAborted;
    this.close();
    this.controller.abort(reason);
    hook?.(reason);
  }

  /** Releases the links and the timer: nothing is held for this exchange any more. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.onAborted = undefined;
    for (const link of this._links) link.dispose();
    this._links = [];
    if (this._timer !== undefined) {
      globalThis.clearTimeout(this._timer);
      this._timer = undefined;
    }
  }
}

/** The exchange of each response an attempt produced, until it is handed over or dropped. */
const exchanges = new WeakMap<Response, Exchange>();

/** Drops a response nobody will read: its body cancelled, its exchange closed. */
function drop(response: Response | undefined): void {
  if (response === undefined) return;
  exchanges.get(response)?.close();
  discard(response);
}

/** Statuses whose responses have no body (and cannot be constructed with one). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * `response` with a body that closes `exchange` once read to the end, cancelled or failed, and
 * that fails with the abort reason as soon as the exchange is aborted (the deadline, the caller's
 * abort) — even when the underlying fetch ignores its signal. `url`, `redirected` and `type` are
 * kept. A response without a body closes the exchange at once.
 */
function tracked(response: Response, exchange: Exchange): Response {
  const body = response.body;
  if (body === null || body.locked || NULL_BODY_STATUS.has(response.status)) {
    exchange.close();
    return response;
  }
  const reader = body.getReader();
  let finished = false;
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  const fail = (reason: unknown): void => {
    if (finished) return;
    finished = true;
    stream.error(reason);
    reader.cancel(reason).catch(() => {});
  };
  const source: UnderlyingDefaultSource<Uint8Array> = {
    start(controller) {
      stream = controller;
    },
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        exchange.close();
        fail(error);
        return;
      }
      if (finished) return;
      if (chunk.done) {
        finished = true;
        exchange.close();
        controller.close();
      } else controller.enqueue(chunk.value);
    },
    cancel(reason) {
      finished = true;
      exchange.close();
      return reader.cancel(reason);
    },
  };
  let wrapped: Response;
  try {
    wrapped = new Response(new ReadableStream(source, { highWaterMark: 0 }), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  } catch {
    // A status a Response cannot be built with: hand the original over, untracked.
    reader.releaseLock();
    exchange.close();
    return response;
  }
  exchange.onAborted = fail;
  Object.defineProperties(wrapped, {
    url: { value: response.url },
    redirected: { value: response.redirected },
    type: { value: response.type },
  });
  return wrapped;
}

/**
 * Builds a `fetch`-compatible function that runs each request through `policy`, inside a retry.
 *
 * - A response with a failure status (5xx, 429) becomes an {@link HttpStatusError} inside the
 *   pipeline, so breakers count it and the retry retries it; network errors are failures too.
 * - The retry honours a valid `Retry-After` (delay-seconds or HTTP-date; see
 *   {@link parseRetryAfter}), up to `maxRetryAfter`. A redirect failure (a redirect loop, or a
 *   redirect under `redirect: 'error'`) is never retried.
 * - Only idempotent methods are retried by default.
 * - **Cancellation covers the whole exchange.** The caller's `init.signal` (or the `Request`'s
 *   signal) cancels the call at once, and each attempt's fetch runs on a signal that follows the
 *   attempt's, so a `Timeout` in `policy` or the caller's abort cancels the request in flight:
 *   - a failure body the wrapper reads (`onFailureStatus: 'throw'`) is read inside the attempt, so
 *     the `Timeout` and the caller's abort cover that read too;
 *   - the body of the `Response` handed to you stays under the same cancellation until it is read
 *     to the end or cancelled: the caller's signal aborts its read at any time, and the deadline
 *     the attempt runs under — the `Timeout`s in `policy`, and an outer `Timeout` whose
 *     `ctx.signal` you pass as `init.signal` — goes on running after the headers: whatever was
 *     left of it when the headers arrived (measured from then on the global timers), the rest of
 *     the body must be read within it, or its read rejects with a {@link TimeoutError} and the
 *     connection is closed. A body never read is released at that deadline. Once the body is
 *     read, cancelled or failed, nothing is held.
 * - **An outer deadline bounds the retry.** Given a `Timeout`'s `ctx.signal` as `init.signal`, the
 *   retry knows the time left: a wait (`Retry-After` or backoff) that would not end before that
 *   deadline is not made, and the call fails at once with its last failure (an outer `Fallback`
 *   can answer) instead of sleeping into a `TimeoutError`.
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
    let settled = false;

    const attempt = async (ctx: ExecutionContext): Promise<Response> => {
      // A new attempt: the previous failed response will never be read.
      drop(last);
      last = undefined;
      const exchange = new Exchange();
      exchange.follow(ctx.signal);
      let response: Response;
      try {
        // Clone so the original's body stays readable for a further attempt.
        response = await fetchImpl(retried ? request.clone() : request, { signal: exchange.controller.signal });
      } catch (error) {
        exchange.close();
        if (typeof error === 'object' && error !== null && isRedirectFailure(error)) redirectFailures.add(error);
        throw error;
      }
      if (settled) {
        // A late response (the call already timed out or was cancelled): nobody will read it.
        exchange.close();
        discard(response);
        return response;
      }
      if (failureStatus(response.status)) {
        if (mode === 'throw') {
          // Read (or cancel) the body here, inside the policy, so that a Timeout and the caller's
          // abort cover the read: a slow failure body cannot hold the call or the socket.
          const signal = exchange.controller.signal;
          response = await released(response, signal);
          exchange.close();
          // Cancelled during the read: the call fails for that reason, not for the status.
          if (signal.aborted) throw signal.reason;
        } else {
          exchanges.set(response, exchange);
          exchange.expireIn(remainingOf(ctx));
        }
        last = response;
        throw new HttpStatusError(response);
      }
      exchanges.set(response, exchange);
      exchange.expireIn(remainingOf(ctx));
      return response;
    };

    /** The response goes to the caller: its body stays under the call's cancellation. */
    const handOver = (response: Response): Response => {
      const exchange = exchanges.get(response);
      if (exchange === undefined) return response; // not an attempt's (e.g. a Fallback's value)
      exchanges.delete(response);
      exchange.follow(request.signal);
      return exchange.timed ? tracked(response, exchange) : response;
    };

    try {
      const chain = retried ? withRetry : policy;
      const response =
        chain === undefined
          ? await attempt({ signal: request.signal, attempt: 1 })
          : // The caller's own signal (the Request's follows it) so that a deadline it carries (a
            // Timeout's `ctx.signal`) bounds the retry's waits.
            ((await chain.execute(attempt, { signal: init?.signal ?? request.signal })) as Response);
      // A failed response that is not the result (a Fallback in `policy` answered instead).
      if (last !== undefined && last !== response) drop(last);
      return handOver(response);
    } catch (error) {
      if (error instanceof HttpStatusError && error.response === last) {
        // In 'throw' mode the body was already buffered or cancelled inside the attempt.
        if (mode === 'return') return handOver(error.response);
        throw error;
      }
      drop(last);
      throw error;
    } finally {
      settled = true;
    }
  };
}

/** Largest failure body kept readable on a thrown {@link HttpStatusError}, in bytes. */
const MAX_BUFFERED_BODY = 64 * 1024;

/**
 * A copy of `response` that holds no connection: its body buffered when small (by
 * `Content-Length`), else cancelled; an abort of `signal` during the read leaves it empty.
 */
async function released(response: Response, signal: AbortSignal): Promise<Response> {
  const init = { status: response.status, statusText: response.statusText, headers: response.headers };
  if (response.body === null) return response;
  if (signal.aborted) {
    await response.body.cancel().catch(() => {});
    return new Response(null, init);
  }
  const length = Number(response.headers.get('content-length'));
  if (Number.isFinite(length) && length <= MAX_BUFFERED_BODY) {
    try {
      return new Response(await raceAbort(() => response.arrayBuffer(), signal), init);
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
    // A redirect loop (or a redirect refused by `redirect: 'error'`) only repeats.
    failOn: [...(options.failOn === undefined ? [CircuitOpenError] : failOn), tooLong, isRedirectError],
    retryAfter:
      options.retryAfter ??
      ((outcome: RetryOutcome) => {
        const after = outcome.kind === 'error' ? retryAfterOf(outcome.error) : undefined;
        // A huge delay-seconds value (maxRetryAfter: Infinity) waits as long as a timer can.
        return after === undefined ? undefined : Math.min(after, MAX_TIMER_DELAY);
      }),
  });
}
