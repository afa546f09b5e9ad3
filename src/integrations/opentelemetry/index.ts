/**
 * `staunch/opentelemetry` — OpenTelemetry metrics for staunch policies and pipelines: counters of
 * policy events, histograms of attempt and call durations, and gauges of breaker state and
 * bulkhead occupancy. `@opentelemetry/api` is imported by this subpath only.
 *
 * @packageDocumentation
 * @module staunch/opentelemetry
 */
import {
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  metrics,
  type ObservableGauge,
  type ObservableResult,
  ValueType,
} from '@opentelemetry/api';
import { CircuitBreaker } from '../../breaker/index.js';
import { Bulkhead } from '../../bulkhead/index.js';
import { type Context, proceed } from '../../core/context.js';
import { Stage } from '../../core/policy.js';
import {
  type Clock,
  Fallback,
  Pipeline,
  type Policy,
  RetryPolicy,
  systemClock,
  Timeout,
  type Unsubscribe,
} from '../../index.js';

/** Metric names (stable). */
export const METRICS = {
  /** Counter of policy events, `{event}`. */
  events: 'staunch.policy.events',
  /** Histogram of one attempt of the protected function, seconds. */
  attemptDuration: 'staunch.attempt.duration',
  /** Histogram of one whole call through the pipeline (retries, waits included), seconds. */
  callDuration: 'staunch.pipeline.duration',
  /** Gauge: 1 for the breaker's current state, 0 for the others (a state set). */
  breakerState: 'staunch.circuit_breaker.state',
  /** Gauge: calls running in a bulkhead. */
  bulkheadRunning: 'staunch.bulkhead.running',
  /** Gauge: calls queued in a bulkhead. */
  bulkheadQueued: 'staunch.bulkhead.queued',
} as const;

/** Attribute names (stable). */
export const ATTRIBUTES = {
  /** The name given to `instrument` / `instrumented`. */
  policyName: 'staunch.policy.name',
  /** `retry`, `circuit_breaker`, `bulkhead`, `timeout`, `fallback` or `pipeline`. */
  policyKind: 'staunch.policy.kind',
  /** The event, snake_case: `retry`, `give_up`, `success`, `timeout`, `fallback`, ... */
  event: 'staunch.event',
  /** `success` or `failure` (duration histograms). */
  outcome: 'staunch.outcome',
  /** OpenTelemetry's general attribute: the error's `code` if it has one, else its class name. */
  errorType: 'error.type',
  /** A breaker's state (`closed`, `open`, `half-open`, `isolated`, `forced-closed`). */
  breakerState: 'staunch.circuit_breaker.state',
  /** What kind of failure a breaker counted (`error`, `timeout`, `rejection`, `result`, `slow`). */
  failureKind: 'staunch.circuit_breaker.failure_kind',
  /** Why a bulkhead rejected (`queue-full`, `queue-timeout`) or a breaker ignored an outcome. */
  reason: 'staunch.reason',
} as const;

/** Options of {@link instrument} and {@link instrumented}. */
export interface InstrumentOptions {
  /** The name reported as `staunch.policy.name`, e.g. `'payments-api'`. Required. */
  readonly name: string;
  /** The meter to record with. Default `metrics.getMeter('staunch')` (the global provider). */
  readonly meter?: Meter;
  /** Extra attributes added to every measurement (keep them low-cardinality). */
  readonly attributes?: Attributes;
}

/** Options of {@link instrumented}. */
export interface InstrumentedOptions extends InstrumentOptions {
  /** Also count the policies' events (as {@link instrument} does). Default `true`. */
  readonly events?: boolean;
  /** Time source for the durations (milliseconds). Default {@link systemClock}. */
  readonly clock?: Clock;
}

/** A pipeline that records durations; `dispose()` unsubscribes its event listeners. */
export type InstrumentedPipeline<R> = Pipeline<R> & {
  /** Unsubscribes the instrumentation's event listeners. */
  dispose(): void;
};

interface Instruments {
  readonly events: Counter;
  readonly attempt: Histogram;
  readonly call: Histogram;
  readonly breakers: Map<BreakerLike, Attributes[]>;
  readonly bulkheads: Map<BulkheadLike, Attributes[]>;
}

const STATES = ['closed', 'open', 'half-open', 'isolated', 'forced-closed'] as const;
const perMeter = new WeakMap<Meter, Instruments>();

