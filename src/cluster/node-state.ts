// The state each node gossips about itself: where it is, what it can run and runs, and how loaded it is.

/** One active service's load, as gossiped: small numbers, rounded, so the state stays compact. */
export interface ServiceLoad {
  /** Messages waiting on this node. */
  queued: number;
  /** Messages accepted per second over the last refresh interval. */
  arrivalPerSec: number;
  /** Moving average of the handler's duration, ms. */
  serviceTimeMs: number;
}

export interface NodeState {
  region: string;
  /** Cores and memory, and the operator's relative weight (`--weight`, default 1). */
  capacity: { cores: number; memoryBytes: number; weight: number };
  /** Services this node may run (compiled in and allowed by --services). */
  services: string[];
  /** Services active on this node now, with their load. */
  running: Record<string, ServiceLoad>;
  /** Event-loop delay over the last refresh interval, ms (mean and p99). */
  eventLoopLagMs: { mean: number; p99: number };
}

/** Most services whose load one node gossips; the rest are left out of `running` (never of `services`). */
export const MAX_GOSSIPED_SERVICES = 256;

/** Reads a gossiped NodeState defensively: whatever a peer sent, the result is well-formed or undefined. */
export function readNodeState(data: unknown): NodeState | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const d = data as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  const capacity = (d.capacity ?? {}) as Record<string, unknown>;
  const lag = (d.eventLoopLagMs ?? {}) as Record<string, unknown>;
  const running: Record<string, ServiceLoad> = {};
  if (d.running !== null && typeof d.running === "object") {
    for (const [id, load] of Object.entries(d.running as object).slice(0, MAX_GOSSIPED_SERVICES)) {
      const l = (load ?? {}) as Record<string, unknown>;
      running[id] = { queued: num(l.queued), arrivalPerSec: num(l.arrivalPerSec), serviceTimeMs: num(l.serviceTimeMs) };
    }
  }
  return {
    region: typeof d.region === "string" ? d.region : "default",
    capacity: { cores: num(capacity.cores), memoryBytes: num(capacity.memoryBytes), weight: num(capacity.weight) || 1 },
    services: Array.isArray(d.services) ? d.services.filter((s): s is string => typeof s === "string").slice(0, 10_000) : [],
    running,
    eventLoopLagMs: { mean: num(lag.mean), p99: num(lag.p99) },
  };
}
