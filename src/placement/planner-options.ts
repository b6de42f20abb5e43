// The placement planner's tunables, their defaults, and their validation.

import { KaffixError } from "../errors.js";

export interface PlannerOptions {
  /** Replicas are counted so that each would keep a typical eligible node below this utilization. Default 0.7. */
  targetUtilization: number;
  /**
   * A new node must beat a current replica's cost by more than this share to replace it; demand
   * scales a service down only once each replica would stay below targetUtilization × (1 − this). Default 0.15.
   */
  hysteresis: number;
  /** …and by more than this many ms of latency per second (costs below it differ by noise). Default 50. */
  minSavingMs: number;
  /** After a change to its placement, a service waits this long before the next one (replacing lost replicas excepted). Default 30 000. */
  minMoveIntervalMs: number;
  /**
   * Replica changes (one add or one remove; a relocation is two) per round across the cluster.
   * Initial placement, replacing replicas of nodes that are gone, and dropping those replicas do
   * not count: they restore what failure took, and delaying them trades redundancy for calm.
   * Default 2.
   */
  maxMovesPerRound: number;
  /** Replicas for a service without `minReplicas`, when at least that many nodes may run it. Default 2. */
  defaultMinReplicas: number;
  /** Cost multiplier on nodes that carry a service's `near` label (< 1 is a bonus). Default 0.25. */
  nearCostFactor: number;
  /** What a message to another node costs beyond the RTT (encoding, syscalls, acks), in ms. Default 0.1. */
  remoteMessageCostMs: number;
  /** The load a replica counts as at least, in busy seconds per second, so that idle replicas still spread. Default 0.001. */
  idleReplicaWork: number;
  /** Per service, how many of the best nodes not chosen are explained beside the chosen and current ones. Default 3. */
  runnersUp: number;
}

export const DEFAULT_PLANNER_OPTIONS: Readonly<PlannerOptions> = Object.freeze({
  targetUtilization: 0.7,
  hysteresis: 0.15,
  minSavingMs: 50,
  minMoveIntervalMs: 30_000,
  maxMovesPerRound: 2,
  defaultMinReplicas: 2,
  nearCostFactor: 0.25,
  remoteMessageCostMs: 0.1,
  idleReplicaWork: 0.001,
  runnersUp: 3,
});

/** The defaults overlaid with `options`; throws INVALID_ARGUMENT naming the first field out of range. */
export function resolvePlannerOptions(options: Partial<PlannerOptions> = {}): PlannerOptions {
  const resolved: PlannerOptions = { ...DEFAULT_PLANNER_OPTIONS };
  for (const [key, value] of Object.entries(options) as [keyof PlannerOptions, number | undefined][]) {
    if (value !== undefined) resolved[key] = value;
  }
  const check = (field: keyof PlannerOptions, ok: (v: number) => boolean, expected: string) => {
    const value = resolved[field];
    if (typeof value !== "number" || Number.isNaN(value) || !ok(value)) {
      throw new KaffixError("INVALID_ARGUMENT", `placement option ${field} must be ${expected}, got ${String(value)}`);
    }
  };
  const wholeOrInfinite = (v: number) => v >= 0 && (Number.isInteger(v) || v === Infinity);
  check("targetUtilization", (v) => v > 0 && v <= 1, "a number in (0, 1]");
  check("hysteresis", (v) => v >= 0 && v < 1, "a number in [0, 1)");
  check("minSavingMs", (v) => v >= 0 && v !== Infinity, "a finite number ≥ 0");
  check("minMoveIntervalMs", (v) => v >= 0 && v !== Infinity, "a finite number ≥ 0");
  check("maxMovesPerRound", wholeOrInfinite, "an integer ≥ 0 or Infinity");
  check("defaultMinReplicas", (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
  check("nearCostFactor", (v) => v > 0 && v !== Infinity, "a finite number > 0");
  check("remoteMessageCostMs", (v) => v >= 0 && v !== Infinity, "a finite number ≥ 0");
  check("idleReplicaWork", (v) => v > 0 && v !== Infinity, "a finite number > 0");
  check("runnersUp", wholeOrInfinite, "an integer ≥ 0 or Infinity");
  return resolved;
}
