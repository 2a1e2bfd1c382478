/**
 * Latency samples and their percentiles, as bench/stats.ts computes them.
 *
 * @module
 */

/**
 * The p-th percentile (nearest rank) of samples, sorting them in place.
 *
 * @param {Float64Array} samples Values; sorted in place.
 * @param {number} p A percentile from 0 to 100.
 * @returns {number} The value, or NaN when there are no samples.
 */
export function percentile(samples, p) {
  if (samples.length === 0) return NaN;
  samples.sort();
  const rank = Math.ceil((p / 100) * samples.length);
  return samples[Math.min(samples.length, Math.max(1, rank)) - 1];
}

/** A growable buffer of samples without per-sample allocation. */
export class Samples {
  #data = new Float64Array(1 << 16);
  #length = 0;

  /** @param {number} value One sample. */
  push(value) {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  /** @returns {Float64Array} The samples so far (a view; `percentile` sorts it). */
  view() {
    return this.#data.subarray(0, this.#length);
  }
}
