/**
 * Where errors thrown by user callbacks go when they must not change a call's outcome: an event
 * listener, a middleware's `mapError` or `body`, a classifier, a Hystrix stream's reader. staunch
 * never lets such an error crash the process or reject a call it did not cause; it hands it to the
 * reporter set here.
 */

/** Where a reported error came from, e.g. `'CircuitBreaker listener "open"'` or `'staunch/express mapError'`. */
export type ErrorSource = string;

/**
 * Receives errors thrown by user callbacks (see {@link setErrorReporter}). It must not throw; if it
 * does, its error is dropped.
 */
export type ErrorReporter = (error: unknown, source: ErrorSource) => void;

const defaultReporter: ErrorReporter = (error, source) => {
  // `console` exists in every runtime staunch supports (browsers, Node, Deno, Bun, edge workers).
  globalThis.console?.error?.(`[staunch] ${source} threw:`, error);
};

let reporter: ErrorReporter = defaultReporter;

/**
 * Sets where errors thrown by user callbacks are reported: event listeners (`policy.on(...)`), the
 * server integrations' `mapError` / `body`, and any other callback whose failure must not change
 * the outcome of the call it observes. The default writes them to `console.error`. Pass `undefined`
 * to restore the default.
 *
 * The reporter is process-wide (one per copy of the package): set it once at start-up, e.g. to your
 * logger or error tracker.
 *
 * @returns the reporter that was in place before.
 *
 * @example
 * setErrorReporter((error, source) => logger.error({ err: error, source }, 'staunch callback failed'));
 */
export function setErrorReporter(next: ErrorReporter | undefined): ErrorReporter {
  if (next !== undefined && typeof next !== 'function') {
    throw new TypeError(`setErrorReporter(reporter): reporter must be a function or undefined, got ${typeof next}`);
  }
  const previous = reporter;
  reporter = next ?? defaultReporter;
  return previous;
}

/** @internal Reports an error thrown by a user callback. Never throws. */
export function reportError(error: unknown, source: ErrorSource): void {
  try {
    reporter(error, source);
  } catch {
    // A reporter that throws has nowhere left to report to.
  }
}
