import { acts, CLASSIFY_OPTIONS, type Classifier, type ClassifyOptions, classifier } from '../core/classify.js';
import { type Context, type ExecutionContext, invoke, proceed } from '../core/context.js';
import { FallbackError } from '../core/errors.js';
import type { ErrorMatcher } from '../core/match.js';
import { Stage } from '../core/policy.js';
import { checkOptions } from '../core/validate.js';

/** Computes a substitute value from the failure and the call's context. */
export type FallbackHandler<R> = (error: unknown, context: ExecutionContext) => R | PromiseLike<R>;

/**
 * Options of {@link Fallback}: the classification options every policy shares
 * ({@link ClassifyOptions}). Every one is optional.
 */
export interface FallbackOptions extends ClassifyOptions {
  /** Only failures that match fall back; others are rethrown unchanged. Default: every failure. */
  readonly handle?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * Failures that match are rethrown unchanged, never handled (wins over `handle`). Default: none.
   */
  readonly exclude?: ErrorMatcher | readonly ErrorMatcher[];
  /**
   * A result for which the handler runs as for a failure (return `true`); the handler then gets
   * the result itself in place of an error, and its value replaces the result. A predicate that
   * throws says "not a failure" (the result is returned) and its error goes to the error reporter
   * (`setErrorReporter`). Runs on every success when given. Default: none (results pass through).
   */
  readonly handleResult?: (result: unknown) => boolean;
}

/** Events of a {@link Fallback}. */
export interface FallbackEvents {
  /** The handler produced a value in place of `error`. */
  readonly fallback: { readonly error: unknown; readonly value: unknown };
  /** The handler itself failed: the call rejects with a {@link FallbackError}. */
  readonly fallbackFailed: { readonly error: unknown; readonly fallbackError: unknown };
}

const OWNER = 'Fallback';

/**
 * Replaces a failure by a value (Hystrix's fallback). The handler runs on every kind of failure —
 * errors, timeouts, open-circuit and bulkhead rejections — but never on errors excluded by the
 * options, and never when the caller itself cancelled (the call rejects with the caller's reason).
 * With `handleResult`, it also runs on the results that predicate classifies as failures (the
 * handler receives the result in place of an error).
 * A handler that fails yields a {@link FallbackError} holding the original error (`error`) and the
 * handler's (`cause`).
 *
 * @typeParam R the handler's value type: a pipeline containing this fallback resolves with `T | R`.
 */
export class Fallback<R> extends Stage<R, FallbackEvents> {
  private readonly _handler: FallbackHandler<R>;
  /** What falls back; undefined: every error, no result. */
  private readonly _classifier: Classifier | undefined;

  /**
   * @param handler receives the failure and the execution context; its value (or promise) is the
   *   call's result.
   * @throws TypeError when `handler` is not a function or an option is invalid.
   */
  constructor(handler: FallbackHandler<R>, options: FallbackOptions = {}) {
    super();
    if (typeof handler !== 'function') {
      throw new TypeError(`${OWNER}: handler must be a function, got ${handler === null ? 'null' : typeof handler}`);
    }
    checkOptions(OWNER, options, CLASSIFY_OPTIONS);
    this._handler = handler;
    this._classifier = classifier(OWNER, options);
  }

  /** @internal */
  _run(context: Context, next: number): Promise<unknown> {
    let promise: Promise<unknown>;
    try {
      promise = proceed(context, next);
    } catch (error) {
      promise = Promise.reject(error);
    }
    // No async function on the success path: one reaction, and each path settles in the same
    // microtask as `try { return await proceed() } catch { ... }` would.
    // A bound method (no closure and closure context) for the rejection, which is rare.
    const recover = this._recover.bind(this, context);
    if (this._classifier?.handleResult === undefined) return promise.then(undefined, recover);
    // `handleResult` given: a result it classifies as a failure falls back too.
    return promise.then((result) => {
      if (context.aborted || !(this._classifier as Classifier).failsResult(result)) return result;
      return this._fallBack(context, result);
    }, recover);
  }

  /** The call rejected with `error`: run the fallback, or rethrow. */
  private _recover(context: Context, error: unknown): PromiseLike<unknown> {
    if (!acts(this._classifier, context, error)) throw error;
    return this._fallBack(context, error);
  }

  /** Runs the handler on `error` (or a result classified as a failure). */
  private _fallBack(context: Context, error: unknown): PromiseLike<unknown> {
    const relay = new Relay();
    invoke((ctx) => this._handler(error, ctx), context).then(
      (value) => {
        if (this._events.listening('fallback')) this._events.emit('fallback', { error, value });
        relay.settle(true, value);
      },
      (fallbackError: unknown) => {
        if (this._events.listening('fallbackFailed')) this._events.emit('fallbackFailed', { error, fallbackError });
        relay.settle(false, new FallbackError(error, fallbackError));
      },
    );
    return relay as unknown as PromiseLike<unknown>;
  }
}

/**
 * A thenable that passes on an outcome as soon as it is known. Returned from a `then` handler it
 * settles the derived promise directly, without the two extra microtask ticks of adopting a
 * promise, so the handler's value arrives exactly when an `await` of it would.
 */
class Relay {
  private _state: 0 | 1 | 2 = 0;
  private _value: unknown = undefined;
  private _resolve: ((value: unknown) => void) | undefined = undefined;
  private _reject: ((error: unknown) => void) | undefined = undefined;

  settle(ok: boolean, value: unknown): void {
    this._state = ok ? 1 : 2;
    this._value = value;
    if (ok) this._resolve?.(value);
    else this._reject?.(value);
  }

  // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, see above.
  then(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
    if (this._state === 1) resolve(this._value);
    else if (this._state === 2) reject(this._value);
    else {
      this._resolve = resolve;
      this._reject = reject;
    }
  }
}
