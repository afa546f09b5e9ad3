/**
 * `staunch/express` — Express middleware that runs the rest of a request's handling through a
 * staunch policy and maps staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 * @module staunch/express
 */
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { reportError } from '../../core/report.js';
import { cutHalfSent } from '../shared/answer.js';
import {
  checkMiddlewareOptions,
  type ErrorMappingOptions,
  MAPPING_OPTIONS,
  type ServerOptions,
  toErrorResponse,
} from '../shared/http.js';
import { nodeExchange, responseDone, sendNode } from '../shared/node.js';
import { protect, protection } from '../shared/protect.js';

export * from '../shared/public.js';

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

/** Options of {@link staunch}: those of every server middleware ({@link ServerOptions}). */
export interface StaunchExpressOptions extends ServerOptions<Request> {}

/** A protected request's call, while it runs: how a handler's error reaches the policy. */
interface Call {
  readonly signal: AbortSignal;
  /** Set while the call runs: fails it with a handler's error (and the `next` to hand it on with). */
  fail: ((error: unknown, next: NextFunction) => void) | undefined;
}

/** The running call of each protected response (weakly held: gone with the response). */
const calls = new WeakMap<Response, Call>();

/**
 * A handler failed with `error`: while its call runs, the policy sees the failure (a breaker
 * counts it, a `Fallback` may answer for it); after staunch answered (a timeout's 504) or the
 * client left, an error that is the abort's reason is dropped and a half-sent response is cut;
 * anything else goes on to Express's error handling.
 */
function handlerFailed(error: unknown, res: Response, next: NextFunction): void {
  const call = calls.get(res);
  if (call?.fail !== undefined) {
    call.fail(error, next);
    return;
  }
  if (call?.signal.aborted === true && (res.headersSent || error === call.signal.reason)) {
    cutHalfSent(res);
    return;
  }
  next(error);
}

/**
 * Express middleware: the rest of the request's handling (the handlers after it) runs through the
 * policy, from this middleware until the response has finished.
 *
 * - The call's signal is `res.locals.signal`: it aborts when the client disconnects or a
 *   `Timeout` in the policy expires; handlers should pass it to their own I/O.
 * - `BulkheadRejectedError` → 503 (or 429) with `Retry-After`; `CircuitOpenError` → 503 with
 *   `Retry-After` from the breaker; `TimeoutError` → 504, sent the moment the deadline fires. Other
 *   errors go to Express's error handling (`next(error)`).
 * - A response that was half-sent when its call failed (the headers went out, a `Timeout` fired
 *   while the body was being written) is cut: the connection is destroyed, as Express itself does
 *   for an error after the headers, so the client sees it end instead of waiting for ever.
 * - A response with a failure status (5xx) counts as a failure of the call, and so does a handler's
 *   error when it reaches staunch: through {@link asyncHandler} or {@link staunchErrorHandler}.
 * - A `Fallback` in the policy answers for a request the handling did not answer — shed by a
 *   bulkhead, refused by an open breaker, or whose handler failed before sending anything: its
 *   value is the response (200, a string as `text/plain`, anything else as JSON; `undefined` →
 *   204; an {@link httpResponse} is sent as is). It never replaces a response the handler sent,
 *   nor a timeout's 504, which is final when the deadline fires (use `mapError` to answer a
 *   timeout differently).
 *
 * Do not put a retry in a server policy: the handlers run once per request.
 *
 * Express 4 does not catch the rejection of an `async` handler (the process exits on an unhandled
 * rejection, e.g. a handler giving up with its signal's reason on a timeout or client disconnect):
 * wrap async handlers in {@link asyncHandler}, which works on Express 4 and 5.
 *
 * @example
 * app.get('/report', staunch({ policy: pipeline(bulkhead, new Timeout(2000)) }), asyncHandler(handler));
 */
