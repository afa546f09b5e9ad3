import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState, goResiliency } from '../../src/breaker/index.js';
import { CircuitOpenError } from '../../src/core/errors.js';
import { ManualClock, settle } from './helpers.js';

interface Params {
  volume: number;
  percentage: number;
  buckets: number;
  bucketLength: number;
  sleep: number;
}

type Op = { kind: 'ok' } | { kind: 'fail' } | { kind: 'advance'; ms: number } | { kind: 'reset' };

/** The Hystrix rule written the obvious way: a list of every counted outcome, filtered on read. */
class Model {
  state: 'closed' | 'open' = 'closed';
  retryAt = 0;
  outcomes: { t: number; failed: boolean }[] = [];
  constructor(readonly p: Params) {}

  read(t: number): CircuitState {
    return this.state === 'open' && t >= this.retryAt ? 'half-open' : this.state;
  }

  /** Returns whether the call was short-circuited. */
  call(t: number, failed: boolean): boolean {
    if (this.state === 'open') {
      if (t < this.retryAt) return true;
      if (failed) this.retryAt = t + this.p.sleep;
      else {
        this.state = 'closed';
        this.outcomes = [];
      }
      return false;
    }
    this.outcomes.push({ t, failed });
    const slot = Math.floor(t / this.p.bucketLength);
    const live = this.outcomes.filter((o) => Math.floor(o.t / this.p.bucketLength) > slot - this.p.buckets);
    const errors = live.filter((o) => o.failed).length;
    if (live.length >= this.p.volume && Math.floor((100 * errors) / live.length) >= this.p.percentage) {
      this.state = 'open';
      this.retryAt = t + this.p.sleep;
    }
    return false;
  }

  requests(t: number): number {
    const slot = Math.floor(t / this.p.bucketLength);
    return this.outcomes.filter((o) => Math.floor(o.t / this.p.bucketLength) > slot - this.p.buckets).length;
  }
}

const params = fc.record({
  volume: fc.integer({ min: 0, max: 12 }),
  // Thresholds near fractions of small totals, where floor and rounding differ.
  percentage: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(34, 43, 50, 57, 60, 67, 75, 84, 86, 100)),
  buckets: fc.integer({ min: 1, max: 6 }),
  bucketLength: fc.integer({ min: 1, max: 40 }),
  sleep: fc.integer({ min: 1, max: 150 }),
});

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'ok' } as const) },
  { weight: 5, arbitrary: fc.constant({ kind: 'fail' } as const) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 120 }).map((ms) => ({ kind: 'advance', ms }) as const) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 2000 }).map((ms) => ({ kind: 'advance', ms }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' } as const) },
);

describe('CircuitBreaker against a reference model of the Hystrix rule', () => {
  it('agrees on every state, every short circuit and the request count', async () => {
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.integer({ min: -5000, max: 5000 }),
        fc.array(op, { maxLength: 120 }),
        async (p, start, ops) => {
          const clock = new ManualClock(start);
          const breaker = new CircuitBreaker({
            clock,
            volumeThreshold: p.volume,
            errorThresholdPercentage: p.percentage,
            buckets: p.buckets,
            rollingWindow: p.buckets * p.bucketLength,
            sleepWindow: p.sleep,
          });
          const model = new Model(p);
          for (const o of ops) {
            if (o.kind === 'advance') clock.advance(o.ms);
            else if (o.kind === 'reset') {
              breaker.reset();
              model.state = 'closed';
              model.outcomes = [];
            } else {
              const failed = o.kind === 'fail';
              const r = await settle(
                breaker.execute(() => {
                  if (failed) throw new Error('x');
                  return 1;
                }),
              );
              const short = model.call(clock.time, failed);
              expect(!r.ok && r.error instanceof CircuitOpenError).toBe(short);
            }
            expect(breaker.state).toBe(model.read(clock.time));
            if (model.state === 'closed') expect(breaker.metrics().requests).toBe(model.requests(clock.time));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** go-resiliency's breaker, as SEMANTICS §3 states it. */
class GoModel {
  state: 'closed' | 'open' | 'half-open' = 'closed';
  retryAt = 0;
  errors = 0;
  lastError = Number.NEGATIVE_INFINITY;
  successes = 0;
  constructor(
    readonly errorThreshold: number,
    readonly successThreshold: number,
    readonly timeout: number,
  ) {}

  read(t: number): CircuitState {
    return this.state === 'open' && t >= this.retryAt ? 'half-open' : this.state;
  }

  call(t: number, failed: boolean): boolean {
    if (this.state === 'open') {
      if (t < this.retryAt) return true;
      this.state = 'half-open';
      this.successes = 0;
    }
    if (this.state === 'half-open') {
      if (failed) this.open(t);
      else if (++this.successes >= this.successThreshold) {
        this.state = 'closed';
        this.errors = 0;
        this.lastError = Number.NEGATIVE_INFINITY;
      }
      return false;
    }
    if (failed) {
      if (t - this.lastError > this.timeout) this.errors = 0;
      this.errors++;
      this.lastError = t;
      if (this.errors >= this.errorThreshold) this.open(t);
    }
    return false;
  }

  private open(t: number): void {
    this.state = 'open';
    this.retryAt = t + this.timeout;
  }
}

describe('CircuitBreaker against a reference model of the go-resiliency rule', () => {
  it('agrees on every state and every short circuit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(op, { maxLength: 100 }),
        async (errorThreshold, successThreshold, timeout, ops) => {
          const clock = new ManualClock(0);
          const breaker = new CircuitBreaker({
            clock,
            rule: goResiliency({ errorThreshold, successThreshold, timeout }),
          });
          const model = new GoModel(errorThreshold, successThreshold, timeout);
          for (const o of ops) {
            if (o.kind === 'advance') clock.advance(o.ms);
            else if (o.kind === 'reset') {
              breaker.reset();
              model.state = 'closed';
              model.errors = 0;
              model.lastError = Number.NEGATIVE_INFINITY;
            } else {
              const failed = o.kind === 'fail';
              const r = await settle(
                breaker.execute(() => {
                  if (failed) throw new Error('x');
                  return 1;
                }),
              );
              expect(!r.ok && r.error instanceof CircuitOpenError).toBe(model.call(clock.time, failed));
            }
            expect(breaker.state).toBe(model.read(clock.time));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
