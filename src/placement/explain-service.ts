// Why a service went where it did: the cost terms of its chosen, current and best runner-up nodes.

import type { NodeScore } from "./plan-output.js";
import type { ViewService } from "./planning-view.js";
import { type ReplicaCost, type ScoreContext, replicaCost } from "./score.js";
import { bestOf, type Ranking } from "./select-replicas.js";

export interface ServiceChoice {
  /** Chosen nodes in pick order, the first `regionSpread` of them to cover their regions. */
  readonly picked: readonly number[];
  readonly regionSpread: number;
  /** Nodes with a replica now that still may run the service. */
  readonly kept: readonly number[];
  readonly candidates: readonly number[];
  readonly better: Ranking;
  readonly runnersUp: number;
  readonly hysteresis: number;
  readonly minSavingMs: number;
  readonly meanCapacity: number;
}

/**
 * One NodeScore per chosen, current and runner-up node, best ranked first. Must run before the
 * service's own load is placed: the terms are the ones it was ranked by.
 */
export function explainService(ctx: ScoreContext, service: ViewService, replicas: number, choice: ServiceChoice): NodeScore[] {
  const chosen = new Set(choice.picked);
  const spread = new Set(choice.picked.slice(0, choice.regionSpread));
  const current = new Set(choice.kept);
  const runnersUp = bestOf(choice.candidates, choice.runnersUp, choice.better, chosen);
  const shown = [...new Set([...choice.picked, ...choice.kept, ...runnersUp])];
  const scores = shown.map((node): NodeScore & { index: number } => {
    const parts = {} as ReplicaCost;
    replicaCost(ctx, service, replicas, node, choice.meanCapacity, parts);
    return {
      node: ctx.view.nodes[node]!.id,
      index: node,
      chosen: chosen.has(node),
      current: current.has(node),
      regionSpread: spread.has(node),
      ...parts,
      rankedCost: current.has(node) ? parts.cost - Math.max(parts.cost * choice.hysteresis, choice.minSavingMs) : parts.cost,
    };
  });
  scores.sort((a, b) => a.rankedCost - b.rankedCost || a.index - b.index);
  return scores.map(({ index: _index, ...score }) => score);
}
