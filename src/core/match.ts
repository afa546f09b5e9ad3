import { showValue } from './validate.js';

/**
 * Matches an error: an `Error` subclass (by `instanceof`), a predicate, or a string compared with
 * the error's `code` property (e.g. `'ECONNRESET'`).
 */
export type ErrorMatcher = (abstract new (...args: never[]) => Error) | ((error: unknown) => boolean) | string;

/** Validates an option holding one matcher or a list of them. */
export function matchers(
  owner: string,
  name: string,
  value: ErrorMatcher | readonly ErrorMatcher[] | undefined,
): readonly ErrorMatcher[] | undefined {
  if (value === undefined) return undefined;
  const list: readonly unknown[] = Array.isArray(value) ? value : [value];
  list.forEach((m, i) => {
    if (typeof m !== 'function' && typeof m !== 'string') {
      throw new TypeError(
        `${owner}: ${name}${Array.isArray(value) ? `[${i}]` : ''} must be an Error class, a predicate or an error code string, got ${showValue(m)}`,
      );
    }
  });
  return list as readonly ErrorMatcher[];
}

/** Whether `fn` is an Error class rather than a predicate. */
function isErrorClass(fn: Function): fn is abstract new (...args: never[]) => Error {
  return fn === Error || (fn.prototype !== undefined && fn.prototype instanceof Error);
}

/** Whether `error` matches any of `list`. */
export function matchesAny(list: readonly ErrorMatcher[], error: unknown): boolean {
  for (const m of list) {
    if (typeof m === 'string') {
      if (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === m) return true;
    } else if (isErrorClass(m)) {
      if (error instanceof m) return true;
    } else if ((m as (error: unknown) => boolean)(error)) return true;
  }
  return false;
}
