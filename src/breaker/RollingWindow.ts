import { BINS, binOf } from './LatencyHistogram.js';

/** @internal Counter indexes of a bucket. */
export const SUCCESS = 0;
/** @internal */
export const FAILURE = 1;
/** @internal */
export const TIMEOUT = 2;
/** @internal */
export const REJECTION = 3;
/** @internal */
export const SHORT_CIRCUIT = 4;
/** @internal */
export const FALLBACK_SUCCESS = 5;
/** @internal */
export const FALLBACK_FAILURE = 6;
/** @internal Calls slower than the slow-call threshold, whatever their outcome. */
export const SLOW = 7;
const COUNTERS = 8;
const LATENCY_SUM = 8;
const LATENCY_MIN = 9;
const LATENCY_MAX = 10;
const LATENCY_COUNT = 11;
const STRIDE = 12;

/** @internal What {@link RollingWindow.read} returns. */
export interface WindowReading {
  /** Counters summed over the live buckets, by the indexes above. */
  readonly counts: Float64Array;
  /** Timed calls (latency is sampled). */
  readonly latencyCount: number;
  readonly latencySum: number;
  readonly latencyMin: number;
  readonly latencyMax: number;
  /** Latency bins summed over the live buckets. */
  readonly bins: Uint32Array;
}

/**
 * @internal Counts over the last `length` milliseconds, in `buckets` buckets that roll with time
 * (Hystrix's rolling number). A bucket is the time slot `floor(now / bucketLength)`; its index is
 * that slot modulo `buckets`, so finding it needs no loop. A bucket whose slot is older than the
 * window never counts, even after an idle gap.
 *
 * Cost: storage is allocated on the first record (an idle window holds none) and is fixed-size
 * after that: `buckets` x 12 numbers, plus the slot numbers and running totals, in one buffer; the
 * latency histogram (`buckets` x its bins) only once a latency is recorded (sampled calls). Recording is O(1) (rolling over k
 * expired buckets clears k of them, at most `buckets`, amortised O(1)); running totals keep the
 * window's sums current, so the trip rule reads them in O(1). Reading everything costs O(buckets).
 */
export class RollingWindow {
  /** Number of buckets. */
  readonly buckets: number;
  /** Duration of one bucket, in milliseconds. */
  readonly bucketLength: number;
  private _data: Float64Array | undefined = undefined;
  /**
   * The running totals (sums of the counters over the live buckets, as of the newest slot
   * written) at [0, COUNTERS), then each bucket's slot. Shares `_data`'s buffer: an idle breaker
   * that made a call holds two small views and one buffer.
   */
  private _meta: Float64Array | undefined = undefined;
  private _bins: Uint32Array | undefined = undefined;
  /** The newest slot written. */
  private _head = Number.NEGATIVE_INFINITY;
  /** The head bucket's time range [start, end) and data offset: the common case needs no division. */
  private _headStart = 0;
  private _headEnd = 0;
  private _headBase = 0;

  constructor(length: number, buckets: number) {
    this.buckets = buckets;
    this.bucketLength = length / buckets;
  }

  /** Counted requests in the window (successes, failures, timeouts, rejections), as of the last record. */
  get requests(): number {
    const t = this._meta;
    return t === undefined
      ? 0
      : (t[SUCCESS] as number) + (t[FAILURE] as number) + (t[TIMEOUT] as number) + (t[REJECTION] as number);
  }

  /** Failures, timeouts and rejections in the window, as of the last record. */
  get errors(): number {
    const t = this._meta;
    return t === undefined ? 0 : (t[FAILURE] as number) + (t[TIMEOUT] as number) + (t[REJECTION] as number);
  }

  /** Slow calls in the window, as of the last record. */
  get slow(): number {
    return this._meta === undefined ? 0 : (this._meta[SLOW] as number);
  }

  /** Adds one to `counter` at time `now` (short circuits, fallback outcomes). */
  add(counter: number, now: number): void {
    const base = this._roll(now);
    const data = this._data as Float64Array;
    const totals = this._meta as Float64Array;
    data[base + counter] = (data[base + counter] as number) + 1;
    totals[counter] = (totals[counter] as number) + 1;
  }

  /**
   * Records a call that ran: its outcome counter, its latency in ms (NaN when the call was not
   * timed), and whether it was slow.
   */
  record(counter: number, now: number, latency: number, slow: boolean): void {
    const base = this._roll(now);
    const data = this._data as Float64Array;
    const totals = this._meta as Float64Array;
    data[base + counter] = (data[base + counter] as number) + 1;
    totals[counter] = (totals[counter] as number) + 1;
    if (slow) {
      data[base + SLOW] = (data[base + SLOW] as number) + 1;
      totals[SLOW] = (totals[SLOW] as number) + 1;
    }
    // biome-ignore lint/suspicious/noSelfCompare: NaN marks an untimed call
    if (latency !== latency) return;
    data[base + LATENCY_COUNT] = (data[base + LATENCY_COUNT] as number) + 1;
    data[base + LATENCY_SUM] = (data[base + LATENCY_SUM] as number) + latency;
    if (latency < (data[base + LATENCY_MIN] as number)) data[base + LATENCY_MIN] = latency;
    if (latency > (data[base + LATENCY_MAX] as number)) data[base + LATENCY_MAX] = latency;
    const bins = this._bins === undefined ? this._allocateBins() : this._bins;
    const bin = (base / STRIDE) * BINS + binOf(latency);
    bins[bin] = (bins[bin] as number) + 1;
  }

