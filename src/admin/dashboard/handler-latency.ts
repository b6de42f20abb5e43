// Handler latency percentiles over a sliding window, from the cumulative histogram buckets that /metrics exposes.

import type { PromSample } from "./prometheus-text.js";

export const DURATION_BUCKET = "kaffix_handler_duration_seconds_bucket";

/** One service's histogram: upper bounds in seconds, ascending, the last +Inf; cumulative counts per bound. */
export interface Buckets {
  readonly le: readonly number[];
  readonly counts: readonly number[];
}

/** Service id → its handler-duration histogram, from the samples of one scrape. */
export function bucketsByService(samples: readonly PromSample[]): Map<string, Buckets> {
  const rows = new Map<string, [number, number][]>();
  for (const s of samples) {
    if (s.name !== DURATION_BUCKET) continue;
    const service = s.labels.service;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    if (service === undefined || Number.isNaN(le)) continue;
    let row = rows.get(service);
    if (row === undefined) rows.set(service, (row = []));
    row.push([le, s.value]);
  }
  const out = new Map<string, Buckets>();
  for (const [service, row] of rows) {
    row.sort((a, b) => a[0] - b[0]);
    out.set(service, { le: row.map((r) => r[0]), counts: row.map((r) => r[1]) });
  }
  return out;
}

/**
 * The q-quantile in milliseconds, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; a rank in the +Inf bucket answers the largest finite bound.
 * Undefined when the histogram holds no observation.
 */
export function quantileMs(buckets: Buckets, q: number): number | undefined {
  const total = buckets.counts[buckets.counts.length - 1] ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  for (let i = 0; i < buckets.le.length; i++) {
    const upper = buckets.le[i]!;
    const below = i === 0 ? 0 : buckets.counts[i - 1]!;
    const count = buckets.counts[i]!;
    if (count < rank || count === below) continue;
    if (upper === Infinity) return (buckets.le[i - 1] ?? 0) * 1000;
    const lower = i === 0 ? 0 : buckets.le[i - 1]!;
    return (lower + ((upper - lower) * (rank - below)) / (count - below)) * 1000;
  }
  return undefined;
}

/** The observations between two scrapes of one histogram; undefined when the bounds differ or a counter went back. */
export function bucketDelta(older: Buckets | undefined, newer: Buckets): Buckets | undefined {
  if (older === undefined) return newer;
  if (older.le.length !== newer.le.length || older.le.some((le, i) => le !== newer.le[i])) return undefined;
  const counts = newer.counts.map((c, i) => c - older.counts[i]!);
  return counts.some((c) => c < 0) ? undefined : { le: newer.le, counts };
}

/** p50 and p99 in ms of the handlers that finished within the window, per service. */
export class LatencyWindow {
  readonly #windowMs: number;
  /** Scrapes, oldest first; the oldest is the last one at or before the window's start. */
  #scrapes: { atMs: number; buckets: Map<string, Buckets> }[] = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  add(atMs: number, buckets: Map<string, Buckets>): void {
    this.#scrapes.push({ atMs, buckets });
    while (this.#scrapes.length > 2 && this.#scrapes[1]!.atMs <= atMs - this.#windowMs) this.#scrapes.shift();
  }

  /** Undefined for a service with no observation in the window (idle, or not running on this node). */
  percentiles(service: string): { p50Ms: number; p99Ms: number } | undefined {
    const newest = this.#scrapes[this.#scrapes.length - 1]?.buckets.get(service);
    if (newest === undefined) return undefined;
    const oldest = this.#scrapes.length > 1 ? this.#scrapes[0]!.buckets.get(service) : undefined;
    // A single scrape cannot tell recent observations from old ones.
    if (this.#scrapes.length < 2) return undefined;
    const window = bucketDelta(oldest, newest) ?? newest;
    const p50Ms = quantileMs(window, 0.5);
    const p99Ms = quantileMs(window, 0.99);
    return p50Ms === undefined || p99Ms === undefined ? undefined : { p50Ms, p99Ms };
  }
}
