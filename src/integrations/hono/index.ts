/**
 * `staunch/hono` — Hono middleware that runs the downstream handlers through a staunch policy and
 * maps staunch's errors to HTTP (503 + `Retry-After`, 504). Web-standard only: it runs wherever
 * Hono runs.
 *
 * @packageDocumentation
 * @module staunch/hono
 */
import type { Context, MiddlewareHandler } from 'hono';
import { fallbackAnswer, isBodiless } from '../shared/answer.js';
import {
  checkMiddlewareOptions,
  type ErrorMappingOptions,
  type ErrorResponse,
  type FailureStatus,
  MIDDLEWARE_OPTIONS,
  type PolicySelection,
  policySelector,
  ResponseStatusFailure,
  serializeBody,
  statusClassifier,
  toErrorResponse,
} from '../shared/http.js';

export { httpResponse } from '../shared/answer.js';
export {
  defaultBody,
  type ErrorMappingOptions,
  type ErrorResponse,
  type FailureStatus,
  LruCache,
  type PolicyFactory,
  PolicyLimitError,
  type PolicySelection,
  toErrorResponse,
} from '../shared/http.js';

/** The context variables this middleware sets: `c.get('signal')`. */
export interface StaunchVariables {
  /** The call's signal: aborted when the client disconnects or a `Timeout` in the policy expires. */
  signal: AbortSignal;
}

/** Options of {@link staunch}. */
export interface StaunchHonoOptions extends ErrorMappingOptions, PolicySelection<Context> {
  /** Which response statuses count as a failure of the protected call. Default: any 5xx. */
  readonly failureStatus?: FailureStatus;
}

/** A web `Response` for a mapped error (or a fallback's answer). A 204, 205 or 304 has no body. */
export function toResponse(mapped: ErrorResponse): Response {
  if (isBodiless(mapped.status)) return new Response(null, { status: mapped.status, headers: { ...mapped.headers } });
  const { text, type } = serializeBody(mapped.body);
  return new Response(text, { status: mapped.status, headers: { 'content-type': type, ...mapped.headers } });
}

/** Replaces the context's response for good: a late handler's writes are ignored. */
function seal(c: Context, response: Response): void {
  c.res = undefined;
  c.res = response;
  Object.defineProperty(c, 'res', {
    configurable: true,
    enumerable: true,
    get: () => response,
    set: () => {},
  });
}

/**
 * Hono middleware: `await next()` (the rest of the chain) runs through the policy.
 *
 * - The call's signal is `c.get('signal')` (type the app with `{ Variables: StaunchVariables }`);
 *   it follows the request's own signal (`c.req.raw.signal`, aborted by the runtime on client
 *   disconnect) and a `Timeout` in the policy.
 * - `BulkheadRejectedError` → 503 (or 429) with `Retry-After`; `CircuitOpenError` → 503 with
 *   `Retry-After` from the breaker; `TimeoutError` → 504 — also when a handler throws them. Other
 *   errors are left to Hono's error handling (`app.onError`).
 * - A response with a failure status (5xx), or an error a handler threw, counts as a failure.
 * - A timeout's 504 is final: a handler answering late cannot replace it. The call covers the
 *   handlers until they return their `Response`: a streamed body is sent after the call and is
 *   not under the policy's deadline (so no response is ever half-sent when it fires).
 * - A `Fallback` in the policy answers for a request the handlers did not answer — shed by a
 *   bulkhead, refused by an open breaker, or whose handler threw: its value is the response (200,
 *   a string as `text/plain`, anything else as JSON; `undefined` → 204; an {@link httpResponse} is
 *   sent as is). It never replaces a response a handler returned, nor a timeout's 504, which is
 *   final when the deadline fires (use `mapError` to answer a timeout differently).
 *
 * @example
 * app.get('/report', staunch({ policy: pipeline(bulkhead, new Timeout(2000)) }), handler);
 */
export function staunch(options: StaunchHonoOptions): MiddlewareHandler<{ Variables: StaunchVariables }> {
  const owner = 'staunch/hono';
  checkMiddlewareOptions(owner, options, MIDDLEWARE_OPTIONS);
  const select = policySelector(owner, options);
  const failureStatus = statusClassifier(owner, options.failureStatus);

  return async function staunchMiddleware(c, next): Promise<void> {
    const policy = select(c as unknown as Context);
    const requestSignal = c.req.raw.signal;
    let answered = false;
    // Whether the handlers returned a response of their own (a fallback may not replace it).
    let ran = false;
    try {
      const value = await policy.execute(
        async (call) => {
          const signal = call.signal;
          c.set('signal', signal);
          const onAbort = (): void => {
            const mapped = toErrorResponse(signal.reason, options);
            if (mapped === undefined) return;
            answered = true;
            seal(c as unknown as Context, toResponse(mapped));
          };
          signal.addEventListener('abort', onAbort);
          try {
            await next();
            // Hono catches handler errors itself (into c.error, answered by onError): count them.
            if (c.error !== undefined) throw c.error;
            ran = true;
            if (failureStatus(c.res.status)) throw new ResponseStatusFailure(c.res.status);
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
        },
        { signal: requestSignal },
      );
      // A value the handlers did not produce: a Fallback answered for the request.
      if (!ran && !answered && !requestSignal.aborted) {
        c.error = undefined;
        c.res = undefined;
        c.res = toResponse(fallbackAnswer(value));
      }
    } catch (error) {
      if (error instanceof ResponseStatusFailure || answered || requestSignal.aborted) return;
      const mapped = toErrorResponse(error, options);
      if (mapped !== undefined) {
        c.res = undefined;
        c.res = toResponse(mapped);
        return;
      }
      // Already answered by app.onError.
      if (error === c.error) return;
      throw error;
    }
  };
}
