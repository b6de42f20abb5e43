// Counts what placement learns from: messages each service sends to each other service, and time spent in named dependencies.

import { KaffixError } from "../errors.js";

/** Most dependency names one service records; calls to further names run untimed. */
export const MAX_DEPENDENCIES_PER_SERVICE = 16;

export interface DependencyTally {
  calls: number;
  /** Summed duration of the calls, ms. */
  ms: number;
}

/** What one service did since the previous `take()`. */
export interface ServiceUsage {
  /** Target service id → messages sent (publishes and requests, from handlers of this service). */
  sent: Record<string, number>;
  /** Dependency name → calls and their summed duration. */
  dependencies: Record<string, DependencyTally>;
}

export class UsageMeter {
  readonly #ids: readonly string[];
  /** Source service id → messages sent, indexed by the target's registration index. */
  readonly #sent = new Map<string, Float64Array>();
  readonly #dependencies = new Map<string, Map<string, DependencyTally>>();

  /** `ids`: every service of the app, in registration order (the index `countSent` takes). */
  constructor(ids: readonly string[]) {
    this.#ids = ids;
  }

  /** One message from a handler of `from` to the service at registration index `to`. */
  countSent(from: string, to: number): void {
    let row = this.#sent.get(from);
    if (row === undefined) this.#sent.set(from, (row = new Float64Array(this.#ids.length)));
    row[to]!++;
  }

  /** Runs `call` as a use of dependency `name` by `service`, timing it whether it succeeds or throws. */
  async time<T>(service: string, name: string, call: () => T | PromiseLike<T>): Promise<Awaited<T>> {
    if (typeof name !== "string" || name.length === 0 || name.length > 128) {
      const shown = typeof name === "string" ? JSON.stringify(name) : typeof name;
      throw new KaffixError("INVALID_ARGUMENT", `ctx.dependency needs a name of 1-128 characters, got ${shown}`);
    }
    if (typeof call !== "function") throw new KaffixError("INVALID_ARGUMENT", `ctx.dependency("${name}", call): call must be a function`);
    let byName = this.#dependencies.get(service);
    if (byName === undefined) this.#dependencies.set(service, (byName = new Map()));
    let tally = byName.get(name);
    if (tally === undefined && byName.size < MAX_DEPENDENCIES_PER_SERVICE) byName.set(name, (tally = { calls: 0, ms: 0 }));
    const started = performance.now();
    try {
      return await call();
    } finally {
      if (tally !== undefined) {
        tally.calls++;
        tally.ms += performance.now() - started;
      }
    }
  }

  /** Everything counted since the previous call, by source service; the counters start again from zero. */
  take(): Map<string, ServiceUsage> {
    const out = new Map<string, ServiceUsage>();
    const entry = (service: string) => {
      let usage = out.get(service);
      if (usage === undefined) out.set(service, (usage = { sent: {}, dependencies: {} }));
      return usage;
    };
    for (const [from, row] of this.#sent) {
      for (let i = 0; i < row.length; i++) {
        if (row[i]! > 0) entry(from).sent[this.#ids[i]!] = row[i]!;
      }
      row.fill(0);
    }
    for (const [service, byName] of this.#dependencies) {
      for (const [name, tally] of byName) {
        if (tally.calls > 0) entry(service).dependencies[name] = { ...tally };
        tally.calls = 0;
        tally.ms = 0;
      }
    }
    return out;
  }
}
