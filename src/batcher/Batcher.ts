import { type AbortSubscription, isAbortSignal, onAbort } from '../core/abort.js';
import { type Clock, clearTimer, systemClock } from '../core/clock.js';
import { BatcherClosedError, BatchResultMissingError, describe } from '../core/errors.js';
import { settleOnce } from '../core/thenable.js';
import { checkOptions, clockOption, functionOption, MAX_TIMER_DELAY, numberOption } from '../core/validate.js';

/**
 * What a batch function may return: one result per item, either an array in the items' order or
 * a `Map` from each item's key to its result (a promise of either, or either).
 */
export type BatchResults<V, Key> = readonly V[] | ReadonlyMap<Key, V>;

/** Options of {@link Batcher}. `K` is an item, `V` its result, `Key` what `key` returns. */
export interface BatcherOptions<K, V, Key = K> {
  /**
   * The batch function: receives the items of one batch in arrival order and returns one result
   * per item — an array in the same order, or a `Map` keyed by `key(item)`. Required.
   */
  readonly run: (items: K[]) => BatchResults<V, Key> | PromiseLike<BatchResults<V, Key>>;
  /**
   * How long a batch collects calls, in milliseconds (> 0, at most 2^31 - 1), counted from its
   * first call (a fixed window, not a sliding one). Default 10 (Hystrix's collapser delay).
   */
  readonly window?: number;
  /**
   * The most items in one batch: an integer >= 1, or `Infinity`. Reaching it dispatches the batch
   * at once. Default `Infinity`.
   */
  readonly maxBatchSize?: number;
  /**
   * Maps an item to the key of its entry in a `Map` returned by `run`. Default: the item itself
   * (compared with `SameValueZero`, so objects need a key function). Unused for array results.
   */
  readonly key?: (item: K) => Key;
  /** Time source, for tests. Default {@link systemClock}. */
  readonly clock?: Clock;
}

/** Options of one {@link Batcher.call}. */
export interface BatchCallOptions {
  /**
   * The caller's cancellation: its abort rejects the call with `signal.reason` and, if its batch
   * has not started, takes the item out of the batch.
   */
  readonly signal?: AbortSignal | undefined;
}

const OWNER = 'Batcher';
const KNOWN = ['run', 'window', 'maxBatchSize', 'key', 'clock'] as const;
const CALL_KNOWN = ['signal'] as const;

/**
 * Collects concurrent calls into batches and runs one batch function for each (go-resiliency's
 * `batcher` and Hystrix's request collapser in one).
 *
 * The first call opens a batch; calls within `window` ms of it join, up to `maxBatchSize` (which
 * dispatches at once). The batch function gets the items in arrival order and returns a result
 * per item, handed back to each caller. If the batch function throws or rejects, every caller of
 * that batch rejects with that same error; a caller whose result is missing rejects with a
 * {@link BatchResultMissingError}. Every result is read before any caller is settled: if reading
 * them throws (an array's getter, a `Map` subclass's `get`/`has`, a Proxy), every caller of the
 * batch rejects with that error. Duplicate items are passed as given (not deduplicated).
 *
 * A caller that aborts is rejected at once with its signal's reason; if its batch has not started
 * its item is removed (a batch left empty is cancelled). Batches run independently — a slow batch
 * does not hold up the next one (put a {@link Bulkhead} inside `run` to limit them).
 * {@link Batcher.flush} dispatches the pending batch now; {@link Batcher.close} flushes and turns
 * away later calls. A timer runs only while a batch is collecting.
 *
 * @example
 * ```ts
 * const users = new Batcher<string, User>({
 *   window: 5,
 *   maxBatchSize: 100,
 *   run: async (ids) => {
 *     const rows = await db.query('SELECT * FROM users WHERE id = ANY($1)', [ids]);
 *     return new Map(rows.map((row) => [row.id, row]));
 *   },
 * });
 * const getUser = (id: string) => users.call(id); // many concurrent calls, one query
 * ```
 */
export class Batcher<K, V, Key = K> {
  /** The batch window, in milliseconds. */
  readonly window: number;
  /** The most items in one batch. */
  readonly maxBatchSize: number;
  private readonly _runBatch: (items: K[]) => BatchResults<V, Key> | PromiseLike<BatchResults<V, Key>>;
  private readonly _key: ((item: K) => Key) | undefined;
  private readonly _clock: Clock;
  private _pending: Batch<K, V> | undefined = undefined;
  private readonly _running = new Set<Promise<void>>();
  private _closed = false;

