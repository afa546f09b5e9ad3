/**
 * Shared by the server integrations (written for issue 11, items 1 and 9): what a `Fallback` in a
 * server policy answers, and how a response that was half-sent when its call failed is ended.
 * Structural types only, so nothing here needs `@types/node` at the user's side.
 */
import type { ErrorResponse } from './http.js';

const BRAND = Symbol.for('staunch.httpResponse');

/**
 * Makes an HTTP answer for a `Fallback` in a server policy (Express, Fastify, Koa, Hono): sent as
 * is (`status`, `headers`, `body`: a string as `text/plain`, anything else as JSON). A fallback that
 * returns anything else answers 200 with that value as the body (see each middleware).
 *
 * @param init `status`: an HTTP status (an integer 200..599); `headers`: extra response headers
 *   (default none); `body`: the body (default `''`).
 * @throws RangeError when `status` is not an integer between 200 and 599.
 * @throws TypeError when `headers` is not an object of strings.
 *
 * @example
 * new Fallback(() => httpResponse({ status: 503, headers: { 'retry-after': '5' }, body: 'busy' }))
 */
export function httpResponse(init: {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}): ErrorResponse {
  const owner = 'httpResponse';
  if (typeof init !== 'object' || init === null) {
    throw new TypeError(`${owner}: expected { status, headers?, body? }, got ${init === null ? 'null' : typeof init}`);
  }
  const { status, headers = {}, body = '' } = init;
  if (typeof status !== 'number') throw new TypeError(`${owner}: status must be a number, got ${typeof status}`);
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`${owner}: status must be an integer from 200 to 599, got ${String(status)}`);
  }
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new TypeError(`${owner}: headers must be an object of string values`);
  }
  const made = { status, headers: Object.freeze({ ...headers }), body };
  // A hidden mark (not enumerable, registered symbol: it holds across copies of the package).
  Object.defineProperty(made, BRAND, { value: true });
  return Object.freeze(made);
}

function isHttpResponse(value: unknown): value is ErrorResponse {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/**
 * The answer for a value that a policy produced in place of the handling (a `Fallback`): an
 * {@link httpResponse}'s answer as is; `undefined` → 204 with no body; anything else → 200 with the value
 * as the body.
 */
export function fallbackAnswer(value: unknown): ErrorResponse {
  if (isHttpResponse(value)) return value;
  if (value === undefined) return { status: 204, headers: {}, body: '' };
  return { status: 200, headers: {}, body: value };
}

/** Whether a status never carries a body (a web `Response` refuses one). */
export function isBodiless(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

/** The parts of a Node response used to end a half-sent one. */
export interface HalfSentLike {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly destroyed?: boolean;
  destroy(): unknown;
}

/**
 * Ends a response whose headers went out but whose end did not (a handler was streaming when its
 * call failed): there is no status left to send, so the connection is destroyed — the client sees
 * the response cut short rather than waiting for the rest forever, and cannot take the truncated
 * body for a complete one. A response not started, or already ended, is left alone.
 *
 * @returns whether the response was cut.
 */
export function cutHalfSent(res: HalfSentLike): boolean {
  if (!res.headersSent || res.writableEnded || res.destroyed === true) return false;
  res.destroy();
  return true;
}
