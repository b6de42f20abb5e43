// The placement planner: which nodes each service should be active on, as a pure function of the gossiped view.
//
// Every node runs it on the same view and gets the same plan: no clock, no randomness, no I/O, and
// every order (nodes, services, float sums, ties) fixed by ids. One round:
// 1. Services in planning order (most work first, then id), each placed once, seeing the load and
//    the partners placed before it. The heavy go first and the light follow their partners, the
//    cheaper of the two to move (Orleans/ActOp move the actor, not the partner it talks to).
// 2. Per service: its candidates (alive, may run it, within its `region` hint; suspect nodes only
//    where it runs now), a replica count (replica-count.ts), each candidate's cost (score.ts) with
//    a current replica's cost lowered by the hysteresis share, then the best set covering the
//    regions (select-replicas.ts). Ties go to the current node, then to hash32(service, node),
//    which spreads equal services over equal nodes like rendezvous hashing.
// 3. Stability: replicas on nodes that are gone are dropped and replaced at once, and a service
//    with no live replica gets its whole placement; every other change waits out
//    `minMoveIntervalMs` and is paid from the round's `maxMovesPerRound`, adds first
//    (make-before-break), a relocation's add and remove together.
//
// Zero oscillation: a service's target depends only on the view, the services before it and its
// own current nodes. When every service reached its target, the next round ranks those nodes
// better (they are current now) and the rest no better, so select-replicas returns the same sets,
// service after service: the plan of a plan has no moves. A round cut short by the budget or the
// interval only moves services toward their targets, so repeated rounds settle.
//
// The plan says which replicas exist; how messages spread over them stays routing's business
// (power of two choices over the active set, cost-picker.ts), per message and with randomness.

import { hash32 } from "../hash.js";
import { explainService } from "./explain-service.js";
import type { PlanInput } from "./plan-input.js";
import type { Move, MoveReason, Plan, ReplicaRule, ServicePlan } from "./plan-output.js";
import { resolvePlannerOptions } from "./planner-options.js";
import { PlanningView, type ViewService } from "./planning-view.js";
import { replicaCount } from "./replica-count.js";
import { PlacedReplicas, replicaCost, type ReplicaCost, type ScoreContext } from "./score.js";
import { type Ranking, selectReplicas } from "./select-replicas.js";

/** Plans one round. Throws INVALID_ARGUMENT for duplicate ids or options out of range. */
export function planPlacement(input: PlanInput): Plan {
  const options = resolvePlannerOptions(input.options);
  const view = new PlanningView(input);
  const ctx: ScoreContext = {
    view,
    options,
    placedLoad: new Float64Array(view.nodes.length),
    placed: [],
    latencyCache: new Map(),
  };
  const round: Round = { budgetLeft: options.maxMovesPerRound, moves: [], nowMs: input.nowMs };
  const planned = view.services.map((service, order) => planService(ctx, round, service, order));
  const byId = planned.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    placement: Object.fromEntries(byId.map((p) => [p.id, p.nodes])),
    moves: round.moves,
    services: Object.fromEntries(byId.map((p) => [p.id, p.plan])),
  };
}

interface Round {
  budgetLeft: number;
  readonly moves: Move[];
  readonly nowMs: number;
}

interface PlannedService {
  readonly id: string;
  readonly nodes: string[];
  readonly plan: ServicePlan;
}

function planService(ctx: ScoreContext, round: Round, service: ViewService, order: number): PlannedService {
  const { view, options } = ctx;
  const nodes = view.nodes;
  const choice = chooseNodes(ctx, service);
  const { final, deferred } = changeTowards(ctx, round, service, choice);

  const explained = explainService(ctx, service, choice.replicas, {
    picked: choice.picked,
    regionSpread: choice.regionSpread,
    kept: choice.kept,
    candidates: choice.candidates,
    better: choice.better,
    runnersUp: options.runnersUp,
    hysteresis: options.hysteresis,
    minSavingMs: options.minSavingMs,
    meanCapacity: choice.meanCapacity,
  });
  ctx.placed[order] = new PlacedReplicas(final, nodes.length);
  // Routing spreads messages by capacity, so each replica's load follows its node's capacity.
  const totalCapacity = final.reduce((sum, node) => sum + nodes[node]!.capacity, 0);
  for (const node of final) {
    const share = totalCapacity > 0 ? nodes[node]!.capacity / totalCapacity : 1 / final.length;
    ctx.placedLoad[node] = ctx.placedLoad[node]! + Math.max(service.work * share, options.idleReplicaWork);
  }

  const plan: ServicePlan = {
    order,
    work: service.work,
    eligible: choice.candidates.length,
    replicas: choice.replicas,
    replicasBecause: choice.rule,
    target: choice.picked.map((node) => nodes[node]!.id).sort(),
    ...(deferred === undefined ? {} : { deferred }),
    nodes: explained,
  };
  return { id: service.id, nodes: final.map((node) => nodes[node]!.id), plan };
}

