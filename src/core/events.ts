/** A listener of one kind of policy event. */
export type Listener<E> = (event: E) => void;

/** Call to stop listening. Calling it again does nothing. */
export type Unsubscribe = () => void;

/**
 * A tiny typed event emitter. Subscribing returns an unsubscribe function; with no listener an
 * event costs one property read (callers check {@link Emitter.listening} before building the
 * event object). A listener that throws does not disturb the policy: its error is rethrown in a
 * microtask, where the runtime reports it like any uncaught error.
 */
export class Emitter<Events extends object> {
  private _listeners: { [K in keyof Events]?: Listener<Events[K]>[] } | undefined = undefined;

  /**
   * Subscribes `listener` to events of kind `type`.
   * @returns a function that removes the listener.
   */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): Unsubscribe {
    if (typeof listener !== 'function') {
      throw new TypeError(`on(${String(type)}): listener must be a function, got ${typeof listener}`);
    }
    this._listeners ??= {};
    const current = this._listeners[type];
    // Copy on write: emitting never sees a list that changes under it.
    this._listeners[type] = current === undefined ? [listener] : [...current, listener];
    let active = true;
    return () => {
      if (!active || this._listeners === undefined) return;
      active = false;
      const list = this._listeners[type];
      if (list === undefined) return;
      const i = list.indexOf(listener);
      if (i < 0) return;
      if (list.length === 1) delete this._listeners[type];
      else this._listeners[type] = list.filter((_, j) => j !== i);
    };
  }

  /** True when at least one listener is subscribed to `type`. */
  listening(type: keyof Events): boolean {
    return this._listeners !== undefined && this._listeners[type] !== undefined;
  }

  /** @internal Delivers `event` to the listeners of `type`. */
  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const list = this._listeners?.[type];
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