function instrumentsOf(meter: Meter): Instruments {
  let found = perMeter.get(meter);
  if (found !== undefined) return found;
  const breakers = new Map<BreakerLike, Attributes[]>();
  const bulkheads = new Map<BulkheadLike, Attributes[]>();
  const durationOptions = {
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  };
  const stateGauge: ObservableGauge = meter.createObservableGauge(METRICS.breakerState, {
    description: 'Circuit breaker state: 1 for the current state, 0 for the others',
    unit: '{state}',
    valueType: ValueType.INT,
  });
  stateGauge.addCallback((result: ObservableResult) => {
    for (const [breaker, list] of breakers) {
      const state = breaker.state;
      for (const attributes of list) {
        for (const s of STATES) result.observe(s === state ? 1 : 0, { ...attributes, [ATTRIBUTES.breakerState]: s });
      }
    }
  });
  const running = meter.createObservableGauge(METRICS.bulkheadRunning, {
    description: 'Calls running in the bulkhead',
    unit: '{call}',
    valueType: ValueType.INT,
  });
  running.addCallback((result) => {
    for (const [bulkhead, list] of bulkheads) for (const a of list) result.observe(bulkhead.running, a);
  });
  const queued = meter.createObservableGauge(METRICS.bulkheadQueued, {
    description: 'Calls waiting in the bulkhead queue',
    unit: '{call}',
    valueType: ValueType.INT,
  });
  queued.addCallback((result) => {
    for (const [bulkhead, list] of bulkheads) for (const a of list) result.observe(bulkhead.queued, a);
  });
  found = {
    events: meter.createCounter(METRICS.events, {
      description: 'Events of staunch policies',
      unit: '{event}',
      valueType: ValueType.INT,
    }),
    attempt: meter.createHistogram(METRICS.attemptDuration, {
      description: 'Duration of one attempt of the protected function',
      ...durationOptions,
    }),
    call: meter.createHistogram(METRICS.callDuration, {
      description: 'Duration of a whole call through the pipeline, retries and waits included',
      ...durationOptions,
    }),
    breakers,
    bulkheads,
  };
  perMeter.set(meter, found);
  return found;
}

/**
 * The `error.type` of an error: its string `code` (`STAUNCH_TIMEOUT`, `ECONNRESET`, ...) when it
 * has one, else its class name, else `_OTHER` (OpenTelemetry's fallback value).
 */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}

/** The parts of a breaker the state gauge reads (structural, so another copy of staunch works). */
interface BreakerLike {
  readonly state: string;
  metrics(): unknown;
  isolate(): void;
}

/** The parts of a bulkhead the gauges read. */
interface BulkheadLike {
  readonly running: number;
  readonly queued: number;
  readonly maxConcurrent: number;
}

function isBreaker(value: object): value is BreakerLike {
  if (value instanceof CircuitBreaker) return true;
  const v = value as Partial<BreakerLike>;
  return typeof v.metrics === 'function' && typeof v.isolate === 'function' && typeof v.state === 'string';
}

function isBulkhead(value: object): value is BulkheadLike {
  if (value instanceof Bulkhead) return true;
  const v = value as Partial<BulkheadLike>;
  return typeof v.running === 'number' && typeof v.queued === 'number' && typeof v.maxConcurrent === 'number';
}

/**
 * The kind of a policy, for `staunch.policy.kind`: by class, then by shape and class name, so
 * policies from a duplicate copy of staunch are recognised too.
 */