/** Where a service should run, with no move limits: its target, and what it was chosen from. */
interface Choice {
  /** Current nodes that are gone or may no longer run it (ids: they may not be in the view). */
  readonly gone: readonly string[];
  /** Current nodes that still may run it, ascending. */
  readonly kept: readonly number[];
  readonly current: Uint8Array;
  readonly candidates: readonly number[];
  readonly isCandidate: Uint8Array;
  readonly replicas: number;
  readonly rule: ReplicaRule;
  readonly floor: number;
  readonly ceiling: number;
  readonly better: Ranking;
  /** The target in pick order, the first `regionSpread` covering their regions. */
  readonly picked: readonly number[];
  readonly regionSpread: number;
  /** Mean capacity of the eligible nodes: replicas' shares follow their node's capacity against it. */
  readonly meanCapacity: number;
}

/** A region's best node may cost up to this many times the best node and still get a replica for redundancy. */
const SPREAD_COST_FACTOR = 2;

function chooseNodes(ctx: ScoreContext, service: ViewService): Choice {
  const { view, options } = ctx;
  const nodes = view.nodes;
  const allowed = markOf(service.allowed, nodes.length);
  const gone: string[] = [];
  const kept: number[] = [];
  for (const id of service.currentIds) {
    const node = view.nodeIndex.get(id);
    if (node !== undefined && allowed[node] === 1) kept.push(node);
    else gone.push(id);
  }
  const current = markOf(kept, nodes.length);

  // The region hint filters as long as an alive node of the region may run the service; suspect
  // nodes take no new replicas. Neither rule looks at the current placement (the fixed point needs that).
  const region = service.hints.region === undefined ? undefined : view.regions.get(service.hints.region);
  const inRegion = region === undefined ? [] : service.allowed.filter((node) => nodes[node]!.region === region);
  const eligible = inRegion.some((node) => nodes[node]!.alive) ? inRegion : service.allowed;
  const candidates = eligible.filter((node) => nodes[node]!.alive || current[node] === 1);

  const meanCapacity = eligible.reduce((sum, node) => sum + nodes[node]!.capacity, 0) / Math.max(1, eligible.length);
  const count = replicaCount({
    work: service.work,
    hints: service.hints,
    candidates: candidates.length,
    meanCapacity,
    targetUtilization: options.targetUtilization,
    defaultMinReplicas: options.defaultMinReplicas,
    current: kept.length,
    hysteresis: options.hysteresis,
  });

  const ranked = new Float64Array(nodes.length);
  /** What the node's place costs, apart from its load: partners and dependencies. */
  const placeCost = new Float64Array(nodes.length);
  const parts = {} as ReplicaCost;
  for (const node of candidates) {
    const cost = replicaCost(ctx, service, count.replicas, node, meanCapacity, parts);
    placeCost[node] = parts.partnerCost + parts.dependencyCost;
    // A current replica keeps its place unless another node is better by the larger of the
    // hysteresis share and an absolute saving: small costs differ by noise alone.
    ranked[node] = current[node] === 1 ? cost - Math.max(cost * options.hysteresis, options.minSavingMs) : cost;
  }
  const ties = new Float64Array(nodes.length).fill(Number.NaN);
  const tie = (node: number) => {
    if (Number.isNaN(ties[node]!)) ties[node] = hash32(`${service.id}\u0000${nodes[node]!.id}`);
    return ties[node]!;
  };
  const better: Ranking = (a, b) => ranked[a]! - ranked[b]! || current[b]! - current[a]! || tie(a) - tie(b) || a - b;
  // Redundancy across regions, but not at any price: a region whose best node's place (partners and
  // dependencies; load is routing's to balance) costs more than SPREAD_COST_FACTOR times the best
  // place, plus the minimum saving, is not worth a replica just for being another region, e.g. a
  // region far from the database the service spends its time on.
  // The best place among alive nodes only: suspect ones are candidates just while they hold a
  // replica, and a threshold that moved with them would undo the planner's fixed point.
  let cheapest = Infinity;
  for (const node of candidates) if (nodes[node]!.alive) cheapest = Math.min(cheapest, placeCost[node]!);
  const worthSpreading = (node: number) => placeCost[node]! <= SPREAD_COST_FACTOR * cheapest + options.minSavingMs;
  const { picked, regionSpread } = selectReplicas(candidates, count.replicas, (node) => nodes[node]!.region, better, worthSpreading);
  return {
    gone, kept, current, candidates, isCandidate: markOf(candidates, nodes.length),
    replicas: count.replicas, rule: count.rule, floor: count.floor, ceiling: count.ceiling,
    better, picked, regionSpread, meanCapacity,
  };
}

