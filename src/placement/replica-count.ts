// How many replicas a service gets: from its demand, bounded by its hints and by the nodes that may run it.

import type { PlacementHints } from "./plan-input.js";
import type { ReplicaRule } from "./plan-output.js";

export interface ReplicaCountInput {
  /** Measured work, busy seconds per second (arrival/s × service time in s). */
  readonly work: number;
  readonly hints: PlacementHints;
  /** Nodes a replica may go to this round. */
  readonly candidates: number;
  /** Mean capacity of the nodes that may run the service: what one replica can expect to get. */
  readonly meanCapacity: number;
  readonly targetUtilization: number;
  readonly defaultMinReplicas: number;
  /** Live replicas now, and the planner's hysteresis: demand scales down only past a band (see below). */
  readonly current?: number;
  readonly hysteresis?: number;
}

export interface ReplicaCount {
  readonly replicas: number;
  readonly rule: ReplicaRule;
  /** The redundancy floor: replicas kept even without demand (≥ 1, ≤ replicas). */
  readonly floor: number;
  /** The `maxReplicas` hint, Infinity without one: a bound even while replicas move. */
  readonly ceiling: number;
}

// A count a hair above an integer (0.7 × 3 / 0.7 = 3.0000000000000004) must not add a replica.
const ROUNDING_SLACK = 1e-9;

/**
 * max(ceil(work / (targetUtilization × meanCapacity)), minReplicas), then at most maxReplicas and
 * the candidates; `spread` asks for every candidate instead. Always at least one replica when a
 * node may run the service (a service with none could not take its first message), so
 * `minReplicas: 0` means "no redundancy needed", not "scale to zero".
 */
export function replicaCount(input: ReplicaCountInput): ReplicaCount {
  const { hints, candidates } = input;
  const max = validCount(hints.maxReplicas, 1) ?? Infinity;
  if (candidates <= 0) return { replicas: 0, rule: "no-eligible-node", floor: 0, ceiling: max };
  const floorHint = validCount(hints.minReplicas, 0) ?? input.defaultMinReplicas;
  const floor = Math.min(Math.max(1, floorHint), max, candidates);

  let replicas: number;
  let rule: ReplicaRule;
  if (hints.spread === true) {
    replicas = candidates;
    rule = "spread";
  } else {
    const perReplica = input.targetUtilization * input.meanCapacity;
    let demand = input.work > 0 && perReplica > 0 ? Math.ceil(input.work / perReplica - ROUNDING_SLACK) : 0;
    const current = input.current ?? 0;
    const band = input.hysteresis ?? 0;
    if (demand > 0 && demand < current && band > 0) {
      // Scale down only as far as keeps each replica below targetUtilization × (1 − hysteresis): a
      // count whose work sits near a threshold does not flip with every noisy sample.
      const keep = Math.ceil(input.work / (perReplica * (1 - band)) - ROUNDING_SLACK);
      demand = Math.min(current, Math.max(demand, keep));
    }
    replicas = Math.max(demand, Math.max(1, floorHint));
    rule = demand > floorHint ? "demand" : "min-replicas";
  }
  if (replicas > max) {
    replicas = max;
    rule = "max-replicas";
  }
  if (replicas > candidates) {
    replicas = candidates;
    rule = "eligible-nodes";
  }
  return { replicas, rule, floor: Math.min(floor, replicas), ceiling: max };
}

/** A hint read as a whole number ≥ min, or undefined when it is missing or malformed. */
function validCount(value: number | undefined, min: number): number | undefined {
  if (typeof value !== "number" || !(value >= min)) return undefined;
  return value === Infinity ? Infinity : Math.floor(value);
}
