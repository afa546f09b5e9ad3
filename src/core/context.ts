import type { Stage } from './policy.js';
import { settleOnce } from './thenable.js';

/**
 * @internal The context each `Timeout`-made `ctx.signal` belongs to, so that a call given that
 * signal as its caller signal knows the deadline it runs under (see {@link Context.remaining}).
 */
export const signalContexts = new WeakMap<AbortSignal, Context>();

/** What every protected function receives. */
export interface ExecutionContext {
  /**
   * Aborted when the call is cancelled: by the caller's signal, or by a {@link Timeout} around
   * the function (its reason is then the `TimeoutError`). Created lazily: a signal nobody reads
   * costs nothing.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, ... (counted by the innermost retry). */
  readonly attempt: number;
}

/** A function protected by a policy. It may return a value or a promise-like. */
export type Operation<T> = (context: ExecutionContext) => T | PromiseLike<T>;

/** Per-call options of `execute`. */
export interface ExecuteOptions {
  /** The caller's cancellation: its abort rejects the call at once with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * @internal The context object that travels down a pipeline. The public view is
 * {@link ExecutionContext}; the rest is the executor's bookkeeping.
 */
export class Context implements ExecutionContext {
  /** The user's function. */
  readonly fn: Operation<unknown>;
  /** The flattened policies of this execution, outermost first. */
  readonly chain: readonly Stage[];
  readonly attempt: number;
  readonly parent: Context | undefined;
  protected _signal: AbortSignal | undefined;
  /** Whether the caller gave a signal (only meaningful on a root context). */
  private readonly _callerSignal: boolean;

  constructor(
    fn: Operation<unknown>,
    chain: readonly Stage[],
    attempt: number,
    parent: Context | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.fn = fn;
    this.chain = chain;
    this.attempt = attempt;
    this.parent = parent;
    this._signal = signal;
    this._callerSignal = signal !== undefined;
  }

  get signal(): AbortSignal {
    if (this._signal === undefined) this._signal = this.createSignal();
    return this._signal;
  }

  /** Whether anything could ever abort this context. Never materialises a signal. */
  get abortable(): boolean {
    return this.parent !== undefined ? this.parent.abortable : this._callerSignal;
  }

  /** Whether this context is aborted. Never materialises a signal. */
  get aborted(): boolean {
    if (this._signal !== undefined) return this._signal.aborted;
    return this.parent?.aborted === true;
  }

  /**
   * Milliseconds left before the earliest deadline of the enclosing `Timeout`s (each measured on
   * that Timeout's own clock: only durations are compared, never readings of different clocks);
   * `Infinity` when there is none. Read only when a retry is about to wait, never per call.
   * A call whose caller signal is a `Timeout`'s `ctx.signal` (a nested `execute`, or
   * `staunch/fetch` given that signal) is enclosed by that Timeout's deadline too.
   */
  remaining(): number {
    if (this.parent !== undefined) return this.parent.remaining();
    const outer = this._signal === undefined ? undefined : signalContexts.get(this._signal);
    return outer === undefined ? Number.POSITIVE_INFINITY : outer.remaining();
  }

  /** A context for another attempt of the same call. */
  withAttempt(attempt: number): Context {
    return new Context(this.fn, this.chain, attempt, this, undefined);
  }

  protected createSignal(): AbortSignal {
    if (this.parent !== undefined) return this.parent.signal;
    // Nothing can abort a root call without a caller signal: all such calls share one signal that
    // never aborts (an AbortController per call costs more than the call itself).
    return neverAborted();
  }
}

let never: AbortSignal | undefined;
let neverUses = 0;

/**
 * Calls per shared signal before it is replaced. Node 20's `AbortSignal.any([signal, ...])` keeps a
 * weak reference to the combined signal on each source signal until that source aborts — on a
 * signal that never aborts, for ever. Replacing the shared signal now and then bounds what user
 * code that combines `ctx.signal` can pile up (at most this many entries, freed together).
 */
const NEVER_ROTATION = 1024;

/**
 * The signal of calls nothing can cancel. It never aborts, so an `abort` listener on it could never
 * run: `addEventListener('abort', ...)` is made a no-op, and listeners that user code forgets to
 * remove cannot pile up on this shared object.
 */
function neverAborted(): AbortSignal {
  if (never === undefined || ++neverUses >= NEVER_ROTATION) {
    const signal = new AbortController().signal;
    const add = signal.addEventListener;
    Object.defineProperty(signal, 'addEventListener', {
      value(this: AbortSignal, ...args: Parameters<AbortSignal['addEventListener']>): void {
        if (args[0] !== 'abort') add.apply(this, args);
      },
    });
    Object.defineProperty(signal, 'onabort', { get: () => null, set: () => {} });
    never = signal;
    neverUses = 0;
  }
  return never;
}

/** @internal Runs the rest of the chain after position `next`, or the function itself. */
export function proceed(context: Context, next: number): Promise<unknown> {
  const chain = context.chain;
  if (next < chain.length) return (chain[next] as Stage)._run(context, next + 1);
  return invoke(context.fn, context);
}

/** @internal Calls `fn` and turns whatever happens into a native promise. */
export function invoke<T>(fn: Operation<T>, context: ExecutionContext): Promise<T> {
  try {
    // Settle-once: a thenable or promise subclass whose `then` calls back twice must not make a
    // policy count the call twice (see `settleOnce`).
    return settleOnce(fn(context));
  } catch (error) {
    return Promise.reject(error);
  }
}
