import { reportError } from './report.js';

/** A listener of one kind of policy event. */
export type Listener<E> = (event: E) => void;

/** Call to stop listening. Calling it again does nothing. */
export type Unsubscribe = () => void;

/**
 * A tiny typed event emitter. Subscribing returns an unsubscribe function; with no listener an
 * event costs one property read (callers check {@link Emitter.listening} before building the
 * event object).
 *
 * A listener that throws changes nothing: the call it observes settles exactly as it would have,
 * the other listeners still run, and the error goes to the error reporter (see
 * `setErrorReporter`; by default `console.error`) with the source `'<Policy> listener "<event>"'`,
 * e.g. `'RetryPolicy listener "retry"'`. It is never rethrown, so it cannot crash the process.
 */
export class Emitter<Events extends object> {
  private _listeners: { [K in keyof Events]?: Listener<Events[K]>[] } | undefined = undefined;
  /** Who emits: its class name (or the string itself) names the source of a listener's error. */
  private readonly _owner: object | string | undefined;

  /** @param owner the emitting policy (or its name), to say where a listener's error came from. */
  constructor(owner?: object | string) {
    this._owner = owner;
  }

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
        reportError(error, `${ownerName(this._owner)} listener "${String(type)}"`);
      }
    }
  }
}

function ownerName(owner: object | string | undefined): string {
  if (typeof owner === 'string') return owner;
  const name: unknown = owner?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'policy';
}
