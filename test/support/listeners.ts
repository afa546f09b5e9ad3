/**
 * Counts the 'abort' listeners on one AbortSignal by wrapping its addEventListener and
 * removeEventListener, so a test can assert that a long-lived signal collects nothing.
 */
export interface ListenerCount {
  /** Listeners registered now (ones registered with `once` that already fired are gone). */
  active(): number;
  /** The most listeners that were ever registered at the same time. */
  peak(): number;
  /** How many times a listener was added. */
  added(): number;
}

type Key = EventListenerOrEventListenerObject;

export function trackListeners(signal: AbortSignal): ListenerCount {
  // listener -> whether it was added with `once` before the signal aborted (it then went when it fired)
  const live = new Map<Key, boolean>();
  let peak = 0;
  let added = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const capture = (options: boolean | EventListenerOptions | undefined): boolean =>
    typeof options === 'boolean' ? options : options?.capture === true;
  Object.defineProperty(signal, 'addEventListener', {
    configurable: true,
    value(type: string, listener: Key | null, options?: boolean | AddEventListenerOptions) {
      if (type === 'abort' && listener !== null && !capture(options) && !live.has(listener)) {
        added++;
        live.set(listener, typeof options === 'object' && options.once === true && !signal.aborted);
        peak = Math.max(peak, live.size);
      }
      add(type, listener as Key, options);
    },
  });
  Object.defineProperty(signal, 'removeEventListener', {
    configurable: true,
    value(type: string, listener: Key | null, options?: boolean | EventListenerOptions) {
      if (type === 'abort' && listener !== null && !capture(options)) live.delete(listener);
      remove(type, listener as Key, options);
    },
  });
  return {
    active() {
      let n = 0;
      for (const onceBeforeAbort of live.values()) if (!(onceBeforeAbort && signal.aborted)) n++;
      return n;
    },
    peak: () => peak,
    added: () => added,
  };
}