/**
 * Moves a service from its current nodes towards its target as far as the rules allow, records
 * the moves, and returns the resulting nodes (ascending) and why it stopped short, if it did.
 */
function changeTowards(ctx: ScoreContext, round: Round, service: ViewService, choice: Choice): { final: number[]; deferred: ServicePlan["deferred"] } {
  const nodes = ctx.view.nodes;
  const { kept, current, isCandidate, replicas: k, better } = choice;
  const target = markOf(choice.picked, nodes.length);
  const adds = choice.picked.filter((node) => current[node] === 0); // regions first, then best first
  const outsiders = kept.filter((node) => isCandidate[node] === 0);
  const worse = kept.filter((node) => isCandidate[node] === 1 && target[node] === 0).sort((a, b) => better(b, a));
  const removes = [...outsiders, ...worse];

  const final = new Set(kept);
  const record = (node: number, action: Move["action"], reason: MoveReason, budgeted: boolean) => {
    round.moves.push({ service: service.id, node: nodes[node]!.id, action, reason, budgeted });
    if (action === "add") final.add(node);
    else final.delete(node);
  };
  for (const id of choice.gone) round.moves.push({ service: service.id, node: id, action: "remove", reason: "node-gone", budgeted: false });

  // Restoring redundancy is free: the whole placement when nothing is left, else back to the count before failures (or the floor).
  const had = service.currentIds.length;
  const freeAdds = Math.min(adds.length, kept.length === 0 ? adds.length : Math.max(0, Math.min(k, Math.max(choice.floor, had)) - kept.length));
  for (const node of adds.slice(0, freeAdds)) record(node, "add", kept.length === 0 && had === 0 ? "initial" : "replace", false);

  const removeReason = (node: number): MoveReason => (isCandidate[node] === 0 ? "not-eligible" : kept.length > k ? "scale-down" : "rebalance");
  let nextAdd = freeAdds;
  let nextRemove = 0;
  const remove = () => {
    const node = removes[nextRemove++]!;
    record(node, "remove", removeReason(node), true);
  };
  const lastMoveMs = service.lastMoveMs;
  const frozen = lastMoveMs !== undefined && round.nowMs - lastMoveMs < ctx.options.minMoveIntervalMs;
  while (!frozen && round.budgetLeft > 0 && (nextAdd < adds.length || nextRemove < removes.length)) {
    const canAdd = nextAdd < adds.length;
    const canRemove = nextRemove < removes.length;
    if (canAdd && (final.size < k || !canRemove)) {
      record(adds[nextAdd++]!, "add", final.size < k ? "scale-up" : "rebalance", true);
      round.budgetLeft--;
    } else if (canAdd && round.budgetLeft >= 2) {
      record(adds[nextAdd++]!, "add", "rebalance", true); // a relocation: the add and its removal together
      remove();
      round.budgetLeft -= 2;
    } else if (canAdd && final.size < choice.ceiling) {
      record(adds[nextAdd++]!, "add", "rebalance", true); // its removal waits for the next round
      round.budgetLeft--;
    } else if (canAdd) {
      break; // a relocation at maxReplicas needs both changes in one round
    } else {
      remove();
      round.budgetLeft--;
    }
  }
  const pending = nextAdd < adds.length || nextRemove < removes.length;
  return {
    final: [...final].sort((a, b) => a - b),
    deferred: !pending ? undefined : frozen ? "min-move-interval" : "move-budget",
  };
}

/** A 0/1 array over the nodes, 1 at each of `nodes`. */
function markOf(nodes: readonly number[], nodeCount: number): Uint8Array {
  const mark = new Uint8Array(nodeCount);
  for (const node of nodes) mark[node] = 1;
  return mark;
}
