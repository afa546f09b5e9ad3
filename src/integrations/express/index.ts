/**
 * `staunch/express` — Express middleware that runs the rest of a request's handling through a
 * staunch policy and maps staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import {
  checkMappingOptions,
  type ErrorMappingOptions,
  type FailureStatus,
  type PolicySelection,
  policySelector,
  ResponseStatusFailure,
  serverErrorStatus,
  toErrorResponse,
} from '../shared/http.js';
import { responseDone, sendNode, watchClient } from '../shared/node.js';

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

declare global {
  // Express's own extension point for `res.locals`.
  namespace Express {
    interface Locals {
      /**
       * Set by the staunch middleware: the call's signal, aborted when the client disconnects or
       * a `Timeout` in the policy expires.
       */
      signal?: AbortSignal;
    }
  }
}

/** Options of {@link staunch}. */
export interface StaunchExpressOptions extends ErrorMappingOptions, PolicySelection<Request> {
  /**
   * Which response statuses count as a failure of the protected call (so a breaker in the policy
   * counts them). Default: any 5xx.
   */
  readonly failureStatus?: FailureStatus;
}

/**
 * Express middleware: the rest of the request's handling (the handlers after it) runs through the
 * policy, from this middleware until the response has finished.
 *
 * - The call's signal is `res.locals.signal`: it aborts when the client disconnects or a
 *   `Timeout` in the policy expires; handlers should pass it to their own I/O.
 * - `BulkheadRejectedError` → 503 (or 429) with `Retry-After`; `CircuitOpenError` → 503 with
 *   `Retry-After` from the breaker; `TimeoutError` → 504 (when nothing has been sent yet). Other
 *   errors go to Express's error handling (`next(error)`).
 * - A response with a failure status (5xx) counts as a failure of the call.
 *
 * Do not put a retry in a server policy: the handlers run once per request.
 *
 * @example
 * app.get('/report', staunch({ policy: pipeline(bulkhead, new Timeout(2000)) }), handler);
 */
export function staunch(options: StaunchExpressOptions): RequestHandler {
  const owner = 'staunch/express';
  checkMappingOptions(owner, options);
  const select = policySelector(owner, options);
  const failureStatus = options.failureStatus ?? serverErrorStatus;

  return function staunchMiddleware(req: Request, res: Response, next: NextFunction): void {
    let policy: ReturnType<typeof select>;
    try {
      policy = select(req);
    } catch (error) {
      next(error);
      return;
    }
    const client = watchClient(res);
    let entered = false;
    policy
      .execute(
        async (ctx) => {
          entered = true;
          const signal = ctx.signal;
          res.locals.signal = signal;
          // Answer a timeout the moment it fires: this listener runs before the handler's own,
          // so a handler that reacts to the abort cannot answer first.
          const onAbort = (): void => {
            const mapped = res.headersSent ? undefined : toErrorResponse(signal.reason, options);
            if (mapped !== undefined) sendNode(res, mapped);
          };
          signal.addEventListener('abort', onAbort);
          try {
            next();
            const finished = await responseDone(res);
            if (finished && failureStatus(res.statusCode)) throw new ResponseStatusFailure(res.statusCode);
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
        },
        { signal: client.signal },
      )
      .then(
        () => client.dispose(),
        (error: unknown) => {
          client.dispose();
          // The response already told the client; a departed client needs no answer.
          if (error instanceof ResponseStatusFailure || client.signal.aborted) return;
          const mapped = res.headersSent ? undefined : toErrorResponse(error, options);
          if (mapped !== undefined) sendNode(res, mapped);
          else if (!entered || !res.headersSent) next(error);
        },
      );
  };
}

/**
 * Express error middleware, mounted after the routes: answers staunch errors thrown by handlers
 * themselves (e.g. a breaker used inside a handler) with the same mapping, and quietly drops the
 * errors of handlers that failed after staunch had already answered (a handler rejecting with the
 * abort reason of a timed-out call). Other errors go on to the next error handler.
 */
export function staunchErrorHandler(options: ErrorMappingOptions = {}): ErrorRequestHandler {
  checkMappingOptions('staunchErrorHandler', options);
  return function staunchErrors(error: unknown, _req: Request, res: Response, next: NextFunction): void {
    const signal = res.locals.signal as AbortSignal | undefined;
    if (res.headersSent && signal?.aborted === true) return;
    const mapped = res.headersSent ? undefined : toErrorResponse(error, options);
    if (mapped !== undefined) sendNode(res, mapped);
    else next(error);
  };
}