  /** Forgets everything (keeps the storage, if any). */
  clear(): void {
    this._head = Number.NEGATIVE_INFINITY;
    this._headStart = this._headEnd = 0;
    const meta = this._meta;
    if (meta !== undefined) {
      meta.fill(0, 0, COUNTERS);
      meta.fill(Number.NEGATIVE_INFINITY, COUNTERS);
    }
  }

  /** Sums the buckets live at `now`, without changing anything. O(buckets). */
  read(now: number): WindowReading {
    const counts = new Float64Array(COUNTERS);
    const bins = new Uint32Array(BINS);
    let latencySum = 0;
    let latencyCount = 0;
    let latencyMin = Number.POSITIVE_INFINITY;
    let latencyMax = 0;
    const data = this._data;
    const meta = this._meta;
    const histogram = this._bins;
    if (data !== undefined && meta !== undefined) {
      const slot = Math.floor(now / this.bucketLength);
      for (let i = 0; i < this.buckets; i++) {
        const s = meta[COUNTERS + i] as number;
        if (s > slot - this.buckets && s <= slot) {
          const base = i * STRIDE;
          for (let c = 0; c < COUNTERS; c++) counts[c] = (counts[c] as number) + (data[base + c] as number);
          latencySum += data[base + LATENCY_SUM] as number;
          latencyCount += data[base + LATENCY_COUNT] as number;
          latencyMin = Math.min(latencyMin, data[base + LATENCY_MIN] as number);
          latencyMax = Math.max(latencyMax, data[base + LATENCY_MAX] as number);
          if (histogram !== undefined) {
            const offset = i * BINS;
            for (let b = 0; b < BINS; b++) bins[b] = (bins[b] as number) + (histogram[offset + b] as number);
          }
        }
      }
    }
    if (latencyMin === Number.POSITIVE_INFINITY) latencyMin = 0;
    return { counts, latencyCount, latencySum, latencyMin, latencyMax, bins };
  }

  /** Moves the head to the slot of `now`, clearing the buckets it passes; returns its data offset. */
  private _roll(now: number): number {
    if (now < this._headEnd && now >= this._headStart) return this._headBase;
    const n = this.buckets;
    if (this._data === undefined) this._allocate();
    let slot = Math.floor(now / this.bucketLength);
    const head = this._head;
    if (slot > head) {
      if (slot - head >= n) {
        for (let i = 0; i < n; i++) this._clearBucket(i, Number.NEGATIVE_INFINITY);
        (this._meta as Float64Array).fill(0, 0, COUNTERS);
      } else {
        for (let s = head + 1; s < slot; s++) this._expire(s, Number.NEGATIVE_INFINITY);
      }
      this._expire(slot, slot);
      this._head = slot;
    } else {
      // The clock never goes back, but a slot computed from an older reading lands in the head.
      slot = head;
    }
    let index = slot % n;
    if (index < 0) index += n;
    this._headStart = slot * this.bucketLength;
    this._headEnd = this._headStart + this.bucketLength;
    this._headBase = index * STRIDE;
    return this._headBase;
  }

  /** Subtracts the bucket of `slot` from the totals and clears it for `owner`. */
  private _expire(slot: number, owner: number): void {
    let index = slot % this.buckets;
    if (index < 0) index += this.buckets;
    const data = this._data as Float64Array;
    const totals = this._meta as Float64Array;
    if (totals[COUNTERS + index] !== Number.NEGATIVE_INFINITY) {
      const base = index * STRIDE;
      for (let c = 0; c < COUNTERS; c++) totals[c] = (totals[c] as number) - (data[base + c] as number);
    }
    this._clearBucket(index, owner);
  }

  private _clearBucket(index: number, owner: number): void {
    const data = this._data as Float64Array;
    const base = index * STRIDE;
    data.fill(0, base, base + STRIDE);
    data[base + LATENCY_MIN] = Number.POSITIVE_INFINITY;
    this._bins?.fill(0, index * BINS, (index + 1) * BINS);
    (this._meta as Float64Array)[COUNTERS + index] = owner;
  }

  private _allocate(): void {
    const n = this.buckets;
    const buffer = new ArrayBuffer((n * STRIDE + COUNTERS + n) * Float64Array.BYTES_PER_ELEMENT);
    this._data = new Float64Array(buffer, 0, n * STRIDE);
    this._meta = new Float64Array(buffer, n * STRIDE * Float64Array.BYTES_PER_ELEMENT, COUNTERS + n);
    this._meta.fill(Number.NEGATIVE_INFINITY, COUNTERS);
  }

  /** The histogram, on the first latency recorded (zero counts agree with every bucket's state). */
  private _allocateBins(): Uint32Array {
    const bins = new Uint32Array(this.buckets * BINS);
    this._bins = bins;
    return bins;
  }
}
