/**
 * @internal Settle-once adoption of values that user code hands to the policies.
 *
 * A policy reacts to what the protected function returns with `.then(onValue, onError)` and counts
 * on each handler running at most once, and never both: a bulkhead gives its slot back in them. A
 * hostile or buggy promise-like (a `Promise` subclass or a promise whose own `then` calls back
 * twice, or calls both) would break that and corrupt the counters. Native promises adopted through
 * the intrinsic resolve functions are settle-once whatever the thenable does, so everything that is
 * not a plain native promise is adopted into one.
 */

/** The intrinsic `then`, read once at load. */
const PROMISE_THEN = Promise.prototype.then;

/**
 * @internal Returns `value` itself when it is a plain native promise (a real promise whose
 * `constructor` is `Promise` and whose `then` is the intrinsic one), else a native promise that
 * adopts it and settles once: the first of its callbacks wins, later ones are ignored, and a `then`
 * that throws after calling back changes nothing. (Not defended: a `then` getter that returns the
 * intrinsic method when checked here and another function later.) Cost on the hot path: one
 * `Promise.resolve` that returns its argument and one property read. May throw only where reading
 * `constructor` or `then` throws (the callers turn that into a rejection).
 */
export function settleOnce<T>(value: T | PromiseLike<T>): Promise<T> {
  // `Promise.resolve` brand-checks its argument (a proxy or a look-alike is not a promise) and
  // returns it unchanged only for a real promise whose `constructor` is `Promise`.
  const promise = Promise.resolve(value);
  if (promise !== value) return promise;
  // A real promise (not a proxy), but its `then` may be its own or a subclass's.
  if (promise.then === PROMISE_THEN) return promise;
  // The resolve functions always adopt a thenable through its `then` (no shortcut for promises).
  return new Promise<T>((resolve) => resolve(value));
}

/**
 * @internal {@link settleOnce} for what the policies' own stages return (native promises, already
 * settle-once: `invoke` adopts the user's value). Their own promises skip the brand check of
 * `Promise.resolve`, which costs an allocation per call on V8 (measured ~32 B per call in the
 * bench); anything else (a foreign or fake stage's value) takes the full path.
 */
export function adoptOwn<T>(value: Promise<T>): Promise<T> {
  if (value instanceof Promise && value.then === PROMISE_THEN) return value;
  return settleOnce(value);
}