export function staunch(options: StaunchExpressOptions): RequestHandler {
  const owner = 'staunch/express';
  const protecting = protection(owner, options);

  return function staunchMiddleware(req: Request, res: Response, next: NextFunction): void {
    const node = nodeExchange(res);
    let call: Call | undefined;
    // The `next` of a handler whose error failed the call: where an unmapped error goes on.
    let handlerNext: NextFunction | undefined;
    protect(protecting, req, {
      ...node,
      // The call is over: a handler's late error no longer reaches its policy.
      settled: () => {
        node.settled();
        if (call !== undefined) call.fail = undefined;
      },
      status: () => res.statusCode,
      send: (answer) => sendNode(res, answer),
      async proceed(ctx) {
        const signal = ctx.signal;
        res.locals.signal = signal;
        const running: Call = { signal, fail: undefined };
        call = running;
        calls.set(res, running);
        const failed = new Promise<never>((_resolve, reject) => {
          running.fail = (error, nextOfHandler) => {
            running.fail = undefined;
            handlerNext = nextOfHandler;
            reject(error);
          };
        });
        try {
          next();
          return await Promise.race([responseDone(res), failed]);
        } finally {
          running.fail = undefined;
        }
      },
      // A half-sent response was cut: Express would only end it too.
      handOver: (error, why) => {
        if (why !== 'halfSent') (handlerNext ?? next)(error);
      },
    })
      // Nothing above should throw; if it does, it is reported, never an unhandled rejection.
      .then(undefined, (error: unknown) => {
        reportError(error, owner);
        cutHalfSent(res);
      });
  };
}

/**
 * Wraps an Express handler (typically `async`) so that its rejection is handled on Express 4 as on
 * Express 5 — Express 4 ignores a handler's promise, so a rejection there is unhandled and ends the
 * process. The handler's error goes, in order:
 * - to the running staunch call, if any: its policy sees the failure (a breaker counts it, a
 *   `Fallback` may answer for it), then the error is mapped or handed on;
 * - nowhere, when staunch has already answered (a timeout's 504) or the client left and the error
 *   is the signal's reason (a handler giving up on its abort), cutting a half-sent response;
 * - otherwise to `next(error)`.
 *
 * A synchronous throw is handled the same way. The wrapped handler returns nothing.
 *
 * @typeParam Req the request type (inferred from the route, e.g. its params).
 * @typeParam Res the response type.
 * @throws TypeError when `handler` is not a function.
 *
 * @example
 * app.get('/report', staunch({ policy }), asyncHandler(async (req, res) => {
 *   res.json(await buildReport({ signal: res.locals.signal }));
 * }));
 */
export function asyncHandler<Req extends Request = Request, Res extends Response = Response>(
  handler: (req: Req, res: Res, next: NextFunction) => unknown,
): (req: Req, res: Res, next: NextFunction) => void {
  if (typeof handler !== 'function') {
    throw new TypeError(`asyncHandler: handler must be a function, got ${handler === null ? 'null' : typeof handler}`);
  }
  return function staunchAsyncHandler(req: Req, res: Res, next: NextFunction): void {
    let result: unknown;
    try {
      result = handler(req, res, next);
    } catch (error) {
      handlerFailed(error, res, next);
      return;
    }
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
      Promise.resolve(result).then(undefined, (error: unknown) => handlerFailed(error, res, next));
    }
  };
}

/**
 * Express error middleware, mounted after the routes. For a request whose staunch call is still
 * running, a handler's error fails the call (its policy sees it, like {@link asyncHandler}). It
 * answers staunch errors thrown by handlers themselves (e.g. a breaker used inside a handler) with
 * the same mapping, and quietly drops the errors of handlers that failed after staunch had already
 * answered (a handler rejecting with the abort reason of a timed-out call), cutting a response the
 * handler had half-sent. Other errors go on to the next error handler.
 */
export function staunchErrorHandler(options: ErrorMappingOptions = {}): ErrorRequestHandler {
  checkMiddlewareOptions('staunchErrorHandler', options, MAPPING_OPTIONS);
  return function staunchErrors(error: unknown, _req: Request, res: Response, next: NextFunction): void {
    const call = calls.get(res);
    if (
      call?.fail !== undefined ||
      (call?.signal.aborted === true && (res.headersSent || error === call.signal.reason))
    ) {
      handlerFailed(error, res, next);
      return;
    }
    // Express's own handling ends a response whose headers went out.
    const mapped = res.headersSent ? undefined : toErrorResponse(error, options);
    if (mapped !== undefined) sendNode(res, mapped);
    else next(error);
  };
}
