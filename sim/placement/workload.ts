// The simulated application: pipelines of gateway → orders → pricing ↔ inventory → db-writer → database, and their rates.

/** One sequential request a handler makes per message it handles. */
export interface Call {
  /** Index of the called service in `Workload.services`. */
  readonly to: number;
  /** Requests per message handled (made one after the other, so their latencies add). */
  readonly count: number;
}

export interface SimService {
  readonly id: string;
  readonly pipeline: number;
  /** The node's own work per message, ms (what the planner's `serviceTimeMs` measures). */
  readonly serviceTimeMs: number;
  readonly calls: readonly Call[];
  /** Calls to the pipeline's database per message handled (`ctx.dependency`). */
  readonly dbCalls: number;
  /** Declared `spread: true` (user-facing). */
  readonly spread: boolean;
  /** External requests arrive here. */
  readonly entry: boolean;
}

export interface Pipeline {
  readonly index: number;
  /** Name of its database (one per pipeline), as `ctx.dependency(name, …)` would report it. */
  readonly database: string;
  /** Requests per second entering its gateway at load factor 1. */
  readonly baseRatePerSec: number;
  /** Index of its gateway in `Workload.services`. */
  readonly gateway: number;
  /** Region index where its database lives at the start. */
  readonly dbRegion: number;
}

export interface Workload {
  readonly services: readonly SimService[];
  readonly pipelines: readonly Pipeline[];
  /** Service indices, every caller before the services it calls. */
  readonly topo: readonly number[];
  /** Per service: messages it receives per request entering its pipeline. */
  readonly perRequest: Float64Array;
  /** Busy ms per request entering a pipeline (the same for every pipeline). */
  readonly workPerRequestMs: number;
}

/** The five stages of one pipeline: own work in ms, calls, database calls. */
const STAGES = [
  { name: "gateway", serviceTimeMs: 0.3, calls: [{ to: 1, count: 1 }], dbCalls: 0, spread: true },
  { name: "orders", serviceTimeMs: 0.6, calls: [{ to: 2, count: 1 }], dbCalls: 0, spread: false },
  // The chatty pair: pricing asks inventory five times per order.
  { name: "pricing", serviceTimeMs: 0.2, calls: [{ to: 3, count: 5 }, { to: 4, count: 1 }], dbCalls: 0, spread: false },
  { name: "inventory", serviceTimeMs: 0.1, calls: [], dbCalls: 0, spread: false },
  { name: "db-writer", serviceTimeMs: 0.4, calls: [], dbCalls: 2, spread: false },
] as const;

export const STAGE_NAMES = STAGES.map((s) => s.name);

/**
 * `rates.length` pipelines; pipeline k's database lives in region `k % regionCount`. With one
 * pipeline the ids are the bare stage names, otherwise suffixed `-k`.
 */
export function makeWorkload(rates: readonly number[], regionCount: number): Workload {
  const services: SimService[] = [];
  const pipelines: Pipeline[] = [];
  rates.forEach((rate, k) => {
    const base = services.length;
    const suffix = rates.length === 1 ? "" : `-${k}`;
    for (const stage of STAGES) {
      services.push({
        id: `${stage.name}${suffix}`,
        pipeline: k,
        serviceTimeMs: stage.serviceTimeMs,
        calls: stage.calls.map((c) => ({ to: base + c.to, count: c.count })),
        dbCalls: stage.dbCalls,
        spread: stage.spread,
        entry: stage.name === "gateway",
      });
    }
    pipelines.push({ index: k, database: `database${suffix}`, baseRatePerSec: rate, gateway: base, dbRegion: k % regionCount });
  });
  const topo = topologicalOrder(services);
  const perRequest = new Float64Array(services.length);
  for (const s of topo) {
    if (services[s]!.entry) perRequest[s] = 1;
    for (const call of services[s]!.calls) perRequest[call.to] = perRequest[call.to]! + perRequest[s]! * call.count;
  }
  const workPerRequestMs = STAGES.reduce((sum, _, i) => sum + perRequest[i]! * services[i]!.serviceTimeMs, 0);
  return { services, pipelines, topo, perRequest, workPerRequestMs };
}

/** Callers first (Kahn's algorithm, ties by index); throws on a cycle, since latencies are summed along the calls. */
export function topologicalOrder(services: readonly Pick<SimService, "calls">[]): number[] {
  const indegree = new Array<number>(services.length).fill(0);
  for (const s of services) for (const c of s.calls) indegree[c.to]!++;
  const ready = services.map((_, i) => i).filter((i) => indegree[i] === 0);
  const order: number[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const s = ready.shift()!;
    order.push(s);
    for (const c of services[s]!.calls) if (--indegree[c.to]! === 0) ready.push(c.to);
  }
  if (order.length !== services.length) throw new Error("sim: the call graph has a cycle");
  return order;
}
