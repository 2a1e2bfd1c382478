/**
 * Small statistics: percentiles of latency samples and the median / spread of repetitions.
 *
 * @module
 */

/**
 * The p-th percentile (nearest rank) of samples, sorting them in place.
 *
 * @param samples Values; sorted in place.
 * @param p A percentile from 0 to 100.
 * @returns The value, or NaN when there are no samples.
 */
export function percentile(samples: Float64Array, p: number): number {
  if (samples.length === 0) return NaN;
  samples.sort();
  const rank = Math.ceil((p / 100) * samples.length);
  return samples[Math.min(samples.length, Math.max(1, rank)) - 1];
}

/** Median and spread of one figure over the repetitions. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** How many repetitions produced the figure. */
  n: number;
}

/**
 * Median, minimum and maximum of values (NaN values are left out).
 *
 * @param values One value per repetition.
 * @returns The summary; all NaN when there is no value.
 */
export function summarize(values: number[]): Summary {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/**
 * A growable buffer of samples without per-sample allocation.
 */
export class Samples {
  #data: Float64Array;
  #length = 0;

  /** @param capacity The initial capacity; it doubles when full. */
  constructor(capacity = 1 << 16) {
    this.#data = new Float64Array(capacity);
  }

  /** Adds one sample. */
  push(value: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  /** How many samples there are. */
  get length(): number {
    return this.#length;
  }

  /** The samples so far (a view; `percentile` sorts it). */
  view(): Float64Array {
    return this.#data.subarray(0, this.#length);
  }
}
