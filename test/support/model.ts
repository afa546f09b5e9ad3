/**
 * A model of "a pipeline of random policies called by random callers running random scripted
 * functions", for property-based tests. {@link runScenario} runs one scenario under vitest's fake
 * timers and returns every invariant it saw broken (an empty list means the run was clean), so a
 * fast-check property can shrink a failing scenario and the shrunk one can be pasted into a
 * regression test verbatim.
 */
import { vi } from 'vitest';
import { CircuitBreaker, consecutiveFailures, goResiliency, slowCalls } from '../../src/breaker/index.js';
import { Bulkhead } from '../../src/bulkhead/index.js';
import type { Context } from '../../src/core/context.js';
import { proceed } from '../../src/core/context.js';
import { Stage } from '../../src/core/policy.js';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  Fallback,
  FallbackError,
  type Policy,
  pipeline,
  RetryPolicy,
  Timeout,
  TimeoutError,
} from '../../src/index.js';
import { type ListenerCount, trackListeners } from './listeners.js';

// Captured before any test fakes the timers: lets real I/O callbacks (and rejection tracking) run.
const realSetImmediate = globalThis.setImmediate;

/** How long a "hanging" function takes to settle when nothing stops it, in ms. */
export const HANG = 100_000;

/** What one invocation of the scripted function does. Delays are in ms. */
export type Behaviour =
  /** Returns (delay 0: synchronously, a plain value) or resolves after `delay`. `bad` values are failures to `retryResult`. */
  | { readonly kind: 'succeed'; readonly delay: number; readonly bad?: boolean }
  /** Throws synchronously (`sync`, delay ignored) or rejects after `delay`. */
  | { readonly kind: 'throw'; readonly delay: number; readonly sync?: boolean }
  /** Ignores its signal and settles after `delay` (HANG = hangs, as far as any policy can tell). */
  | { readonly kind: 'late'; readonly delay: number; readonly reject: boolean }
  /** Honours its signal: settles `delay` ms after `ctx.signal` aborts (rejecting with the reason, or resolving), else after HANG. */
  | { readonly kind: 'afterAbort'; readonly delay: number; readonly reject: boolean };

export type PolicySpec =
  | {
      readonly type: 'retry';
      readonly maxRetries: number;
      readonly backoff: readonly number[];
      readonly retryBad: boolean;
      readonly jitter: number;
    }
  | { readonly type: 'timeout'; readonly timeout: number; readonly cooperative: boolean }
  | { readonly type: 'fallback'; readonly handler: 'value' | 'async' | 'throw' | 'syncThrow' }
  /** Test-only: a deliberately broken stage, to prove that the harness notices each kind of fault. */
  | { readonly type: 'faulty'; readonly fault: Fault }
  | {
      readonly type: 'breaker';
      /**
       * 'hystrix' uses volumeThreshold/errorThresholdPercentage; a number n is consecutiveFailures(n);
       * 'go' is goResiliency({ errorThreshold: 2, successThreshold: 1, timeout: sleepWindow });
       * 'slow' is slowCalls({ slowCallDuration: 50, slowCallIsFailure: true }).
       */
      readonly rule: 'hystrix' | 'go' | 'slow' | number;
      readonly volumeThreshold: number;
      readonly errorThresholdPercentage: number;
      readonly sleepWindow: number;
      readonly trialCalls: number;
      readonly trialSuccesses: number;
    }
  | {
      readonly type: 'bulkhead';
      readonly maxConcurrent: number;
      readonly maxQueue: number;
      readonly queueTimeout?: number | undefined;
    };

export type Fault = 'leakTimer' | 'leakListener' | 'wrongValue' | 'neverSettle' | 'untypedError' | 'unhandled';

/** A stage with one deliberate fault. */
class Faulty extends Stage {
  constructor(private readonly fault: Fault) {
    super();
  }
  _run(context: Context, next: number): Promise<unknown> {
    const result = proceed(context, next);
    switch (this.fault) {
      case 'leakTimer':
        setTimeout(() => {}, 1_000_000);
        return result;
      case 'leakListener':
        if (context.abortable) context.signal.addEventListener('abort', () => {});
        return result;
      case 'wrongValue':
        return result.then(() => 'made up');
      case 'neverSettle':
        return result.then(() => new Promise(() => {}));
      case 'untypedError':
        return result.then(() => Promise.reject(new Error('from nowhere')));
      case 'unhandled':
        void Promise.reject(new Error('dropped'));
        return result;
    }
  }
}

