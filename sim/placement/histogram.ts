// A latency histogram with 1 %-wide logarithmic buckets: quantiles of millions of samples in a few kilobytes.

const MIN_MS = 0.001;
const GROWTH = 1.01;
const BUCKETS = Math.ceil(Math.log(1e5 / MIN_MS) / Math.log(GROWTH)) + 1;

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;
  #sum = 0;

  add(ms: number, weight = 1): void {
    const bucket = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / Math.log(GROWTH)) + 1);
    this.#counts[bucket]! += weight;
    this.#total += weight;
    this.#sum += ms * weight;
  }

  /** Everything `other` holds, added to this one. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#total += other.#total;
    this.#sum += other.#sum;
  }

  get count(): number {
    return this.#total;
  }

  get meanMs(): number {
    return this.#total === 0 ? Number.NaN : this.#sum / this.#total;
  }

  /** The value below which a share `q` of the samples lie (within 1 %); NaN when empty. */
  quantile(q: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = q * this.#total;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank && this.#counts[i]! > 0) return i === 0 ? MIN_MS : MIN_MS * GROWTH ** (i - 0.5);
    }
    return MIN_MS * GROWTH ** (BUCKETS - 1);
  }
}
