import { reportError } from '../core/report.js';
import type { Backoff } from '../retry/backoff.js';
import type { HalfOpenGate } from './HalfOpenGate.js';

/**
 * @internal A sleep-window backoff is followed for this many consecutive opens; later opens keep
 * its last delay. Bounds the work of restoring a snapshot with a huge `opens` (and of a breaker
 * that re-opens for ever): every practical backoff has long reached its maximum by then.
 */
export const MAX_BACKOFF_OPENS = 1000;

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
  /** The backoff ran out (or broke): its last delay is final until the breaker closes. */
  private _exhausted = false;
  private readonly _firstSleep: number;
  /** Where a throwing backoff is reported. */
  private readonly _source: string;

  /**
   * @param sleepWindow a fixed sleep window in ms, or a backoff whose n-th delay is used for the
   *   n-th consecutive open (the last one repeats when it runs out; closing starts it over; from
   *   open {@link MAX_BACKOFF_OPENS} on the delay no longer changes).
   * @param source names the owner when a backoff that throws is reported.
   */
  constructor(sleepWindow: number | Backoff, firstSleep: number, gate: HalfOpenGate, source = 'CircuitBreaker') {
    this._backoff = typeof sleepWindow === 'number' ? undefined : sleepWindow;
    this._firstSleep = firstSleep;
    this.sleepWindow = firstSleep;
    this.gate = gate;
    this._source = source;
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
    this._exhausted = false;
    this.sleepWindow = this._firstSleep;
    this.retryAt = state === 'isolated' ? Number.POSITIVE_INFINITY : 0;
    this._enter(state);
  }

  /**
   * Restores an open state after `opens` opens, with `remaining` ms of sleep window left. Bounded
   * work whatever `opens` is: a backoff is stepped at most {@link MAX_BACKOFF_OPENS} times (and not
   * past its end).
   */
  restoreOpen(now: number, opens: number, remaining: number): void {
    this.opens = 0;
    this._delays = undefined;
    this._exhausted = false;
    this.sleepWindow = this._firstSleep;
    if (this._backoff !== undefined) {
      const steps = Math.min(opens, MAX_BACKOFF_OPENS);
      for (let i = 1; i <= steps && !this._exhausted; i++) {
        this.opens = i;
        this.sleepWindow = this._nextDelay();
      }
    }
    this.opens = opens;
    this.retryAt = now + Math.min(remaining, this.sleepWindow);
    this._enter('open');
  }

  private _enter(state: CircuitState): void {
    this.state = state;
    this.generation++;
  }

  /** The delay of open number `this.opens` (already counted). Never throws. */
  private _nextDelay(): number {
    const last = this.opens <= 1 ? this._firstSleep : this.sleepWindow;
    if (this._exhausted || this.opens > MAX_BACKOFF_OPENS) return last;
    let step: IteratorResult<number>;
    try {
      this._delays ??= (this._backoff as Backoff)[Symbol.iterator]();
      step = this._delays.next();
    } catch (error) {
      // A breaker must not throw while it opens: the call's own outcome stands, the bug is reported.
      reportError(error, `${this._source} sleepWindow backoff`);
      this._exhausted = true;
      return last;
    }
    // An exhausted backoff keeps its last delay for good; a bad delay (NaN, negative, Infinity)
    // keeps the last good one.
    if (step.done === true) {
      this._exhausted = true;
      return last;
    }
    if (!(typeof step.value === 'number' && step.value >= 0 && step.value < Infinity)) return last;
    return step.value;
  }
}
