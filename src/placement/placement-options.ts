// How a node runs placement: the round interval, and the planner's tunables, as `start({ placement })` takes them.

import { KaffixError } from "../errors.js";
import { DEFAULT_PLANNER_OPTIONS, resolvePlannerOptions, type PlannerOptions } from "./planner-options.js";

export interface PlacementOptions extends PlannerOptions {
  /** How often each node plans and applies its own part of the plan. Default 5 000. */
  intervalMs: number;
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
  const { intervalMs = DEFAULT_INTERVAL_MS, ...planner } = options;
  // Removals are announced a round ahead: a round must leave gossip time to carry the announcement.
  if (typeof intervalMs !== "number" || !Number.isFinite(intervalMs) || intervalMs < 100) {
    throw new KaffixError("INVALID_ARGUMENT", `placement option intervalMs must be a finite number ≥ 100, got ${String(intervalMs)}`);
  }
  const known = new Set([...Object.keys(DEFAULT_PLANNER_OPTIONS), "intervalMs"]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new KaffixError("INVALID_ARGUMENT", `unknown placement option "${key}"; known options are ${[...known].join(", ")}`);
  }
  const resolved = resolvePlannerOptions(planner);
  return { ...resolved, intervalMs, movesFollowSize: planner.maxMovesPerRound === undefined };
}
