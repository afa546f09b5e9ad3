/**
 * `staunch/fastify` — a Fastify plugin that runs route handlers through a staunch policy and maps
 * staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { ExecutionContext, Policy } from '../../index.js';
import {
  checkMappingOptions,
  type ErrorMappingOptions,
  type ErrorResponse,
  type FailureStatus,
  type PolicySelection,
  policySelector,
  ResponseStatusFailure,
  serializeBody,
  serverErrorStatus,
  toErrorResponse,
} from '../shared/http.js';
import { type NodeResponseLike, responseDone, watchClient } from '../shared/node.js';

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

/** Options of the plugin; a route may override any of them with `config: { staunch: {...} }`. */
export interface StaunchFastifyOptions extends ErrorMappingOptions, Partial<PolicySelection<FastifyRequest>> {
  /** Which reply statuses count as a failure of the protected call. Default: any 5xx. */
  readonly failureStatus?: FailureStatus;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The staunch execution context of a protected route (`signal`, `attempt`), `null` elsewhere.
     * `request.staunch.signal` aborts when the client disconnects or a `Timeout` expires.
     */
    staunch: ExecutionContext | null;
  }
  interface FastifyContextConfig {
    /** staunch options for this route (merged over the plugin's), or `false` to leave it unprotected. */
    staunch?: StaunchFastifyOptions | false;
  }
}

const OWNER = 'staunch/fastify';

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

/** Carries a handler's result past a failure status, so it is still sent. */
class StatusFailureWithResult extends ResponseStatusFailure {
  readonly result: unknown;
  constructor(status: number, result: unknown) {
    super(status);
    this.result = result;
  }
}

function sendReply(reply: FastifyReply, response: ErrorResponse): void {
  const { text, type } = serializeBody(response.body);
  reply.code(response.status).headers(response.headers).type(type).send(text);
}

function protect(original: Handler, options: StaunchFastifyOptions): Handler {
  checkMappingOptions(OWNER, options);
  if (options.policy === undefined) throw new TypeError(`${OWNER}: no policy for the route`);
  const select = policySelector<FastifyRequest>(OWNER, options as PolicySelection<FastifyRequest>);
  const failureStatus = options.failureStatus ?? serverErrorStatus;

  return async function staunchHandler(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const policy: Policy<unknown> = select(request);
    const raw = reply.raw as unknown as NodeResponseLike;
    const client = watchClient(raw);
    try {
      return await policy.execute(
        async (ctx) => {
          request.staunch = ctx;
          const signal = ctx.signal;
          // Answer a timeout as it fires, before the handler's own abort listener can.
          const onAbort = (): void => {
            const mapped = reply.sent ? undefined : toErrorResponse(signal.reason, options);
            if (mapped !== undefined) sendReply(reply, mapped);
          };
          signal.addEventListener('abort', onAbort);
          try {
            const result = await original.call(this, request, reply);
            // A handler that sends by itself (or returns the reply) is done when the response is.
            if ((result === undefined || result === reply) && !raw.writableFinished) {
              if (!(await responseDone(raw))) return result;
            }
            if (failureStatus(reply.statusCode)) throw new StatusFailureWithResult(reply.statusCode, result);
            return result;
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
        },
        { signal: client.signal },
      );
    } catch (error) {
      if (error instanceof StatusFailureWithResult) return error.result;
      if (reply.sent || client.signal.aborted) return reply;
      const mapped = toErrorResponse(error, options);
      if (mapped === undefined) throw error;
      sendReply(reply, mapped);
      return reply;
    } finally {
      client.dispose();
    }
  };
}

/**
 * The plugin. Register it before the routes it protects: with a `policy` it protects every route
 * of its scope (it does not add a scope of its own), a route can set `config: { staunch: {...} }`
 * to use other options (e.g. its own policy) or `config: { staunch: false }` to opt out.
 *
 * - The call's context is `request.staunch` (`signal`: aborted on client disconnect or timeout).
 * - `BulkheadRejectedError` → 503 (or 429) with `Retry-After`; `CircuitOpenError` → 503 with
 *   `Retry-After` from the breaker; `TimeoutError` → 504. Other errors go to Fastify's error
 *   handler.
 * - A reply with a failure status (5xx) counts as a failure of the call.
 *
 * @example
 * await app.register(staunchPlugin, { policy: pipeline(bulkhead, new Timeout(2000)) });
 */
export const staunchPlugin: FastifyPluginCallback<StaunchFastifyOptions> = Object.assign(
  function staunch(fastify: FastifyInstance, options: StaunchFastifyOptions, done: (error?: Error) => void): void {
    try {
      checkMappingOptions(OWNER, options);
      if (options.policy !== undefined) policySelector(OWNER, options as PolicySelection<FastifyRequest>);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (!fastify.hasRequestDecorator('staunch')) fastify.decorateRequest('staunch', null);
    // One selector (and so one keyed LRU) per route: build lazily from the merged options.
    fastify.addHook('onRoute', (route: RouteOptions) => {
      const own = (route.config as { staunch?: StaunchFastifyOptions | false } | undefined)?.staunch;
      if (own === false) return;
      const merged: StaunchFastifyOptions = own === undefined ? options : { ...options, ...own };
      if (merged.policy === undefined) return;
      route.handler = protect(route.handler as Handler, merged) as RouteOptions['handler'];
    });
    done();
  },
  {
    // fastify-plugin's convention: do not encapsulate, so the hook sees the parent's routes.
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'staunch',
    [Symbol.for('plugin-meta')]: { name: 'staunch', fastify: '4.x || 5.x' },
  },
);
