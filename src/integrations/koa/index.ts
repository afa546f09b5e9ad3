/**
 * `staunch/koa` — Koa middleware that runs the downstream middleware through a staunch policy and
 * maps staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 * @module staunch/koa
 */
import type { Context, Middleware, Next } from 'koa';
import { cutHalfSent, fallbackAnswer, type HalfSentLike } from '../shared/answer.js';
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
import { type NodeResponseLike, sendNode, watchClient } from '../shared/node.js';

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

declare module 'koa' {
  interface DefaultState {
    /**
     * Set by the staunch middleware: the call's signal, aborted when the client disconnects or a
     * `Timeout` in the policy expires.
     */
    signal?: AbortSignal;
  }
}

/** Options of {@link staunch}. */
export interface StaunchKoaOptions extends ErrorMappingOptions, PolicySelection<Context> {
  /** Which response statuses count as a failure of the protected call. Default: any 5xx. */
  readonly failureStatus?: FailureStatus;
}

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
  const owner = 'staunch/koa';
  checkMiddlewareOptions(owner, options, MIDDLEWARE_OPTIONS);
  const select = policySelector(owner, options);
  const failureStatus = statusClassifier(owner, options.failureStatus);

  return async function staunchMiddleware(ctx: Context, next: Next): Promise<void> {
    const policy = select(ctx);
    const res = ctx.res as unknown as NodeResponseLike & HalfSentLike;
    const client = watchClient(res);
    let answered = false;
    // Whether the downstream middleware returned (its response stands; a fallback may not replace it).
    let ran = false;
    try {
      const value = await policy.execute(
        async (call) => {
          const signal = call.signal;
          ctx.state.signal = signal;
          const onAbort = (): void => {
            if (ctx.headerSent) {
              // A handler writing `ctx.res` itself had started: cut it, never leave it open.
              answered = cutHalfSent(res) || answered;
              return;
            }
            const mapped = toErrorResponse(signal.reason, options);
            if (mapped === undefined) return;
            answered = true;
            ctx.respond = false;
            sendNode(res, mapped);
          };
          signal.addEventListener('abort', onAbort);
          try {
            await next();
            ran = true;
            if (failureStatus(ctx.status)) throw new ResponseStatusFailure(ctx.status);
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
        },
        { signal: client.signal },
      );
      // A value the downstream middleware did not produce: a Fallback answered for it.
      if (!ran && !answered && !client.signal.aborted && !ctx.headerSent) respond(ctx, fallbackAnswer(value));
    } catch (error) {
      if (error instanceof ResponseStatusFailure || answered || client.signal.aborted) return;
      if (ctx.headerSent) {
        // Koa leaves a response whose headers went out open on an error: end it.
        cutHalfSent(res);
        throw error;
      }
      const mapped = toErrorResponse(error, options);
      if (mapped === undefined) throw error;
      respond(ctx, mapped);
    } finally {
      client.dispose();
    }
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
