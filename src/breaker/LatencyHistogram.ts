/**
 * Log-scale latency bins, so a bucket's latencies fit in a fixed-size counter array whatever the
 * traffic. Latencies are in milliseconds, truncated to whole milliseconds (as Hystrix reports them):
 * 0..15 ms get one exact bin each; above that, each power of two is cut into 8 bins (at most
 * 12.5 % wide, so a percentile is within about 6 % of the truth); 2^24 ms (about 4.7 hours) and
 * beyond share the last bin.
 */

const EXACT = 16;
const SUB_BITS = 3;
const SUB = 1 << SUB_BITS;
const MAX_EXPONENT = 24;

/** @internal Number of bins of one histogram. */
export const BINS = EXACT + (MAX_EXPONENT - 4) * SUB + 1;

/** @internal The bin of a latency in milliseconds. O(1). */
export function binOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  if (ms >= 2 ** MAX_EXPONENT) return BINS - 1;
  const v = ms | 0;
  if (v < EXACT) return v;
  const e = 31 - Math.clz32(v);
  return EXACT + (e - 4) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
}

/**
 * @internal The value that stands for a bin: the middle of its range of whole milliseconds, rounded
 * half up to a whole millisecond (a bin's range has an even width, so its exact middle is x.5).
 */
export function binValue(bin: number): number {
  if (bin < EXACT) return bin;
  if (bin >= BINS - 1) return 2 ** MAX_EXPONENT;
  const e = 4 + Math.floor((bin - EXACT) / SUB);
  const width = 2 ** (e - SUB_BITS);
  const low = (SUB + ((bin - EXACT) % SUB)) * width;
  return low + width / 2;
}

/** The percentiles a circuit breaker reports (Hystrix's set). */
export const PERCENTILES = ['0', '25', '50', '75', '90', '95', '99', '99.5', '100'] as const;

/** A percentile key of {@link LatencyMetrics.percentiles}. */
export type Percentile = (typeof PERCENTILES)[number];

/** Latency of the calls in the rolling window, in milliseconds. */
export interface LatencyMetrics {
  /** The mean latency, in milliseconds (exact, not binned, so it may have a fraction); 0 when no call ran. */
  readonly mean: number;
  /**
   * Latency at each percentile, in whole milliseconds (truncated, as Hystrix reports them): from
   * the log-scale histogram, within about 6 %; "0" and "100" are the minimum and maximum. All 0
   * when no call ran.
   */
  readonly percentiles: Readonly<Record<Percentile, number>>;
}

/**
 * @internal Percentiles from merged bin counts: the value of the bin holding the
 * `ceil(p/100 * count)`-th smallest latency, clamped into [min, max]; every value is a whole
 * number of milliseconds (min and max are truncated, as each latency is when it is binned).
 */
export function latencyMetrics(
  bins: Uint32Array,
  count: number,
  sum: number,
  min: number,
  max: number,
): LatencyMetrics {
  const percentiles = {} as Record<Percentile, number>;
  if (count === 0) {
    for (const p of PERCENTILES) percentiles[p] = 0;
    return { mean: 0, percentiles };
  }
  // Whole milliseconds, as binOf() counts them: a raw min of 3.27 ms is in bin 3 and reads 3.
  const low = Math.floor(min);
  const high = Math.floor(max);
  let bin = 0;
  let seen = 0;
  for (const p of PERCENTILES) {
    const rank = Math.max(1, Math.ceil((Number(p) / 100) * count));
    while (seen + (bins[bin] as number) < rank && bin < BINS - 1) {
      seen += bins[bin] as number;
      bin++;
    }
    percentiles[p] = Math.min(high, Math.max(low, binValue(bin)));
  }
  percentiles['0'] = low;
  percentiles['100'] = high;
  return { mean: sum / count, percentiles };
}
