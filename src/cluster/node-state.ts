// The state each node gossips about itself: where it is, what it can run and runs, and how loaded it is.

import { isValidCoordinate, type Coordinate } from "./vivaldi.js";

/** One active service's load, as gossiped: small numbers, rounded, so the state stays compact. */
export interface ServiceLoad {
  /** Messages waiting on this node. */
  queued: number;
  /** Messages accepted per second over the last refresh interval. */
  arrivalPerSec: number;
  /** Moving average of the handler's duration, ms. */
  serviceTimeMs: number;
  /** The same less what handlers spent awaiting replies and dependencies: the node's own work per message, ms. */
  ownMs?: number;
  /** Messages per second its handlers here sent to each other service (the largest flows only). */
  to?: Record<string, number>;
  /** Its calls to named external dependencies here (`ctx.dependency`): rate and mean latency. */
  deps?: Record<string, DependencyLoad>;
}

export interface DependencyLoad {
  perSec: number;
  /** Mean duration of one call from this node, ms. */
  ms: number;
}

export interface NodeState {
  region: string;
  /** Cores and memory, and the operator's relative weight (`--weight`, default 1). */
  capacity: { cores: number; memoryBytes: number; weight: number };
  /** Operator labels (`--label`): what this node is near. */
  labels: string[];
  /** Network coordinate (Vivaldi), rounded: lets every node estimate the RTT between any two others. */
  coord?: Coordinate;
  /** Service id → when placement last started or stopped it here (recent changes only). */
  changed?: Record<string, number>;
  /** Services placement is about to stop here (announced a round ahead, so two nodes never stop the same one at once). */
  leaving?: string[];
  /**
   * Service id → dependency name → mean latency (ms) measured here while the service ran here, for
   * services not running here now: what this node would offer, so the planner does not keep trying it.
   */
  measured?: Record<string, Record<string, number>>;
  /** Services this node may run (compiled in and allowed by --services). */
  services: string[];
  /** Services active on this node now, with their load. */
  running: Record<string, ServiceLoad>;
  /** Event-loop delay over the last refresh interval, ms (mean and p99). */
  eventLoopLagMs: { mean: number; p99: number };
}

/** Most services whose load one node gossips; the rest are left out of `running` (never of `services`). */
export const MAX_GOSSIPED_SERVICES = 256;
/** Most outgoing flows and dependencies gossiped per service; the largest are kept. */
export const MAX_GOSSIPED_FLOWS = 16;
export const MAX_GOSSIPED_DEPENDENCIES = 8;
/** Most services whose dependency latencies a node remembers after they stopped running there. */
export const MAX_REMEMBERED_SERVICES = 32;

/**
 * Parsed states by the gossiped object they came from. A member's meta data is a new object with
 * each version and never changes after, so a parse can be reused until the next version: routing
 * reads every member's state for every service after each change, and one parse of a busy node's
 * state takes tens of microseconds. A memo keyed weakly by immutable objects, shared by the nodes
 * of a process without any of them seeing another's data.
 */
const parsed = new WeakMap<object, NodeState | null>();

/**
 * Reads a gossiped NodeState defensively (see readFreshNodeState), reusing the parse of the same
 * object: the result is shared, so callers must not change it.
 */
export function readNodeState(data: unknown): NodeState | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const known = parsed.get(data);
  if (known !== undefined) return known ?? undefined;
  const state = readFreshNodeState(data);
  parsed.set(data, state ?? null);
  return state;
}

/** Reads a gossiped NodeState defensively: whatever a peer sent, the result is well-formed or undefined. */
export function readFreshNodeState(data: unknown): NodeState | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const d = data as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  const capacity = (d.capacity ?? {}) as Record<string, unknown>;
  const lag = (d.eventLoopLagMs ?? {}) as Record<string, unknown>;
  const running: Record<string, ServiceLoad> = {};
  if (d.running !== null && typeof d.running === "object") {
    for (const [id, load] of Object.entries(d.running as object).slice(0, MAX_GOSSIPED_SERVICES)) {
      const l = (load ?? {}) as Record<string, unknown>;
      const entry: ServiceLoad = { queued: num(l.queued), arrivalPerSec: num(l.arrivalPerSec), serviceTimeMs: num(l.serviceTimeMs) };
      if (finite(l.ownMs)) entry.ownMs = l.ownMs;
      const to = readRates(l.to, MAX_GOSSIPED_FLOWS);
      if (to !== undefined) entry.to = to;
      const deps = readDependencies(l.deps);
      if (deps !== undefined) entry.deps = deps;
      running[id] = entry;
    }
  }
  const changed = readRates(d.changed, MAX_GOSSIPED_SERVICES);
  let measured: Record<string, Record<string, number>> | undefined;
  if (d.measured !== null && typeof d.measured === "object") {
    for (const [id, deps] of Object.entries(d.measured as object).slice(0, MAX_REMEMBERED_SERVICES)) {
      const read = readRates(deps, MAX_GOSSIPED_DEPENDENCIES);
      if (read !== undefined) (measured ??= {})[id] = read;
    }
  }
  return {
    region: typeof d.region === "string" ? d.region : "default",
    capacity: { cores: num(capacity.cores), memoryBytes: num(capacity.memoryBytes), weight: num(capacity.weight) || 1 },
    labels: Array.isArray(d.labels) ? d.labels.filter((s): s is string => typeof s === "string" && s.length <= 128).slice(0, 32) : [],
    ...(isValidCoordinate(d.coord) ? { coord: d.coord } : {}),
    ...(changed === undefined ? {} : { changed }),
    ...(measured === undefined ? {} : { measured }),
    ...(Array.isArray(d.leaving) ? { leaving: d.leaving.filter((s): s is string => typeof s === "string").slice(0, MAX_GOSSIPED_SERVICES) } : {}),
    services: Array.isArray(d.services) ? d.services.filter((s): s is string => typeof s === "string").slice(0, 10_000) : [],
    running,
    eventLoopLagMs: { mean: num(lag.mean), p99: num(lag.p99) },
  };
}

function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/** A record of names to numbers ≥ 0, at most `limit` entries; undefined when absent or empty. */
function readRates(data: unknown, limit: number): Record<string, number> | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const out: Record<string, number> = {};
  let n = 0;
  for (const [name, value] of Object.entries(data)) {
    if (n >= limit) break;
    if (!finite(value)) continue;
    out[name] = value;
    n++;
  }
  return n === 0 ? undefined : out;
}

function readDependencies(data: unknown): Record<string, DependencyLoad> | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const out: Record<string, DependencyLoad> = {};
  let n = 0;
  for (const [name, value] of Object.entries(data)) {
    if (n >= MAX_GOSSIPED_DEPENDENCIES) break;
    const v = (value ?? {}) as Record<string, unknown>;
    if (!finite(v.perSec) || !finite(v.ms)) continue;
    out[name] = { perSec: v.perSec, ms: v.ms };
    n++;
  }
  return n === 0 ? undefined : out;
}
