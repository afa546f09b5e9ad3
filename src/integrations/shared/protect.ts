/**
 * The one seam of the server integrations: {@link protect} runs the whole inbound request flow,
 * and each framework (Express, Fastify, Koa, Hono) is a thin adapter that presents one request as
 * an {@link Exchange} — a few functions saying how to read and write that framework's response.
 *
 * ## What an adapter provides
 * - `clientSignal()`: a signal that aborts when the client disconnects (Node: a `'close'` before
 *   the response finished; Hono: the request's own signal), and `settled()` to stop watching.
 * - `started()` / `status()`: whether the response has started (its headers went out) and its
 *   status; `taken()`, if the framework can take a response in other ways (Fastify's `reply.sent`).
 * - `send(answer, moment)`: writes an {@link ErrorResponse} the framework's way; `moment` says
 *   whether it answers a timeout as it fires (`'abort'`: final, a late handler cannot replace it),
 *   a mapped error (`'error'`) or a `Fallback`'s value (`'fallback'`).
 * - `cut()`: ends a half-sent response (destroys the connection; Hono never has one).
 * - `proceed(call)`: exposes the call's context to the handlers (`res.locals.signal`,
 *   `request.staunch`, ...), continues to them and resolves once they are done, with whether the
 *   response finished (so its status is classified); rejects with a handler's error.
 * - `handOver(error, why)`: leaves an error to the framework's own handling (`next(error)`, or
 *   rethrows it).
 *
 * ## The life of a request
 * 1. The policy is selected (per key, {@link policySelector}); a selector that throws hands its
 *    error over (`'unselected'`).
 * 2. The policy executes the handling with the client's signal: a disconnect aborts the call.
 * 3. Inside the call, a listener on the call's signal is added before the handlers run (so it runs
 *    before theirs): when a `Timeout` fires it answers at once (504, `'abort'`), or cuts a response
 *    already started — never leaving it open.
 * 4. `proceed` runs the handlers; once the response finished, a failure status (`failureStatus`,
 *    guarded: one that throws is reported and 5xx decides) fails the call with a
 *    {@link ResponseStatusFailure}, so a breaker counts it.
 * 5. The call settles (`settled()`):
 *    - with a value the handlers did not produce — a `Fallback` answered for a request shed,
 *      refused or failed: sent as {@link fallbackAnswer} (an `httpResponse` as is, `undefined` →
 *      204, anything else 200), unless the response was answered, started or the client left;
 *    - with a failure: a status failure stands as sent; nothing more for an answered response or a
 *      departed client; a started response is cut and the error handed over (`'halfSent'`);
 *      otherwise the error is mapped ({@link toErrorResponse}, whose `mapError`/`body` callbacks
 *      are guarded) and sent, or handed over (`'unmapped'`) when it is not staunch's.
 *
 * Internal: not part of any subpath's exports.
 */
import type { ExecutionContext } from '../../core/context.js';
import type { Policy } from '../../core/policy.js';
import { fallbackAnswer } from './answer.js';
import {
  checkMiddlewareOptions,
  type ErrorMappingOptions,
  type ErrorResponse,
  type FailureStatus,
  MIDDLEWARE_OPTIONS,
  type PolicySelection,
  policySelector,
  ResponseStatusFailure,
  statusClassifier,
  toErrorResponse,
} from './http.js';

/**
 * When an answer is sent: `'abort'` as a `Timeout` fires (the answer is final), `'error'` for a
 * mapped error once the call failed, `'fallback'` for a `Fallback`'s value.
 */
export type Moment = 'abort' | 'error' | 'fallback';

/**
 * Why an error is handed over to the framework: the policy selector threw (`'unselected'`), the
 * error is not staunch's and `mapError` left it (`'unmapped'`), or the response had started and
 * was cut (`'halfSent'`).
 */
export type HandOver = 'unselected' | 'unmapped' | 'halfSent';

