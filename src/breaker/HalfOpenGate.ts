/**
 * @internal Admission in the half-open state: at most `maxCalls` trial calls at a time, and
 * `successesToClose` trial successes close the breaker. A trial that never settles must not block
 * the breaker: when no permit is free and the newest trial was admitted at least one sleep window
 * ago, the caller starts a new round (the breaker bumps its generation, so the old trials'
 * outcomes are ignored).
 */
export class HalfOpenGate {
  /** Trial calls admitted at once (Infinity: every caller, as go-resiliency). */
  readonly maxCalls: number;
  /** Trial successes that close the breaker. */
  readonly successesToClose: number;
  /** Trials of this round still running. */
  inFlight = 0;
  /** Trial successes of this round. */
  successes = 0;
  /** Clock time of the newest admission, in milliseconds. */
  lastAdmission = Number.NEGATIVE_INFINITY;

  constructor(maxCalls: number, successesToClose: number) {
    this.maxCalls = maxCalls;
    this.successesToClose = successesToClose;
  }

  /** Starts a round with no trial. */
  startRound(): void {
    this.inFlight = 0;
    this.successes = 0;
    this.lastAdmission = Number.NEGATIVE_INFINITY;
  }

  /** Whether a permit is free now. */
  get free(): boolean {
    return this.inFlight < this.maxCalls;
  }

  /** Whether the running trials have held all permits for `sleepWindow` ms (stuck). */
  stuck(now: number, sleepWindow: number): boolean {
    return now - this.lastAdmission >= sleepWindow;
  }

  /** Takes a permit. */
  admit(now: number): void {
    this.inFlight++;
    this.lastAdmission = now;
  }

  /** Gives back a permit of a trial that settled without a verdict (cancelled, excluded error). */
  release(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  /** Records a trial success; true when the breaker should close. */
  succeed(): boolean {
    this.release();
    return ++this.successes >= this.successesToClose;
  }
}
