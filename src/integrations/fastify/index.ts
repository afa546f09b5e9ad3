/**
 * `staunch/fastify` — a Fastify plugin that runs route handlers through a staunch policy and maps
 * staunch's errors to HTTP (503 + `Retry-After`, 504).
 *
 * @packageDocumentation
 * @module staunch/fastify
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { ExecutionContext } from '../../index.js';
import type { HalfSentLike } from '../shared/answer.js';
import {
  checkMiddlewareOptions,
  type ErrorResponse,
  MIDDLEWARE_OPTIONS,
  type PolicySelection,
  policySelector,
  type ServerOptions,
  serializeBody,
  statusClassifier,
} from '../shared/http.js';
import { type NodeResponseLike, nodeExchange, responseDone } from '../shared/node.js';
import { type Protection, protect } from '../shared/protect.js';

export * from '../shared/public.js';

/**
 * Options of the plugin; a route may override any of them with `config: { staunch: {...} }`.
 *
 * `policy` at the plugin level protects every route of the scope, one policy per route by default
 * (as Hystrix isolates each command): give a factory, which is called once per route with the
 * route's key (`'GET /users/:id'`; with `key`, once per route and key). A policy instance is one
 * object, so it would be shared by every route — one breaker opened by `/bad` would refuse
 * `/good` too: the plugin refuses it unless `shared: true` says that sharing is meant (e.g. one
 * bulkhead bounding the whole server). In a route's own `config.staunch`, an instance protects
 * that route only.
 */
export interface StaunchFastifyOptions extends Partial<ServerOptions<FastifyRequest>> {
  /**
   * Plugin level only: `true` lets a policy instance given to the plugin be shared by every route
   * of its scope (their calls then count together: one breaker, one bulkhead for all). Default
   * `false`: the plugin's `policy` must be a factory, called once per route.
   */
  readonly shared?: boolean;
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
/** The plugin's option names, and those Fastify's `register` passes along (`prefix`, ...). */
const FASTIFY_OPTIONS = [...MIDDLEWARE_OPTIONS, 'shared', 'prefix', 'logLevel', 'logSerializers'];

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

function sendReply(reply: FastifyReply, response: ErrorResponse): void {
  const { text, type } = serializeBody(response.body);
  reply.code(response.status).headers(response.headers).type(type).send(text);
}

/** A route's key for a plugin-level policy factory: its method(s) and URL pattern. */
function routeKey(route: RouteOptions): string {
  const methods = Array.isArray(route.method) ? route.method.join(',') : String(route.method);
  return `${methods} ${route.url}`;
}

function protectRoute(original: Handler, options: StaunchFastifyOptions, routeId: string): Handler {
  checkMiddlewareOptions(OWNER, options, FASTIFY_OPTIONS);
  if (options.policy === undefined) throw new TypeError(`${OWNER}: no policy for the route`);
  // A factory without a key: one policy for the route (its key is the route's).
  const selection =
    typeof options.policy === 'function' && options.key === undefined
      ? { ...options, key: () => routeId, maxPolicies: 1 }
      : options;
  const protecting: Protection<FastifyRequest> = {
    options,
    select: policySelector<FastifyRequest>(OWNER, selection as PolicySelection<FastifyRequest>),
    failureStatus: statusClassifier(OWNER, options.failureStatus),
  };

  return async function staunchHandler(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const raw = reply.raw as unknown as NodeResponseLike & HalfSentLike;
    // What the handler produced, once it returned (a fallback's value may not replace it).
    let produced: { readonly result: unknown } | undefined;
    const stands = await protect(protecting, request, {
      ...nodeExchange(raw),
      taken: () => reply.sent,
      status: () => reply.statusCode,
      send: (answer) => sendReply(reply, answer),
      proceed: async (call) => {
        request.staunch = call;
        const result = await original.call(this, request, reply);
        produced = { result };
        // A handler that sends by itself (or returns the reply) is done when the response is.
        if ((result === undefined || result === reply) && !raw.writableFinished) return responseDone(raw);
        return true;
      },
      handOver: (error, why) => {
        if (why !== 'halfSent') throw error;
      },
    });
    return stands && produced !== undefined ? produced.result : reply;
  };
}

/**
 * The plugin. Register it before the routes it protects: with a `policy` it protects every route
 * of its scope (it does not add a scope of its own), a route can set `config: { staunch: {...} }`
 * to use other options (e.g. its own policy) or `config: { staunch: false }` to opt out.
 *
 * - Each route gets its own policy by default: the plugin's `policy` is a factory called once per
 *   route (`'GET /users/:id'`), so a breaker opened by one route never refuses another. A policy
 *   instance shared by every route needs `shared: true` (registering one without it fails with a
 *   `TypeError`).
 * - The call's context is `request.staunch` (`signal`: aborted on client disconnect or timeout).
 * - `BulkheadRejectedError` → 503 (or 429) with `Retry-After`; `CircuitOpenError` → 503 with
 *   `Retry-After` from the breaker; `TimeoutError` → 504. Other errors go to Fastify's error
 *   handler.
 * - A reply with a failure status (5xx) counts as a failure of the call, and so does a handler's
 *   error.
 * - A reply already started when the call fails (a `Timeout` firing while a body streams) is cut:
 *   the connection is destroyed, never left open.
 * - A `Fallback` in the policy answers for a request the handler did not answer — shed by a
 *   bulkhead, refused by an open breaker, or whose handler threw: its value is the reply (200, a
 *   string as `text/plain`, anything else as JSON; `undefined` → 204; an {@link httpResponse} is
 *   sent as is). It never replaces a reply the handler produced, nor a timeout's 504, which is
 *   final when the deadline fires (use `mapError` to answer a timeout differently).
 *
 * Fastify 4 and 5 are supported.
 *
 * @example
 * // One bulkhead and timeout per route:
 * await app.register(staunchPlugin, { policy: () => pipeline(new Bulkhead({ maxConcurrent: 20 }), new Timeout(2000)) });
 */
export const staunchPlugin: FastifyPluginCallback<StaunchFastifyOptions> = Object.assign(
  function staunch(fastify: FastifyInstance, options: StaunchFastifyOptions, done: (error?: Error) => void): void {
    try {
      checkMiddlewareOptions(OWNER, options, FASTIFY_OPTIONS);
      if (options.shared !== undefined && typeof options.shared !== 'boolean') {
        throw new TypeError(`${OWNER}: shared must be a boolean, got ${typeof options.shared}`);
      }
      if (options.policy !== undefined && typeof options.policy !== 'function' && options.shared !== true) {
        throw new TypeError(
          `${OWNER}: the plugin's policy is one instance, which every route would share (one breaker ` +
            'for all routes). Pass a factory, called once per route: `policy: (route) => new CircuitBreaker()`, ' +
            'or `shared: true` to share it on purpose',
        );
      }
      if (options.policy !== undefined) {
        // Validates the policy and the keyed options (a route's key stands in for a missing one).
        policySelector(OWNER, { ...options, key: options.key ?? (() => '') } as PolicySelection<FastifyRequest>);
      }
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
      route.handler = protectRoute(route.handler as Handler, merged, routeKey(route)) as RouteOptions['handler'];
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
