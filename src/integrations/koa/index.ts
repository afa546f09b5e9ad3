/**
 * `staunch/koa` — Koa middleware that runs the downstream middleware through a staunch policy and
 * maps staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 */
import type { Context, Middleware, Next } from 'koa';
import {
  checkMappingOptions,
  type ErrorMappingOptions,
  type FailureStatus,
  type PolicySelection,
  policySelector,
  ResponseStatusFailure,
  serializeBody,
  serverErrorStatus,
  toErrorResponse,
} from '../shared/http.js';
import { type NodeResponseLike, sendNode, watchClient } from '../shared/node.js';

export {
  defaultBody,
  type ErrorMappingOptions,
  type ErrorResponse,
  type FailureStatus,
  LruCache,
  type PolicyFactory,
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
 *   (`ctx.respond = false`), so a late handler cannot overwrite it.
 *
 * @example
 * router.get('/report', staunch({ policy: pipeline(bulkhead, new Timeout(2000)) }), handler);
 */
export function staunch(options: StaunchKoaOptions): Middleware {
  const owner = 'staunch/koa';
  checkMappingOptions(owner, options);
  const select = policySelector(owner, options);
  const failureStatus = options.failureStatus ?? serverErrorStatus;

  return async function staunchMiddleware(ctx: Context, next: Next): Promise<void> {
    const policy = select(ctx);
    const res = ctx.res as unknown as NodeResponseLike;
    const client = watchClient(res);
    let answered = false;
    try {
      await policy.execute(
        async (call) => {
          const signal = call.signal;
          ctx.state.signal = signal;
          const onAbort = (): void => {
            const mapped = ctx.headerSent ? undefined : toErrorResponse(signal.reason, options);
            if (mapped === undefined) return;
            answered = true;
            ctx.respond = false;
            sendNode(res, mapped);
          };
          signal.addEventListener('abort', onAbort);
          try {
            await next();
            if (failureStatus(ctx.status)) throw new ResponseStatusFailure(ctx.status);
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
        },
        { signal: client.signal },
      );
    } catch (error) {
      if (error instanceof ResponseStatusFailure || answered || client.signal.aborted) return;
      const mapped = ctx.headerSent ? undefined : toErrorResponse(error, options);
      if (mapped === undefined) throw error;
      const { text, type } = serializeBody(mapped.body);
      ctx.status = mapped.status;
      ctx.set(mapped.headers as Record<string, string>);
      ctx.type = type;
      ctx.body = text;
    } finally {
      client.dispose();
    }
  };
}
