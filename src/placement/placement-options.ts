// How a node runs placement: the round interval, and the planner's tunables, as `start({ placement })` takes them.

import { KaffixError } from "../errors.js";
import { resolvePlannerOptions, type PlannerOptions } from "./planner-options.js";

export interface PlacementOptions extends PlannerOptions {
  /** How often each node plans and applies its own part of the plan. Default 5 000. */
  intervalMs: number;
  /**
   * How long a replica being removed may take to finish the messages it already holds before it is
   * stopped anyway (what is left then is failed back to its senders, who route it elsewhere). Default 30 000.
   */
  drainTimeoutMs: number;
}

export const DEFAULT_INTERVAL_MS = 5000;

export interface ResolvedPlacementOptions extends PlacementOptions {
  /** True when `maxMovesPerRound` was not given: the budget then follows the cluster's size. */
  movesFollowSize: boolean;
}

/**
 * The defaults overlaid with `options`. `maxMovesPerRound`, when not given, follows the cluster's size
 * (one change per node and round, at least 2), so a large cluster does not take hours to settle.
 * Throws INVALID_ARGUMENT naming the first field out of range or unknown.
 */
export function resolvePlacementOptions(options: Partial<PlacementOptions>): ResolvedPlacementOptions {
  if (options === null || typeof options !== "object") {
    throw new KaffixError("INVALID_ARGUMENT", "placement must be false or an object of placement options");
  }
  const { intervalMs = DEFAULT_INTERVAL_MS, drainTimeoutMs = 30_000, ...planner } = options;
  for (const [field, value] of [["intervalMs", intervalMs], ["drainTimeoutMs", drainTimeoutMs]] as const) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 10) {
      throw new KaffixError("INVALID_ARGUMENT", `placement option ${field} must be a finite number ≥ 10, got ${String(value)}`);
    }
  }
  const resolved = resolvePlannerOptions(planner);
  const known = new Set([...Object.keys(resolved), "intervalMs", "drainTimeoutMs"]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new KaffixError("INVALID_ARGUMENT", `unknown placement option "${key}"; known options are ${[...known].join(", ")}`);
  }
  return { ...resolved, intervalMs, drainTimeoutMs, movesFollowSize: planner.maxMovesPerRound === undefined };
}
