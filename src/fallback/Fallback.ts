import { type Context, type ExecutionContext, invoke, proceed } from '../core/context.js';
import { FallbackError } from '../core/errors.js';
import { type ErrorMatcher, matchers, matchesAny } from '../core/match.js';
import { Stage } from '../core/policy.js';
import { checkOptions } from '../core/validate.js';

/** Computes a substitute value from the failure and the call's context. */
export type FallbackHandler<R> = (error: unknown, context: ExecutionContext) => R | PromiseLike<R>;

/** Options of {@link Fallback}. */
export interface FallbackOptions {
  /** Only failures that match fall back; others are rethrown unchanged. Default: every failure. */
  readonly handle?: ErrorMatcher | readonly ErrorMatcher[];
  /** Failures that match are rethrown unchanged, never handled (checked before `handle`). */
  readonly exclude?: ErrorMatcher | readonly ErrorMatcher[];
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
 * A handler that fails yields a {@link FallbackError} holding the original error (`error`) and the
 * handler's (`cause`).
 *
 * @typeParam R the handler's value type: a pipeline containing this fallback resolves with `T | R`.
 */
export class Fallback<R> extends Stage<R, FallbackEvents> {
  private readonly _handler: FallbackHandler<R>;
  private readonly _handle: readonly ErrorMatcher[] | undefined;
  private readonly _exclude: readonly ErrorMatcher[] | undefined;

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
    checkOptions(OWNER, options, ['handle', 'exclude']);
    this._handler = handler;
    this._handle = matchers(OWNER, 'handle', options.handle);
    this._exclude = matchers(OWNER, 'exclude', options.exclude);
  }

  /** @internal */
  async _run(context: Context, next: number): Promise<unknown> {
    try {
      return await proceed(context, next);
    } catch (error) {
      if (context.aborted || !this._handles(error)) throw error;
      let value: R;
      try {
        value = await invoke((ctx) => this._handler(error, ctx), context);
      } catch (fallbackError) {
        if (this._events.listening('fallbackFailed')) this._events.emit('fallbackFailed', { error, fallbackError });
        throw new FallbackError(error, fallbackError);
      }
      if (this._events.listening('fallback')) this._events.emit('fallback', { error, value });
      return value;
    }
  }

  private _handles(error: unknown): boolean {
    if (this._exclude !== undefined && matchesAny(this._exclude, error)) return false;
    return this._handle === undefined || matchesAny(this._handle, error);
  }
}
