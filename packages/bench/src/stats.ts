/**
 * Pure helpers for benchmark numbers: medians, percentiles, ratios and their formatting.
 * Nothing here measures anything or reads a clock.
 */

/**
 * The median of `values` (the mean of the two middle values for an even count).
 * Returns `undefined` for an empty list; non-finite values are ignored.
 */
export function median(values: readonly number[]): number | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * The `p`-th percentile (0 < p <= 100) by the nearest-rank method over values already sorted
 * ascending: the smallest value with at least p % of the values at or below it.
 * Returns `undefined` for an empty list; throws RangeError for p outside (0, 100].
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number | undefined {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** {@link percentileSorted} over unsorted values (copies and sorts them). */
export function percentile(values: readonly number[], p: number): number | undefined {
  return percentileSorted(Float64Array.from(values).sort(), p);
}

/**
 * `numerator / denominator`, or `undefined` when either is missing, not finite, or the
 * denominator is not positive (a ratio against nothing is "n/a", never Infinity or NaN).
 */
export function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined) return undefined;
  // A heap delta can be negative (the heap shrank): a ratio with a negative side says nothing.
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator <= 0 || numerator < 0) return undefined;
  return numerator / denominator;
}

/** A ratio as "0.87x", with "n/a" for `undefined`. */
export function formatRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return 'n/a';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

/** A rate in messages per second, rounded to three significant figures with a thousands separator ("12,300"). */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return 'n/a';
  const digits = Math.floor(Math.log10(Math.max(1, Math.abs(perSecond)))) - 2;
  const rounded = Math.round(perSecond / 10 ** digits) * 10 ** digits;
  return rounded.toLocaleString('en-US', { maximumFractionDigits: Math.max(0, -digits) });
}

/** Milliseconds with a precision that suits their size ("0.42", "12.3", "1,234"). */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'n/a';
  if (ms < 1) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

/** Bytes as mebibytes with one decimal ("12.5"); negative values (memory given back) keep their sign. */
export function formatMiB(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'n/a';
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** Median, minimum and maximum of a metric over repetitions. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * The median with the range it came from (min-max) of `values`, ignoring non-finite ones;
 * `undefined` when nothing is left.
 */
export function spread(values: readonly number[]): Spread | undefined {
  const v = values.filter(Number.isFinite);
  const med = median(v);
  if (med === undefined) return undefined;
  return { median: med, min: Math.min(...v), max: Math.max(...v) };
}

/**
 * A spread as "min-max" through `format` (e.g. "11,200-13,900"); a single value (min = max) is shown
 * once, and "n/a" for `undefined`.
 */
export function formatSpread(s: Spread | undefined, format: (n: number) => string): string {
  if (!s) return 'n/a';
  const lo = format(s.min);
  const hi = format(s.max);
  return lo === hi ? lo : `${lo}-${hi}`;
}

/** Bytes as kibibytes with one decimal ("6.8"). */
export function formatKiB(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return 'n/a';
  return (bytes / 1024).toFixed(1);
}