export function policyKind(policy: Policy<unknown>): string {
  if (policy instanceof RetryPolicy) return 'retry';
  if (isBreaker(policy)) return 'circuit_breaker';
  if (isBulkhead(policy)) return 'bulkhead';
  if (policy instanceof Timeout) return 'timeout';
  if (policy instanceof Fallback) return 'fallback';
  if (policy instanceof Pipeline) return 'pipeline';
  const name = policy.constructor?.name ?? 'policy';
  return name === 'RetryPolicy' ? 'retry' : snake(name);
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function checkOptions(owner: string, options: InstrumentOptions): Meter {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${owner}: options are required`);
  if (typeof options.name !== 'string' || options.name === '') {
    throw new TypeError(`${owner}: name must be a non-empty string`);
  }
  const meter = options.meter ?? metrics.getMeter('staunch');
  if (typeof meter.createCounter !== 'function') throw new TypeError(`${owner}: meter must be an OpenTelemetry Meter`);
  return meter;
}

type Payload = Record<string, unknown>;
type Extract = (payload: Payload) => Attributes;

const errorOf: Extract = (p) =>
  'error' in p && p.error !== undefined ? { [ATTRIBUTES.errorType]: errorType(p.error) } : {};
const outcomeError: Extract = (p) => {
  const outcome = p.outcome as { kind: string; error?: unknown } | undefined;
  return outcome?.kind === 'error' ? { [ATTRIBUTES.errorType]: errorType(outcome.error) } : {};
};

/** The events counted per kind, and the attributes each adds. */
const EVENTS: Record<string, Record<string, Extract>> = {
  retry: { retry: outcomeError, giveUp: outcomeError, success: () => ({}) },
  timeout: { timeout: errorOf },
  fallback: { fallback: errorOf, fallbackFailed: (p) => ({ [ATTRIBUTES.errorType]: errorType(p.fallbackError) }) },
  circuit_breaker: {
    stateChange: (p) => ({ [ATTRIBUTES.breakerState]: String(p.to) }),
    success: () => ({}),
    failure: (p) => ({ ...errorOf(p), [ATTRIBUTES.failureKind]: String(p.kind) }),
    shortCircuit: () => ({}),
    ignored: (p) => ({ [ATTRIBUTES.reason]: String(p.reason) }),
  },
  bulkhead: {
    admit: () => ({}),
    queue: () => ({}),
    reject: (p) => ({ ...errorOf(p), [ATTRIBUTES.reason]: String(p.reason) }),
  },
};

/**
 * Counts the events of a policy (every policy of a pipeline) into `staunch.policy.events`, and
 * reports breakers' state and bulkheads' occupancy as gauges. Listeners are attached only here:
 * an uninstrumented policy pays nothing.
 * @returns a function that removes every listener and gauge registration.
 */
export function instrument(policy: Policy<unknown>, options: InstrumentOptions): Unsubscribe {
  const meter = checkOptions('instrument', options);
  if (typeof policy !== 'object' || policy === null || !Array.isArray(policy._chain)) {
    throw new TypeError('instrument: policy must be a staunch policy or pipeline');
  }
  const inst = instrumentsOf(meter);
  const undo: (() => void)[] = [];
  for (const stage of policy._chain) {
    const kind = policyKind(stage);
    const base: Attributes = {
      ...options.attributes,
      [ATTRIBUTES.policyName]: options.name,
      [ATTRIBUTES.policyKind]: kind,
    };
    const events = EVENTS[kind];
    if (events !== undefined) {
      const on = stage.on as (type: string, listener: (payload: Payload) => void) => Unsubscribe;
      for (const [type, extract] of Object.entries(events)) {
        const event = snake(type);
        undo.push(
          on.call(stage, type, (payload) => {
            inst.events.add(1, { ...base, [ATTRIBUTES.event]: event, ...extract(payload ?? {}) });
          }),
        );
      }
    }
    const registry: Map<object, Attributes[]> | undefined =
      kind === 'circuit_breaker'
        ? (inst.breakers as Map<object, Attributes[]>)
        : kind === 'bulkhead'
          ? (inst.bulkheads as Map<object, Attributes[]>)
          : undefined;
    if (registry !== undefined) {
      const list = registry.get(stage) ?? [];
      list.push(base);
      registry.set(stage, list);
      undo.push(() => {
        const current = registry.get(stage);
        if (current === undefined) return;
        const rest = current.filter((a) => a !== base);
        if (rest.length === 0) registry.delete(stage);
        else registry.set(stage, rest);
      });
    }
  }
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    for (const fn of undo) fn();
  };
}

/** Records the duration of whatever runs inside it, into one histogram. */
class DurationStage extends Stage {
  constructor(
    private readonly _histogram: Histogram,
    private readonly _attributes: Attributes,
    private readonly _clock: Clock,
  ) {
    super();
  }

  /** @internal */
  async _run(context: Context, next: number): Promise<unknown> {
    const start = this._clock.now();
    try {
      const result = await proceed(context, next);
      this._histogram.record((this._clock.now() - start) / 1000, {
        ...this._attributes,
        [ATTRIBUTES.outcome]: 'success',
      });
      return result;
    } catch (error) {
      this._histogram.record((this._clock.now() - start) / 1000, {
        ...this._attributes,
        [ATTRIBUTES.outcome]: 'failure',
        [ATTRIBUTES.errorType]: errorType(error),
      });
      throw error;
    }
  }
}

/**
 * Wraps a policy (or pipeline) into a pipeline that records each call's duration
 * (`staunch.pipeline.duration`) and each attempt's (`staunch.attempt.duration`, the protected
 * function alone), in seconds, with `staunch.outcome` and `error.type`; by default it also counts
 * the policies' events (see {@link instrument}). Use the result in place of the policy.
 *
 * @example
 * const api = instrumented(pipeline(retry, breaker, new Timeout(2000)), { name: 'payments-api' });
 * await api.execute(({ signal }) => fetch(url, { signal }));
 */
export function instrumented<R>(policy: Policy<R>, options: InstrumentedOptions): InstrumentedPipeline<R> {
  const meter = checkOptions('instrumented', options);
  const inst = instrumentsOf(meter);
  const clock = options.clock ?? systemClock;
  const base: Attributes = {
    ...options.attributes,
    [ATTRIBUTES.policyName]: options.name,
    [ATTRIBUTES.policyKind]: policyKind(policy),
  };
  const wrapped = new Pipeline<R>([
    new DurationStage(inst.call, base, clock),
    policy,
    new DurationStage(inst.attempt, base, clock),
  ]);
  const unsubscribe = options.events === false ? () => {} : instrument(policy, options);
  return Object.assign(wrapped, { dispose: unsubscribe });
}