  /**
   * @throws TypeError for an unknown option, a missing `run` or a value of the wrong type.
   * @throws RangeError for `window` <= 0 or `maxBatchSize` < 1 or not an integer.
   */
  constructor(options: BatcherOptions<K, V, Key>) {
    checkOptions(OWNER, options, KNOWN);
    if (options === undefined) throw new TypeError(`${OWNER}: options with a run function are required`);
    const run = functionOption<BatcherOptions<K, V, Key>['run']>(OWNER, 'run', options.run);
    if (run === undefined) throw new TypeError(`${OWNER}: run (the batch function) is required`);
    this._runBatch = run;
    this.window = numberOption(OWNER, 'window', options.window, 10, {
      min: 0,
      minExclusive: true,
      max: MAX_TIMER_DELAY,
    });
    this.maxBatchSize = numberOption(OWNER, 'maxBatchSize', options.maxBatchSize, Number.POSITIVE_INFINITY, {
      min: 1,
      integer: true,
      allowInfinity: true,
    });
    this._key = functionOption<(item: K) => Key>(OWNER, 'key', options.key);
    this._clock = clockOption(OWNER, options.clock) ?? systemClock;
  }

  /** Items waiting in the batch being collected now (0 when none). */
  get pending(): number {
    return this._pending?.live ?? 0;
  }

  /** Batches dispatched and not yet settled. */
  get running(): number {
    return this._running.size;
  }

  /** Whether {@link Batcher.close} was called. */
  get closed(): boolean {
    return this._closed;
  }

