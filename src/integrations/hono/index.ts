/**
 * `staunch/hono` — Hono middleware that runs the downstream handlers through a staunch policy and
 * maps staunch's errors to HTTP (503 + `Retry-After`, 504). Web-standard only: it runs wherever
 * Hono runs.
 *
 * @packageDocumentation
 * @module staunch/hono
 */
import type { Context, MiddlewareHandler } from 'hono';
import { isBodiless } from '../shared/answer.js';
import { type ErrorResponse, type ServerOptions, serializeBody } from '../shared/http.js';
import { protect, protection } from '../shared/protect.js';

export * from '../shared/public.js';

/** The context variables this middleware sets: `c.get('signal')`. */
export interface StaunchVariables {
  /** The call's signal: aborted when the client disconnects or a `Timeout` in the policy expires. */
  signal: AbortSignal;
}

/** Options of {@link staunch}: those of every server middleware ({@link ServerOptions}). */
export interface StaunchHonoOptions extends ServerOptions<Context> {}

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
  const protecting = protection('staunch/hono', options);

  return async function staunchMiddleware(c, next): Promise<void> {
    const context = c as unknown as Context;
    await protect(protecting, context, {
      // The runtime aborts the request's own signal when the client disconnects.
      clientSignal: () => c.req.raw.signal,
      // The call covers the handlers until they return their Response: never half-sent.
      started: () => false,
      status: () => c.res.status,
      cut: () => false,
      send: (answer, moment) => {
        if (moment === 'abort') {
          seal(context, toResponse(answer));
          return;
        }
        // A fallback's answer replaces a handler's error that Hono caught.
        if (moment === 'fallback') c.error = undefined;
        c.res = undefined;
        c.res = toResponse(answer);
      },
      async proceed(call) {
        c.set('signal', call.signal);
        await next();
        // Hono catches handler errors itself (into c.error, answered by onError): count them.
        if (c.error !== undefined) throw c.error;
        return true;
      },
      handOver: (error, why) => {
        // An error a handler threw was already answered by app.onError.
        if (why === 'unselected' || error !== c.error) throw error;
      },
    });
  };
}
