import type { Backoff } from '../retry/backoff.js';
import type { HalfOpenGate } from './HalfOpenGate.js';

/**
 * A circuit breaker's state. `'isolated'` is forced open (every call rejected until
 * `forceClose()` or `reset()`); `'forced-closed'` lets every call through and never trips.
 */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated' | 'forced-closed';

/**
 * @internal The states and their transitions, with no timer: `open` carries the clock time
 * (`retryAt`) from which it *reads* as half-open; the first call after that moment performs the
 * transition. Every transition bumps `generation`: a call remembers the generation it started in,
 * and its outcome moves the state only if no transition happened meanwhile.
 */
export class StateMachine {
  /** The stored state; `'open'` reads as `'half-open'` from `retryAt` on. */
  state: CircuitState = 'closed';
  /** Bumped by every transition (and by a new half-open round). */
  generation = 0;
  /** While open: clock time, in ms, from which a trial call is allowed. */
  retryAt = 0;
  /** Opens since the breaker last closed (position in a sleep-window backoff). */
  opens = 0;
  /** The sleep window in effect, in milliseconds. */
  sleepWindow: number;
  readonly gate: HalfOpenGate;
  private readonly _backoff: Backoff | undefined;
  private _delays: Iterator<number> | undefined = undefined;
  private readonly _firstSleep: number;

  /**
   * @param sleepWindow a fixed sleep window in ms, or a backoff whose n-th delay is used for the
   *   n-th consecutive open (the last one repeats when it runs out; closing starts it over).
   */
  constructor(sleepWindow: number | Backoff, firstSleep: number, gate: HalfOpenGate) {
    this._backoff = typeof sleepWindow === 'number' ? undefined : sleepWindow;
    this._firstSleep = firstSleep;
    this.sleepWindow = firstSleep;
    this.gate = gate;
  }

  /** The state as seen at `now` (never changes anything). */
  read(now: number): CircuitState {
    return this.state === 'open' && now >= this.retryAt ? 'half-open' : this.state;
  }

  /** Opens (from closed or half-open) at `now`: the next sleep window starts. */
  open(now: number): void {
    this.opens++;
    if (this._backoff !== undefined) this.sleepWindow = this._nextDelay();
    this.retryAt = now + this.sleepWindow;
    this._enter('open');
  }

  /** Open to half-open: a fresh round of trials. */
  halfOpen(): void {
    this.gate.startRound();
    this._enter('half-open');
  }

  /** A new half-open round after stuck trials; their late outcomes become stale. */
  newRound(): void {
    this.gate.startRound();
    this.generation++;
  }

  /** Back to closed (or forced-closed / isolated): the sleep-window backoff starts over. */
  settle(state: 'closed' | 'forced-closed' | 'isolated'): void {
    this.opens = 0;
    this._delays = undefined;
    this.sleepWindow = this._firstSleep;
    this.retryAt = state === 'isolated' ? Number.POSITIVE_INFINITY : 0;
    this._enter(state);
  }

  /** Restores an open state after `opens` opens, with `remaining` ms of sleep window left. */
  restoreOpen(now: number, opens: number, remaining: number): void {
    this.opens = 0;
    this._delays = undefined;
    for (let i = 0; i < opens; i++) {
      this.opens++;
      if (this._backoff !== undefined) this.sleepWindow = this._nextDelay();
    }
    this.retryAt = now + Math.min(remaining, this.sleepWindow);
    this._enter('open');
  }

  private _enter(state: CircuitState): void {
    this.state = state;
    this.generation++;
  }

  private _nextDelay(): number {
    this._delays ??= (this._backoff as Backoff)[Symbol.iterator]();
    const step = this._delays.next();
    // An exhausted or broken backoff keeps the last good delay: a breaker must not throw here.
    if (step.done === true || !(typeof step.value === 'number' && step.value >= 0 && step.value < Infinity)) {
      return this.opens <= 1 ? this._firstSleep : this.sleepWindow;
    }
    return step.value;
  }
}
