import type { Clock } from './clock.js';
import { List, type ListNode } from './list.js';
import { reportError } from './report.js';

/**
 * A registration made with {@link onAbort}. `dispose()` removes it in O(1); calling it again, or
 * after the abort, does nothing.
 */
export interface AbortSubscription {
  dispose(): void;
}

/**
 * All of one signal's subscriptions behind a single DOM listener. Thousands of concurrent calls
 * often share one long-lived signal (a server's shutdown signal); a DOM listener each would make
 * every add and remove O(n) in the runtime's listener list (and trip Node's MaxListeners warning).
 * The subscriptions wait in the core's {@link List}: O(1) to add and to dispose.
 */
class SignalWatch {
  readonly subscriptions = new List<Subscription>();
  readonly signal: AbortSignal;
  /** Set once the signal has aborted: the watch is then forgotten and its listener gone. */
  fired = false;
  constructor(signal: AbortSignal) {
    this.signal = signal;
    signal.addEventListener('abort', this.fire, { once: true });
  }
  readonly fire = (): void => {
    this.fired = true;
    watches.delete(this.signal);
    const subscriptions = this.subscriptions;
    // One at a time from the head: a callback that disposes a later subscription removes it first.
    for (let sub = subscriptions.shift(); sub !== undefined; sub = subscriptions.shift()) {
      sub.watch = undefined;
      sub.callback();
    }
  };
}

class Subscription implements AbortSubscription, ListNode<Subscription> {
  prev: Subscription | undefined = undefined;
  next: Subscription | undefined = undefined;
  watch: SignalWatch | undefined;
  readonly callback: () => void;
  constructor(watch: SignalWatch, callback: () => void) {
    this.watch = watch;
    this.callback = callback;
  }
  dispose(): void {
    const watch = this.watch;
    if (watch === undefined) return;
    this.watch = undefined;
    const subscriptions = watch.subscriptions;
    subscriptions.remove(this);
    if (subscriptions.size === 0 && !watch.fired) {
      watches.delete(watch.signal);
      try {
        watch.signal.removeEventListener('abort', watch.fire);
      } catch (error) {
        // Only a look-alike signal can throw here. Disposing runs as a call settles or a slot is
        // handed on: it must never throw (that would strand a waiter or lose a result).
        reportError(error, 'signal.removeEventListener');
      }
    }
  }
}

const watches = new WeakMap<AbortSignal, SignalWatch>();

/**
 * Calls `callback` once when `signal` aborts (the caller checks `signal.aborted` first). At most
 * one DOM listener per signal, however many subscriptions; none once they are all disposed.
 */
export function onAbort(signal: AbortSignal, callback: () => void): AbortSubscription {
  let watch = watches.get(signal);
  if (watch === undefined) {
    watch = new SignalWatch(signal);
    watches.set(signal, watch);
  }
  const sub = new Subscription(watch, callback);
  watch.subscriptions.push(sub);
  return sub;
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as `signal` aborts.
 * Leaves neither a timer nor a listener behind, whichever happens first.
 */
export function sleep(ms: number, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) {
    return new Promise((resolve) => {
      clock.setTimeout(resolve, ms);
    });
  }
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const subscription = onAbort(signal, () => {
      clock.clearTimeout(handle);
      reject(signal.reason);
    });
    const handle = clock.setTimeout(() => {
      subscription.dispose();
      resolve();
    }, ms);
  });
}

/**
 * Runs `start()` and settles like its promise, except that an abort of `signal` rejects at once
 * with its reason — including an abort that happens synchronously inside `start`. The listener is
 * removed as soon as either happens, so a long-lived signal collects nothing.
 */
export function raceAbort<T>(start: () => Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const subscription = onAbort(signal, () => reject(signal.reason));
    start().then(
      (value) => {
        subscription.dispose();
        resolve(value);
      },
      (error: unknown) => {
        subscription.dispose();
        reject(error);
      },
    );
  });
}

/** True when `value` looks like an `AbortSignal` (works across realms and polyfills). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}