/** One request as a framework adapter presents it to {@link protect}. */
export interface Exchange {
  /** Starts watching the client: the signal aborts when it disconnects. Called once, after selection. */
  clientSignal(): AbortSignal;
  /** The call settled: stop watching the client (and routing handler errors to the call). */
  settled?(): void;
  /** Whether the response has started (its headers went out): it can be cut, no longer answered. */
  started(): boolean;
  /** Whether the framework has taken the response in some other way (nothing may be sent). */
  taken?(): boolean;
  /** The response's status. */
  status(): number;
  /** Ends a half-sent response; whether it was cut. */
  cut(): boolean;
  /** Sends an answer the framework's way. */
  send(answer: ErrorResponse, moment: Moment): void;
  /**
   * Exposes the call's context to the handlers and continues to them. Resolves once they are done,
   * with whether the response finished (its status is then classified); rejects with a handler's
   * error.
   */
  proceed(call: ExecutionContext): Promise<boolean>;
  /** Leaves an error to the framework's own handling: passes it on, rethrows it, or drops it. */
  handOver(error: unknown, why: HandOver): void;
}

/** What a middleware checked once, at construction: its options, policy selector and classifier. */
export interface Protection<Req> {
  /** The error mapping options (`toErrorResponse`). */
  readonly options: ErrorMappingOptions;
  /** The policy of a request. */
  readonly select: (request: Req) => Policy<unknown>;
  /** Whether a response status is a failure of the call (guarded). */
  readonly failureStatus: FailureStatus;
}

/**
 * Checks a middleware's options (a `TypeError`/`RangeError` at construction) and builds its
 * {@link Protection}.
 *
 * @param known the option names the middleware takes; default {@link MIDDLEWARE_OPTIONS}.
 */
export function protection<Req>(
  owner: string,
  options: ErrorMappingOptions & PolicySelection<Req> & { readonly failureStatus?: FailureStatus },
  known: readonly string[] = MIDDLEWARE_OPTIONS,
): Protection<Req> {
  checkMiddlewareOptions(owner, options, known);
  return {
    options,
    select: policySelector(owner, options),
    failureStatus: statusClassifier(owner, options.failureStatus),
  };
}

/**
 * Runs one request through its policy (see the module's documentation for the whole flow).
 *
 * @returns whether the handlers' own response stands: they ran and succeeded, or their response's
 *   failure status failed the call. `false` when staunch answered, cut, or handed the error over.
 */
export async function protect<Req>(protection: Protection<Req>, request: Req, exchange: Exchange): Promise<boolean> {
  let policy: Policy<unknown>;
  try {
    policy = protection.select(request);
  } catch (error) {
    exchange.handOver(error, 'unselected');
    return false;
  }
  const { options, failureStatus } = protection;
  const client = exchange.clientSignal();
  // Staunch answered (a timeout's response, or a cut): nothing more is sent.
  let answered = false;
  // The handlers returned: their response stands, a fallback's value may not replace it.
  let ran = false;
  let value: unknown;
  let failure: { readonly error: unknown } | undefined;
  try {
    value = await policy.execute(
      async (call) => {
        const signal = call.signal;
        // Answer a timeout the moment it fires: added before the handlers run, this listener runs
        // before theirs, so a handler reacting to the abort cannot answer first. A response
        // already started cannot be answered: it is cut, never left open.
        const onAbort = (): void => {
          if (exchange.started()) {
            answered = exchange.cut() || answered;
            return;
          }
          if (exchange.taken?.() === true) return;
          const mapped = toErrorResponse(signal.reason, options);
          if (mapped === undefined) return;
          answered = true;
          exchange.send(mapped, 'abort');
        };
        signal.addEventListener('abort', onAbort);
        try {
          const finished = await exchange.proceed(call);
          ran = true;
          if (finished) {
            const status = exchange.status();
            if (failureStatus(status)) throw new ResponseStatusFailure(status);
          }
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
      },
      { signal: client },
    );
  } catch (error) {
    failure = { error };
  } finally {
    exchange.settled?.();
  }

  if (failure === undefined) {
    if (ran) return true;
    // A value the handlers did not produce: a Fallback answered for a request it shed or whose
    // handler failed.
    if (!answered && !client.aborted && !exchange.started() && exchange.taken?.() !== true) {
      exchange.send(fallbackAnswer(value), 'fallback');
    }
    return false;
  }
  const { error } = failure;
  // The response already told the client; an answered request or a departed client needs no more.
  if (error instanceof ResponseStatusFailure) return true;
  if (answered || client.aborted) return false;
  if (exchange.started()) {
    exchange.cut();
    exchange.handOver(error, 'halfSent');
    return false;
  }
  if (exchange.taken?.() === true) return false;
  const mapped = toErrorResponse(error, options);
  if (mapped !== undefined) exchange.send(mapped, 'error');
  else exchange.handOver(error, 'unmapped');
  return false;
}