export interface CallSpec {
  /** When the caller calls, in ms from the scenario's start. */
  readonly start: number;
  /** When the caller aborts, in ms after `start` (-1: the signal is already aborted). */
  readonly abortAfter?: number | undefined;
  /** Whether the call passes the scenario's shared long-lived (never aborted) signal. */
  readonly sharedSignal?: boolean | undefined;
  /** One behaviour per invocation; the last repeats. */
  readonly script: readonly Behaviour[];
}

export interface Scenario {
  readonly policies: readonly PolicySpec[];
  readonly calls: readonly CallSpec[];
}

const FALLBACK_VALUE = 'FALLBACK';

class ScriptError extends Error {
  constructor(
    readonly call: number,
    readonly invocation: number,
  ) {
    super(`script error ${call}/${invocation}`);
  }
}

class HandlerError extends Error {}

interface Built {
  readonly policy: Policy<unknown>;
  readonly timeouts: Timeout[];
  readonly bulkheads: Bulkhead[];
  readonly breakers: CircuitBreaker[];
}

function build(specs: readonly PolicySpec[]): Built {
  const timeouts: Timeout[] = [];
  const bulkheads: Bulkhead[] = [];
  const breakers: CircuitBreaker[] = [];
  const member = (spec: PolicySpec): Policy<unknown> => {
    switch (spec.type) {
      case 'faulty':
        return new Faulty(spec.fault);
      case 'retry':
        return new RetryPolicy({
          maxRetries: spec.maxRetries,
          backoff: spec.backoff,
          jitter: spec.jitter,
          random: () => 0.5,
          ...(spec.retryBad ? { retryResult: (r: unknown) => typeof r === 'string' && r.startsWith('bad:') } : {}),
        });
      case 'timeout': {
        const t = new Timeout({ timeout: spec.timeout, cooperative: spec.cooperative });
        timeouts.push(t);
        return t;
      }
      case 'fallback':
        return new Fallback((): string | Promise<string> => {
          switch (spec.handler) {
            case 'value':
              return FALLBACK_VALUE;
            case 'async':
              return Promise.resolve(FALLBACK_VALUE);
            case 'throw':
              return Promise.reject(new HandlerError('handler failed'));
            case 'syncThrow':
              throw new HandlerError('handler threw');
          }
        });
      case 'breaker': {
        const b = new CircuitBreaker({
          ...(spec.rule === 'hystrix'
            ? {}
            : spec.rule === 'go'
              ? { rule: goResiliency({ errorThreshold: 2, successThreshold: 1, timeout: spec.sleepWindow }) }
              : spec.rule === 'slow'
                ? { rule: slowCalls({ slowCallDuration: 50, slowCallIsFailure: true }) }
                : { rule: consecutiveFailures(spec.rule) }),
          volumeThreshold: spec.volumeThreshold,
          errorThresholdPercentage: spec.errorThresholdPercentage,
          rollingWindow: 1000,
          buckets: 10,
          sleepWindow: spec.sleepWindow,
          trialCalls: spec.trialCalls,
          trialSuccesses: spec.trialSuccesses,
        });
        breakers.push(b);
        return b;
      }
      case 'bulkhead': {
        const b = new Bulkhead({
          maxConcurrent: spec.maxConcurrent,
          maxQueue: spec.maxQueue,
          ...(spec.queueTimeout === undefined ? {} : { queueTimeout: spec.queueTimeout }),
        });
        bulkheads.push(b);
        return b;
      }
    }
  };
  const members = specs.map(member);
  return { policy: pipeline(...members), timeouts, bulkheads, breakers };
}

