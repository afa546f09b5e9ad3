import { reportError } from './report.js';
import { showValue } from './validate.js';

/**
 * Matches an error. Three kinds:
 *
 * - **an `Error` subclass**: matches by `instanceof`, on the error itself only (not its `cause`):
 *   wrappers such as a cooperative `TimeoutError` or a `FallbackError` keep the error
 *   they replace as `cause`, and `failOn: [ValidationError]` must not also catch a `TimeoutError`
 *   that a validation error caused. To match a wrapped class, use a predicate.
 * - **a string**: compared with the `code` property of the error *or of any error in its `cause`
 *   chain* (followed up to 8 levels deep, each object once, so a cycle ends the walk), because runtimes wrap
 *   system errors: Node's `fetch` rejects with `TypeError('fetch failed')` whose `cause.code` is
 *   `'ECONNRESET'`, so `retryOn: ['ECONNRESET']` matches it.
 * - **a predicate** `(error) => boolean`, given the error itself. A predicate that throws counts as
 *   "no match" (the call goes on with its own error, never the predicate's), and its error goes to
 *   the error reporter (`setErrorReporter`).
 */
export type ErrorMatcher = (abstract new (...args: never[]) => Error) | ((error: unknown) => boolean) | string;

/** How many `cause` links a code-string matcher follows below the error itself. */
export const MAX_CAUSE_DEPTH = 8;

/** Where each validated list came from, for the error reporter: `'RetryPolicy retryOn'`. */
const sources = new WeakMap<readonly ErrorMatcher[], string>();

/** Validates an option holding one matcher or a list of them. Returns a copy of the list. */
export function matchers(
  owner: string,
  name: string,
  value: ErrorMatcher | readonly ErrorMatcher[] | undefined,
): readonly ErrorMatcher[] | undefined {
  if (value === undefined) return undefined;
  const list: readonly unknown[] = Array.isArray(value) ? [...value] : [value];
  list.forEach((m, i) => {
    if (typeof m !== 'function' && typeof m !== 'string') {
      throw new TypeError(
        `${owner}: ${name}${Array.isArray(value) ? `[${i}]` : ''} must be an Error class, a predicate or an error code string, got ${showValue(m)}`,
      );
    }
  });
  const matchers = list as readonly ErrorMatcher[];
  sources.set(matchers, `${owner} ${name}`);
  return matchers;
}

/** Whether `fn` is an Error class rather than a predicate. */
function isErrorClass(fn: Function): fn is abstract new (...args: never[]) => Error {
  return fn === Error || (fn.prototype !== undefined && fn.prototype instanceof Error);
}

/**
 * Whether `test` holds for `error` or an error in its `cause` chain: at most
 * {@link MAX_CAUSE_DEPTH} links below the error, each object visited once (a cycle ends the walk),
 * objects only. Never throws: a throwing getter or `test` ends the walk with no match.
 */
export function someInCauseChain(error: unknown, test: (link: object) => boolean): boolean {
  let current = error;
  let seen: unknown[] | undefined;
  try {
    for (let depth = 0; depth <= MAX_CAUSE_DEPTH; depth++) {
      if (typeof current !== 'object' || current === null) return false;
      if (test(current)) return true;
      const cause = (current as { cause?: unknown }).cause;
      seen ??= [];
      seen.push(current);
      if (seen.includes(cause)) return false;
      current = cause;
    }
  } catch {
    // A hostile getter (`code`, `cause`, a Proxy trap): no match below it.
  }
  return false;
}

/** Whether `error` or an error in its `cause` chain has `code === code` (see {@link someInCauseChain}). */
export function hasCode(error: unknown, code: string): boolean {
  return someInCauseChain(error, (link) => (link as { code?: unknown }).code === code);
}

/**
 * Whether `error` matches any of `list`. Never throws: a predicate that throws is "no match" and
 * its error is reported (see {@link ErrorMatcher}).
 */
export function matchesAny(list: readonly ErrorMatcher[], error: unknown): boolean {
  for (const m of list) {
    if (typeof m === 'string') {
      if (hasCode(error, m)) return true;
      continue;
    }
    try {
      if (isErrorClass(m) ? error instanceof m : (m as (error: unknown) => boolean)(error)) return true;
    } catch (failure) {
      // A predicate's bug (or a hostile `instanceof`) must not replace the error being classified.
      reportError(failure, `${sources.get(list) ?? 'ErrorMatcher'} matcher`);
    }
  }
  return false;
}
