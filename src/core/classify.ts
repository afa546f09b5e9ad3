import { type ErrorMatcher, matchers, matchesAny } from './match.js';
import { reportError } from './report.js';
import { functionOption } from './validate.js';

/**
 * What a policy counts as a failure, in the same words for every policy (as Polly's
 * `ShouldHandle` and failsafe-go's `HandleErrors` / `HandleResult`): errors by class, predicate or
 * code (see {@link ErrorMatcher}; codes are looked up through the `cause` chain), results by
 * predicate. Every option is optional.
 *
 * A failure is what the policy acts on: a {@link RetryPolicy} retries it, a {@link CircuitBreaker}
 * counts it against the dependency, a {@link Fallback} replaces it. An error that is not a failure
 * passes through the policy unchanged. The caller's own cancellation is never a failure, whatever
 * these options say.
 */
export interface ClassifyOptions {
  /**
   * Allow-list: only errors that match are failures the policy acts on; any other error passes
   * through unchanged. Default: every error is a failure.
   */
  readonly handle?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Deny-list: errors that match are never failures (they pass through unchanged), even when they
   * also match `handle`: `exclude` wins. Default: none.
   */
  readonly exclude?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Classifies a successful result as a failure (return `true`), e.g. an HTTP 503 `Response`.
   * Runs on every success when given, so keep it cheap. Default: no result is a failure.
   */
  readonly handleResult?: (result: unknown) => boolean;
}

/** The common option names, in the order a policy lists them among its known options. */
export const CLASSIFY_OPTIONS = ['handle', 'exclude', 'handleResult'] as const;

/** A policy's older name for a common option: `{ handle: 'retryOn' }`. */
export type ClassifyAliases = { readonly [K in keyof ClassifyOptions]?: string };

/**
 * The allow/deny logic of {@link ClassifyOptions}, built once when a policy is constructed, from
 * checked options. Its methods never throw for the error or result they classify.
 */
export class Classifier {
  /** The allow-list, or undefined when every error is handled. */
  readonly handle: readonly ErrorMatcher[] | undefined;
  /** The deny-list, or undefined. */
  readonly exclude: readonly ErrorMatcher[] | undefined;
  /** The result predicate, or undefined when no result is a failure. */
  readonly handleResult: ((result: unknown) => boolean) | undefined;
  /** Where a throwing result predicate is reported: `'CircuitBreaker "db" failureResult'`. */
  private readonly _resultSource: string;

  /** @internal Use {@link classifier}: it validates the options. */
  constructor(
    handle: readonly ErrorMatcher[] | undefined,
    exclude: readonly ErrorMatcher[] | undefined,
    handleResult: ((result: unknown) => boolean) | undefined,
    resultSource: string,
  ) {
    this.handle = handle;
    this.exclude = exclude;
    this.handleResult = handleResult;
    this._resultSource = resultSource;
  }

  /**
   * Whether `error` is a failure by the options: not excluded, and handled (or no allow-list).
   * Never throws: a matcher that throws is "no match", and its error is reported
   * (see {@link ErrorMatcher}). The caller's cancellation is not looked at here: see {@link acts}.
   */
  handles(error: unknown): boolean {
    if (this.exclude !== undefined && matchesAny(this.exclude, error)) return false;
    return this.handle === undefined || matchesAny(this.handle, error);
  }

  /**
   * Whether `result` is a failure: `handleResult` returned exactly `true`. Never throws: a
   * predicate that throws says "not a failure", and its error is reported (`setErrorReporter`).
   */
  failsResult(result: unknown): boolean {
    if (this.handleResult === undefined) return false;
    try {
      return this.handleResult(result) === true;
    } catch (error) {
      reportError(error, this._resultSource);
      return false;
    }
  }
}

/**
 * Whether a policy acts on `error`, thrown by a call running in `context`: never when the caller
 * (or an enclosing policy) cancelled the call; else as `classifier` says (every error without one).
 */
export function acts(
  classifier: Classifier | undefined,
  context: { readonly aborted: boolean },
  error: unknown,
): boolean {
  return !context.aborted && (classifier === undefined || classifier.handles(error));
}

/**
 * Checks a policy's classification options, common names and aliases, in one place, and builds its
 * {@link Classifier}; undefined when none is given (every error is a failure, no result is).
 *
 * @param owner names the policy in messages: `'RetryPolicy'`.
 * @param options the policy's options (only the classification ones are read).
 * @param aliases the policy's older names for the common options, e.g. `{ handle: 'retryOn' }`.
 * @param source names the policy in reported errors (default `owner`): `'CircuitBreaker "db"'`.
 * @throws TypeError when an option has the wrong type, or when both a common name and its alias
 *   are given (the message names both).
 */
export function classifier(
  owner: string,
  options: object,
  aliases: ClassifyAliases = {},
  source: string = owner,
): Classifier | undefined {
  const values = options as Readonly<Record<string, unknown>>;
  /** The option given under its common name or its alias (never both), and the name used. */
  const pick = (name: keyof ClassifyOptions): [string, unknown] => {
    const alias = aliases[name];
    const value = values[name];
    if (alias === undefined) return [name, value];
    const aliased = values[alias];
    if (value !== undefined && aliased !== undefined) {
      throw new TypeError(`${owner}: ${alias} and ${name} are the same option (${alias} is its older name); give one`);
    }
    return aliased === undefined ? [name, value] : [alias, aliased];
  };
  const [handleName, handleValue] = pick('handle');
  const [excludeName, excludeValue] = pick('exclude');
  const [resultName, resultValue] = pick('handleResult');
  const handle = matchers(owner, handleName, handleValue as ErrorMatcher | readonly ErrorMatcher[] | undefined);
  const exclude = matchers(owner, excludeName, excludeValue as ErrorMatcher | readonly ErrorMatcher[] | undefined);
  const handleResult = functionOption<(result: unknown) => boolean>(owner, resultName, resultValue);
  if (handle === undefined && exclude === undefined && handleResult === undefined) return undefined;
  return new Classifier(handle, exclude, handleResult, `${source} ${resultName}`);
}