  /**
   * Adds `item` to the batch being collected (opening one if needed).
   * @returns the item's result; rejects with the batch function's error, a
   *   {@link BatchResultMissingError}, `signal.reason` on abort, or a {@link BatcherClosedError}
   *   after {@link Batcher.close}.
   */
  call(item: K, options?: BatchCallOptions): Promise<V> {
    if (this._closed) return Promise.reject(new BatcherClosedError());
    let signal: AbortSignal | undefined;
    let batch = this._pending;
    // Always a promise: a throwing option getter, signal or clock rejects this call only.
    try {
      if (options !== undefined) {
        checkOptions('Batcher.call()', options, CALL_KNOWN);
        signal = options.signal;
        if (signal !== undefined) {
          if (!isAbortSignal(signal)) {
            return Promise.reject(new TypeError('Batcher.call(): signal must be an AbortSignal'));
          }
          if (signal.aborted) return Promise.reject(signal.reason);
        }
      }
      if (batch === undefined) {
        const opened = new Batch<K, V>();
        opened.timer = this._clock.setTimeout(() => this._dispatch(opened), this.window);
        this._pending = batch = opened;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const current = batch;
    return new Promise<V>((resolve, reject) => {
      const entry = new Entry<K, V>(current, item, resolve, reject);
      current.entries.push(entry);
      current.live++;
      if (signal !== undefined) {
        const s = signal;
        entry.subscription = onAbort(s, () => this._abandon(entry, s.reason));
      }
      if (current.live >= this.maxBatchSize) this._dispatch(current);
    });
  }

  /**
   * Dispatches the batch being collected now, without waiting for its window.
   * @returns a promise that resolves (never rejects) once that batch has settled.
   */
  flush(): Promise<void> {
    const batch = this._pending;
    if (batch === undefined) return Promise.resolve();
    return this._dispatch(batch);
  }

  /**
   * Flushes, then rejects every later {@link Batcher.call} with a {@link BatcherClosedError}.
   * @returns a promise that resolves (never rejects) once every dispatched batch has settled.
   */
  close(): Promise<void> {
    this._closed = true;
    this.flush();
    return Promise.all(this._running).then(() => undefined);
  }

  /** An entry's caller aborted. */
  private _abandon(entry: Entry<K, V>, reason: unknown): void {
    if (entry.settled) return;
    entry.subscription = undefined;
    const batch = entry.batch;
    if (!batch.started) {
      entry.removed = true;
      batch.live--;
      if (batch.live === 0 && this._pending === batch) {
        // Nothing left to run: cancel the batch and its timer.
        this._clearTimer(batch);
        this._pending = undefined;
      }
    }
    entry.reject(reason);
  }

  private _dispatch(batch: Batch<K, V>): Promise<void> {
    if (batch.started) return Promise.resolve();
    batch.started = true;
    this._clearTimer(batch);
    if (this._pending === batch) this._pending = undefined;
    const entries = batch.live === batch.entries.length ? batch.entries : batch.entries.filter((e) => !e.removed);
    if (entries.length === 0) return Promise.resolve();
    const items = entries.map((e) => e.item);
    let result: Promise<BatchResults<V, Key>>;
    try {
      // Inside the try: adopting a hostile promise (a throwing `constructor` getter) can throw too.
      // Settle-once: a promise whose own `then` calls back twice, or returns nothing, is adopted.
      result = settleOnce(this._runBatch(items));
    } catch (error) {
      for (const entry of entries) entry.reject(error);
      return Promise.resolve();
    }
    // Never rejects: every caller settles (an error reading the results rejects those still
    // waiting), so flush() and close() never reject and nothing is left unhandled.
    const done = result.then(
      (results) => {
        try {
          this._deliver(entries, results);
        } catch (error) {
          for (const entry of entries) entry.reject(error);
        }
      },
      (error: unknown) => {
        for (const entry of entries) entry.reject(error);
      },
    );
    this._running.add(done);
    done.then(() => this._running.delete(done));
    return done;
  }

  /**
   * Hands each caller its result. Reads every result before settling anyone: if reading throws
   * (a getter of the array, a Map subclass's `has`/`get`, a Proxy), the caller's `_dispatch`
   * rejects every caller with that error, and nobody has been given a result of a batch whose
   * results could not all be read.
   */
  private _deliver(entries: readonly Entry<K, V>[], results: BatchResults<V, Key>): void {
    const n = entries.length;
    if (Array.isArray(results)) {
      const list = results as readonly V[];
      const length = list.length;
      if (length === n) {
        const values = new Array<V>(n);
        for (let i = 0; i < n; i++) values[i] = list[i] as V;
        for (let i = 0; i < n; i++) (entries[i] as Entry<K, V>).resolve(values[i] as V);
        return;
      }
      // Positions cannot be trusted when the count is wrong: nobody gets a possibly wrong result.
      for (const entry of entries) {
        let key: unknown;
        try {
          key = this._keyOf(entry);
        } catch {
          key = undefined;
        }
        entry.reject(
          new BatchResultMissingError(
            `Batcher: the batch function returned ${describe(length)} results for ${n} items (arrays must have one result per item, in order)`,
            entry.item,
            key,
          ),
        );
      }
      return;
    }
    if (results instanceof Map) {
      const map = results as ReadonlyMap<Key, V>;
      // Per caller: its value (found), or its own error (a throwing `key`, a missing entry).
      const values = new Array<V>(n);
      const errors = new Array<unknown>(n);
      const failed = new Array<boolean>(n).fill(false);
      for (let i = 0; i < n; i++) {
        const entry = entries[i] as Entry<K, V>;
        let key: Key;
        try {
          key = this._keyOf(entry);
        } catch (error) {
          failed[i] = true;
          errors[i] = error;
          continue;
        }
        if (map.has(key)) values[i] = map.get(key) as V;
        else {
          failed[i] = true;
          errors[i] = new BatchResultMissingError(
            `Batcher: the batch function's Map has no result for key ${describe(key)}`,
            entry.item,
            key,
          );
        }
      }
      for (let i = 0; i < n; i++) {
        const entry = entries[i] as Entry<K, V>;
        if (failed[i] === true) entry.reject(errors[i]);
        else entry.resolve(values[i] as V);
      }
      return;
    }
    const error = new TypeError(
      `Batcher: the batch function must return an array or a Map, got ${results === null ? 'null' : typeof results}`,
    );
    for (const entry of entries) entry.reject(error);
  }

  /** Cancels a batch's timer; a clock that throws here is reported (the batch goes on). */
  private _clearTimer(batch: Batch<K, V>): void {
    clearTimer(this._clock, batch.timer, OWNER);
  }

  private _keyOf(entry: Entry<K, V>): Key {
    return this._key === undefined ? (entry.item as unknown as Key) : this._key(entry.item);
  }
}

/** A batch being collected or run. */
class Batch<K, V> {
  readonly entries: Entry<K, V>[] = [];
  /** Entries not removed by an abort. */
  live = 0;
  started = false;
  timer: unknown = undefined;
}

/** One caller in a batch. */
class Entry<K, V> {
  removed = false;
  settled = false;
  subscription: AbortSubscription | undefined = undefined;

  constructor(
    readonly batch: Batch<K, V>,
    readonly item: K,
    private readonly _resolve: (value: V) => void,
    private readonly _reject: (error: unknown) => void,
  ) {}

  resolve(value: V): void {
    if (this.settle()) this._resolve(value);
  }

  reject(error: unknown): void {
    if (this.settle()) this._reject(error);
  }

  /** Marks the entry settled and stops listening; false if it already was. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.subscription !== undefined) {
      this.subscription.dispose();
      this.subscription = undefined;
    }
    return true;
  }
}