interface CallRecord {
  invocations: number;
  /** Invocations that have not settled yet. */
  open: number;
  readonly values: Set<unknown>;
  readonly errors: Set<unknown>;
  settled: number;
  outcome: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
  settledAt: number;
  abortedAt: number | undefined;
  controller: AbortController | undefined;
  listeners: ListenerCount | undefined;
}

/** The most attempts one call can make through these policies (retries multiply). */
function maxInvocations(specs: readonly PolicySpec[]): number {
  return specs.reduce((n, s) => (s.type === 'retry' ? n * (s.maxRetries + 1) : n), 1);
}

/**
 * Runs one scenario under fake timers (the caller must have called `vi.useFakeTimers()`) and
 * returns the broken invariants, each a sentence naming the call.
 */
export async function runScenario(scenario: Scenario): Promise<string[]> {
  const problems: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    await runInner(scenario, problems);
    // Let any stray rejection surface before the listener goes.
    await new Promise((resolve) => realSetImmediate(resolve));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  for (const reason of unhandled) problems.push(`unhandled rejection: ${String(reason)}`);
  return problems;
}

async function runInner(scenario: Scenario, problems: string[]): Promise<void> {
  const { policies } = scenario;
  const { policy, timeouts, bulkheads, breakers } = build(policies);
  const t0 = Date.now();
  const now = (): number => Date.now() - t0;
  const shared = new AbortController();
  const sharedListeners = trackListeners(shared.signal);
  const records: CallRecord[] = [];
  let running = 0;
  let maxRunning = 0;
  let invocationsOpen = 0;
  // Caller aborts still to come: the drive loop runs them too (an abort after the answer must do nothing).
  let abortsPending = 0;

  const fnFor = (callIndex: number, spec: CallSpec, rec: CallRecord) => {
    return (ctx: { signal: AbortSignal; attempt: number }): unknown => {
      const n = rec.invocations++;
      const b = spec.script[Math.min(n, spec.script.length - 1)] as Behaviour;
      const error = new ScriptError(callIndex, n);
      const value = `${b.kind === 'succeed' && b.bad === true ? 'bad' : 'v'}:${callIndex}:${n}`;
      if (b.kind === 'throw' && b.sync === true) {
        rec.errors.add(error);
        throw error;
      }
      if (b.kind === 'succeed' && b.delay === 0) {
        rec.values.add(value);
        return value;
      }
      rec.open++;
      invocationsOpen++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      return new Promise((resolve, reject) => {
        let done = false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let onAbort: (() => void) | undefined;
        let signal: AbortSignal | undefined;
        const finish = (ok: boolean, v: unknown): void => {
          if (done) return;
          done = true;
          if (timer !== undefined) clearTimeout(timer);
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          rec.open--;
          invocationsOpen--;
          running--;
          if (ok) {
            rec.values.add(v);
            resolve(v);
          } else {
            rec.errors.add(v);
            reject(v);
          }
        };
        switch (b.kind) {
          case 'succeed':
            timer = setTimeout(() => finish(true, value), b.delay);
            break;
          case 'throw':
            timer = setTimeout(() => finish(false, error), b.delay);
            break;
          case 'late':
            timer = setTimeout(() => finish(!b.reject, b.reject ? error : value), b.delay);
            break;
          case 'afterAbort': {
            signal = ctx.signal;
            const s = signal;
            const settle = (): void => {
              timer = setTimeout(() => finish(!b.reject, b.reject ? s.reason : value), b.delay);
            };
            if (s.aborted) settle();
            else {
              onAbort = () => {
                if (timer !== undefined) clearTimeout(timer);
                settle();
              };
              s.addEventListener('abort', onAbort, { once: true });
              timer = setTimeout(() => finish(!b.reject, b.reject ? error : value), HANG);
            }
            break;
          }
        }
      });
    };
  };

  const starts: Promise<void>[] = [];
  scenario.calls.forEach((spec, i) => {
    const rec: CallRecord = {
      invocations: 0,
      open: 0,
      values: new Set(),
      errors: new Set(),
      settled: 0,
      outcome: undefined,
      settledAt: -1,
      abortedAt: undefined,
      controller: undefined,
      listeners: undefined,
    };
    records.push(rec);
    starts.push(
      new Promise<void>((started) => {
        setTimeout(() => {
          let signal: AbortSignal | undefined;
          if (spec.abortAfter !== undefined) {
            const controller = new AbortController();
            rec.controller = controller;
            rec.listeners = trackListeners(controller.signal);
            signal = controller.signal;
            if (spec.abortAfter < 0) {
              controller.abort(new Error(`caller ${i} aborted`));
              rec.abortedAt = now();
            } else {
              abortsPending++;
              setTimeout(() => {
                abortsPending--;
                // A call that has not settled yet must be answered with the reason.
                rec.abortedAt = now();
                controller.abort(i % 2 === 0 ? new Error(`caller ${i} aborted`) : undefined);
              }, spec.abortAfter);
            }
          } else if (spec.sharedSignal === true) signal = shared.signal;
          const p = policy.execute(fnFor(i, spec, rec), signal === undefined ? undefined : { signal });
          if (!(p instanceof Promise)) problems.push(`call ${i}: execute did not return a native promise`);
          p.then(
            (value) => {
              rec.settled++;
              rec.settledAt = now();
              rec.outcome = { ok: true, value };
            },
            (error: unknown) => {
              rec.settled++;
              rec.settledAt = now();
              rec.outcome = { ok: false, error };
            },
          );
          started();
        }, spec.start);
      }),
    );
  });

  const allDone = (): boolean =>
    records.length === scenario.calls.length &&
    records.every((r) => r.settled > 0) &&
    invocationsOpen === 0 &&
    abortsPending === 0;

  // Drive the clock from timer to timer until everything has settled. If timers run out first,
  // something is stuck: nothing scheduled can ever settle it.
  let steps = 0;
  while (!allDone()) {
    if (vi.getTimerCount() === 0) {
      await Promise.resolve();
      await vi.advanceTimersByTimeAsync(0);
      if (!allDone() && vi.getTimerCount() === 0) break;
      continue;
    }
    await vi.advanceTimersToNextTimerAsync();
    if (++steps > 20_000) {
      problems.push('more than 20000 timer steps: a timer re-arms forever?');
      break;
    }
  }
  await Promise.all(starts);

  const hasTimeout = policies.some((p) => p.type === 'timeout');
  const hasBulkhead = policies.some((p) => p.type === 'bulkhead');
  const hasBreaker = policies.some((p) => p.type === 'breaker');
  const fallbackMayThrow = policies.some(
    (p) => p.type === 'fallback' && (p.handler === 'throw' || p.handler === 'syncThrow'),
  );
  const hasFallback = policies.some((p) => p.type === 'fallback');
  const limit = maxInvocations(policies);
  const first = policies[0];

  // An error is explained when it is this call's own error, or a policy's typed error that this
  // pipeline can produce, or the caller's reason.
  const explains = (rec: CallRecord, error: unknown, depth = 0): boolean => {
    if (rec.errors.has(error)) return true;
    if (rec.controller?.signal.aborted === true && error === rec.controller.signal.reason) return true;
    if (error instanceof TimeoutError) return hasTimeout;
    if (error instanceof BulkheadRejectedError) return hasBulkhead;
    if (error instanceof CircuitOpenError) return hasBreaker;
    if (error instanceof FallbackError) {
      return (
        fallbackMayThrow && error.cause instanceof HandlerError && depth < 8 && explains(rec, error.error, depth + 1)
      );
    }
    return false;
  };

  records.forEach((rec, i) => {
    const spec = scenario.calls[i] as CallSpec;
    const outcome = rec.outcome;
    if (rec.settled !== 1 || outcome === undefined) {
      problems.push(`call ${i}: settled ${rec.settled} times (stuck: ${rec.open} invocations open)`);
      return;
    }
    if (rec.invocations > limit) problems.push(`call ${i}: ${rec.invocations} invocations, at most ${limit} allowed`);
    const abortedFirst = rec.abortedAt !== undefined && rec.abortedAt <= rec.settledAt;
    const reason = rec.controller?.signal.reason;
    if (outcome.ok) {
      if (abortedFirst && rec.abortedAt !== rec.settledAt) {
        problems.push(`call ${i}: resolved at ${rec.settledAt} after the caller aborted at ${rec.abortedAt}`);
      }
      if (!(rec.values.has(outcome.value) || (hasFallback && outcome.value === FALLBACK_VALUE))) {
        problems.push(`call ${i}: resolved with ${String(outcome.value)}, which nothing produced`);
      }
    } else {
      const { error } = outcome;
      if (!explains(rec, error)) problems.push(`call ${i}: rejected with an unexplained ${String(error)}`);
      if (abortedFirst && rec.abortedAt !== rec.settledAt && error !== reason) {
        problems.push(`call ${i}: aborted at ${rec.abortedAt} but rejected with ${String(error)}`);
      }
      if (!abortedFirst && reason !== undefined && error === reason) {
        problems.push(`call ${i}: rejected with the abort reason before aborting`);
      }
      // An outermost fallback whose handler cannot fail answers every failure but the caller's own.
      if (first?.type === 'fallback' && (first.handler === 'value' || first.handler === 'async') && !abortedFirst) {
        problems.push(`call ${i}: the outermost fallback let ${String(error)} through`);
      }
    }
    // Bounded latency: an outermost non-cooperative timeout answers within its deadline.
    if (first?.type === 'timeout' && !first.cooperative && spec.abortAfter !== -1) {
      const latency = rec.settledAt - spec.start;
      if (latency > first.timeout) problems.push(`call ${i}: answered after ${latency} ms > timeout ${first.timeout}`);
    }
    // A short-circuited call never reaches the function unless a retry outside the breaker tried again.
    // (The innermost breaker counts: a retry between two breakers re-enters the inner one.)
    const bi = policies.map((p) => p.type).lastIndexOf('breaker');
    if (
      !outcome.ok &&
      outcome.error instanceof CircuitOpenError &&
      !policies.slice(0, bi).some((p) => p.type === 'retry') &&
      rec.invocations !== 0
    ) {
      problems.push(`call ${i}: short-circuited after ${rec.invocations} invocation(s)`);
    }
    const left = rec.listeners?.active() ?? 0;
    if (left !== 0) problems.push(`call ${i}: ${left} listener(s) left on the caller's signal`);
  });

  const sharedLeft = sharedListeners.active();
  if (sharedLeft !== 0) problems.push(`${sharedLeft} listener(s) left on the shared signal`);
  for (const b of bulkheads) {
    if (b.running !== 0 || b.queued !== 0) problems.push(`bulkhead not idle: ${b.running} running, ${b.queued} queued`);
  }
  for (const b of breakers) {
    const c = b.metrics().concurrent;
    if (c !== 0) problems.push(`breaker not idle: ${c} concurrent`);
  }
  for (const t of timeouts) if (t.pending !== 0) problems.push(`timeout not idle: ${t.pending} pending`);

  // The work itself never runs more than maxConcurrent at once when no Timeout lets the
  // bulkhead's slot go before the work ends (see Bulkhead's "what a slot means").
  policies.forEach((spec, bi) => {
    if (spec.type !== 'bulkhead' || policies.slice(bi + 1).some((p) => p.type === 'timeout')) return;
    if (maxRunning > spec.maxConcurrent) {
      problems.push(`${maxRunning} invocations ran at once through a bulkhead of ${spec.maxConcurrent}`);
    }
  });

  // An idle Timeout's shared timer goes off at most once more, within its deadline. One sleep
  // window later no breaker may be stuck: it admits a probe.
  const largest = Math.max(
    0,
    ...policies.map((p) => (p.type === 'timeout' ? p.timeout : p.type === 'breaker' ? p.sleepWindow : 0)),
  );
  await vi.advanceTimersByTimeAsync(largest + 1);
  for (const b of breakers) {
    const probe = await b.execute(() => 'probe').catch((error: unknown) => error);
    if (probe !== 'probe') problems.push(`breaker stuck ${b.state} after going idle: the probe got ${String(probe)}`);
  }
  const left = vi.getTimerCount();
  if (left !== 0) problems.push(`${left} timer(s) still scheduled after everything settled`);
}
