import { isAbortSignal, raceAbort } from './abort.js';
import { Context, type ExecuteOptions, type Operation, proceed } from './context.js';
import { Emitter, type Listener, type Unsubscribe } from './events.js';
import { adoptOwn } from './thenable.js';
import { checkOptions } from './validate.js';

const EXECUTE_OPTIONS = ['signal'] as const;

/**
 * What every policy and every pipeline offers. `R` is what the policy may resolve with besides
 * the protected function's own result (a {@link Fallback}'s value); it is `never` for the others.
 */
export abstract class Policy<R = never> {
  /**
   * @internal Type-only (never assigned): what the policy may resolve with besides the function's
   * result, so that {@link pipeline} can infer it.
   */
  declare readonly _extra: R;
  /** @internal The policies this one runs, outermost first (a pipeline's members, flattened). */
  abstract readonly _chain: readonly Stage[];

  /**
   * Runs `fn` through the policy. `fn` receives an {@link ExecutionContext} with the `signal`
   * to honour and the `attempt` number.
   *
   * @param options.signal the caller's cancellation: its abort rejects the returned promise at
   *   once with `signal.reason`, and aborts `ctx.signal` of the running attempt.
   * @returns the function's result (or a fallback's), or the error that explains why not.
   */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T | R> {
    // Always a promise, never a synchronous throw: whatever throws here (an options getter, a
    // signal whose `aborted` throws, a clock read by a policy as the call starts, a foreign stage
    // of a pipeline) rejects the returned promise instead. A try/catch costs nothing when nothing
    // throws.
    try {
      if (typeof fn !== 'function') {
        return Promise.reject(new TypeError(`execute(fn): fn must be a function, got ${typeof fn}`));
      }
      // A misspelt `signal` must not silently drop cancellation. The common `{ signal }` passes
      // without the full check (which allocates the key list): it runs only for something else.
      if (options !== undefined && !hasOnlySignal(options)) {
        checkOptions('execute(fn, options)', options, EXECUTE_OPTIONS);
      }
      const signal = options?.signal;
      if (signal === undefined) {
        return adoptOwn(proceed(new Context(fn, this._chain, 1, undefined, undefined), 0)) as Promise<T | R>;
      }
      if (!isAbortSignal(signal)) {
        return Promise.reject(new TypeError('execute(fn, options): options.signal must be an AbortSignal'));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
      const context = new Context(fn, this._chain, 1, undefined, signal);
      return raceAbort(() => start(context), signal) as Promise<T | R>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Returns a function with `fn`'s parameters that runs `fn` through this policy on each call.
   * (Use {@link Policy.execute} when the function needs the execution context.)
   *
   * @param options.signal a cancellation shared by every call of the returned function, fixed when
   *   wrapping (e.g. a server's shutdown signal): its abort rejects the calls in flight, and every
   *   later call, at once with `signal.reason`, as `execute(fn, { signal })` does. `fn` itself does
   *   not see it (it gets only its own arguments). For a signal per call — or for `fn` to stop its
   *   work on a `Timeout`'s abort — call `execute` in your own wrapper:
   *   `(id: string, signal?: AbortSignal) => policy.execute((ctx) => getUser(id, ctx.signal), { signal })`.
   * @throws TypeError when `fn` is not a function, or `options` is not `{ signal?: AbortSignal }`.
   */
  wrap<A extends unknown[], T>(
    fn: (...args: A) => T | PromiseLike<T>,
    options?: ExecuteOptions,
  ): (...args: A) => Promise<T | R> {
    if (typeof fn !== 'function') throw new TypeError(`wrap(fn): fn must be a function, got ${typeof fn}`);
    checkOptions('wrap(fn, options)', options, EXECUTE_OPTIONS);
    const signal = options?.signal;
    if (signal === undefined) return (...args: A) => this.execute(() => fn(...args));
    if (!isAbortSignal(signal)) {
      throw new TypeError(`wrap(fn, options): options.signal must be an AbortSignal, got ${describeValue(signal)}`);
    }
    // Copied: a later change to the caller's options object does not change the wrapper.
    const fixed: ExecuteOptions = { signal };
    return (...args: A) => this.execute(() => fn(...args), fixed);
  }
}

/**
 * @internal One link of an execution chain: the contract every policy implements. `_run` does
 * the policy's work around `proceed(context, next)`, which runs the rest of the chain and, at its
 * end, the user's function. A policy that changes the context (a retry's attempt, a timeout's
 * signal) passes a derived one down.
 */
export abstract class Stage<R = never, E extends object = Record<never, never>> extends Policy<R> {
  /** @internal */
  readonly _chain: readonly Stage[] = [this as unknown as Stage];
  /** @internal */
  protected readonly _events = new Emitter<E>(this);
  /** @internal */
  abstract _run(context: Context, next: number): Promise<unknown>;

  /**
   * Subscribes to this policy's events (see the policy's event map for the kinds and payloads).
   * A listener that throws does not change the call it observes, nor stop the other listeners: its
   * error goes to the error reporter (`setErrorReporter`; default `console.error`) with the source
   * `'<Policy> listener "<event>"'`, and is never rethrown.
   * @returns a function that removes the listener.
   */
  on<K extends keyof E>(type: K, listener: Listener<E[K]>): Unsubscribe {
    return this._events.on(type, listener);
  }
}

/** The policies' extra result types, united. */
type Extra<P> = P extends { readonly _extra: infer R } ? R : never;

/** A chain of policies that is itself a policy. Build one with {@link pipeline}. */
export class Pipeline<R = never> extends Policy<R> {
  /** @internal */
  readonly _chain: readonly Stage[];
  /** The policies, outermost first, as given. */
  readonly policies: readonly Policy<unknown>[];

  constructor(policies: readonly Policy<unknown>[]) {
    super();
    policies.forEach((policy, i) => {
      if (!isPolicy(policy)) {
        throw new TypeError(`pipeline(): argument ${i} is not a staunch policy (got ${describeValue(policy)})`);
      }
    });
    this.policies = policies;
    this._chain = policies.flatMap((policy) => policy._chain);
  }
}

/**
 * Runs a call's chain from the top, as a native settle-once promise even when a stage throws
 * synchronously or is not one of ours (a duck-typed pipeline member returning anything).
 */
function start(context: Context): Promise<unknown> {
  try {
    return adoptOwn(proceed(context, 0));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** True for a plain options object whose only own enumerable key (if any) is `signal`. */
function hasOnlySignal(options: object): boolean {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return false;
  for (const key in options) {
    if (key !== 'signal' || !Object.hasOwn(options, key)) return false;
  }
  return true;
}

/** Duck-typed, so policies from a duplicate copy of the package compose too. */
function isPolicy(value: unknown): value is Policy<unknown> {
  return typeof value === 'object' && value !== null && Array.isArray((value as Policy<unknown>)._chain);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * Chains policies: the first is the outermost. `pipeline(fallback, retry, breaker, bulkhead,
 * timeout)` mirrors Hystrix's own order. The result is a policy and can be nested; its result type
 * widens by what each member may add (a {@link Fallback}'s value).
 */
export function pipeline<const P extends readonly Policy<unknown>[]>(...policies: P): Pipeline<Extra<P[number]>> {
  return new Pipeline<Extra<P[number]>>(policies);
}
