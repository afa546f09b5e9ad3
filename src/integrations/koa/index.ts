/**
 * `staunch/koa` — Koa middleware that runs the downstream middleware through a staunch policy and
 * maps staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 * @module staunch/koa
 */
import type { Context, Middleware, Next } from 'koa';
import type { HalfSentLike } from '../shared/answer.js';
import { type ErrorResponse, type ServerOptions, serializeBody } from '../shared/http.js';
import { type NodeResponseLike, nodeExchange, sendNode } from '../shared/node.js';
import { protect, protection } from '../shared/protect.js';

export * from '../shared/public.js';

declare module 'koa' {
  interface DefaultState {
    /**
     * Set by the staunch middleware: the call's signal, aborted when the client disconnects or a
     * `Timeout` in the policy expires.
     */
    signal?: AbortSignal;
  }
}

/** Options of {@link staunch}: those of every server middleware ({@link ServerOptions}). */
export interface StaunchKoaOptions extends ServerOptions<Context> {}

/**
 * Koa middleware: `await next()` (the rest of the stack) runs through the policy.
 *
 * - The call's signal is `ctx.state.signal`: it aborts when the client disconnects or a `Timeout`
 *   in the policy expires.
 * - `BulkheadRejectedError` → 503 (or 429) with `Retry-After`; `CircuitOpenError` → 503 with
 *   `Retry-After` from the breaker; `TimeoutError` → 504 — also when thrown by a downstream
 *   handler. Other errors propagate to Koa's error handling.
 * - A response with a failure status (5xx) counts as a failure of the call.
 * - When a timeout expires the 504 is written at once and Koa's own response is switched off
 *   (`ctx.respond = false`), so a late handler cannot overwrite it. A response a handler had
 *   already started writing itself (`ctx.res`) is cut instead (the connection is destroyed), never
 *   left open. The call covers the downstream middleware until it returns: a body Koa streams
 *   after that (`ctx.body = stream`) is not under the policy's deadline.
 * - A `Fallback` in the policy answers for a request the downstream middleware did not answer —
 *   shed by a bulkhead, refused by an open breaker, or whose handler threw: its value is the
 *   response (200, a string as `text/plain`, anything else as JSON; `undefined` → 204; an
 *   {@link httpResponse} is sent as is). It never replaces a response the handler produced, nor a
 *   timeout's 504, which is final when the deadline fires (use `mapError` to answer a timeout
 *   differently).
 *
 * @example
 * router.get('/report', staunch({ policy: pipeline(bulkhead, new Timeout(2000)) }), handler);
 */
export function staunch(options: StaunchKoaOptions): Middleware {
  const protecting = protection('staunch/koa', options);

  return async function staunchMiddleware(ctx: Context, next: Next): Promise<void> {
    const res = ctx.res as unknown as NodeResponseLike & HalfSentLike;
    await protect(protecting, ctx, {
      ...nodeExchange(res),
      status: () => ctx.status,
      send: (answer, moment) => {
        if (moment !== 'abort') {
          respond(ctx, answer);
          return;
        }
        // Final: Koa's own response is switched off, so a late handler cannot overwrite it.
        ctx.respond = false;
        sendNode(res, answer);
      },
      async proceed(call) {
        ctx.state.signal = call.signal;
        await next();
        return true;
      },
      // Koa leaves a response whose headers went out open on an error: it was cut, and the error
      // still goes on to Koa's error handling.
      handOver: (error) => {
        throw error;
      },
    });
  };
}

/** Sets the response through Koa (so its own response logic sends it). */
function respond(ctx: Context, answer: ErrorResponse): void {
  const { text, type } = serializeBody(answer.body);
  ctx.status = answer.status;
  ctx.set(answer.headers as Record<string, string>);
  ctx.type = type;
  ctx.body = text;
}
