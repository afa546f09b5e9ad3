/**
 * The names every server subpath (`staunch/express`, `staunch/fastify`, `staunch/koa`,
 * `staunch/hono`) exports besides its own middleware: each re-exports this module whole.
 */
export { httpResponse } from './answer.js';
export {
  defaultBody,
  type ErrorMappingOptions,
  type ErrorResponse,
  type FailureStatus,
  LruCache,
  type PolicyFactory,
  PolicyLimitError,
  type PolicySelection,
  type ServerOptions,
  toErrorResponse,
} from './http.js';
