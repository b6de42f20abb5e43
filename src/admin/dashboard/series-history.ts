// Per-service time series for the dashboard's charts: the last few minutes, one point per sample, kept in columns.

export interface ServicePoint {
  perSec: number;
  queued: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface ServiceColumns {
  perSec: (number | null)[];
  queued: (number | null)[];
  p50Ms: (number | null)[];
  p99Ms: (number | null)[];
}

/** Columns share one time axis: `services[id].perSec[i]` was sampled at `t[i]` (epoch ms); null where the service was unknown. */
export interface Series {
  t: number[];
  services: Record<string, ServiceColumns>;
}

const FIELDS = ["perSec", "queued", "p50Ms", "p99Ms"] as const;

export class SeriesHistory {
  readonly #windowMs: number;
  readonly #maxServices: number;
  readonly #t: number[] = [];
  readonly #services = new Map<string, ServiceColumns>();

  constructor(windowMs: number, maxServices = 128) {
    this.#windowMs = windowMs;
    this.#maxServices = maxServices;
  }

  /** Appends one sample and forgets what fell out of the window. */
  add(atMs: number, points: Readonly<Record<string, ServicePoint>>): void {
    for (const id of Object.keys(points)) {
      if (this.#services.has(id) || this.#services.size >= this.#maxServices) continue;
      const empty = () => this.#t.map(() => null);
      this.#services.set(id, { perSec: empty(), queued: empty(), p50Ms: empty(), p99Ms: empty() });
    }
    this.#t.push(atMs);
    for (const [id, columns] of this.#services) {
      const point = points[id];
      for (const field of FIELDS) columns[field].push(point === undefined ? null : point[field]);
    }
    let drop = 0;
    while (drop < this.#t.length && this.#t[drop]! < atMs - this.#windowMs) drop++;
    if (drop === 0) return;
    this.#t.splice(0, drop);
    for (const columns of this.#services.values()) for (const field of FIELDS) columns[field].splice(0, drop);
  }

  /** A copy of every column, for a viewer that starts now. */
  get series(): Series {
    const services: Record<string, ServiceColumns> = {};
    for (const [id, c] of this.#services) {
      services[id] = { perSec: [...c.perSec], queued: [...c.queued], p50Ms: [...c.p50Ms], p99Ms: [...c.p99Ms] };
    }
    return { t: [...this.#t], services };
  }
}
