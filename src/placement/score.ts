// The cost of one replica of a service on one node: queueing on that node, talking to partners, calling dependencies.
//
// Every term is in ms of latency per second (messages/s × ms), so they add up to one number: the
// latency the replica's share of the traffic would see there, beyond what it sees anywhere.
// - Processing: the replica's busy ms per second stretched by 1 / (1 − utilization) (M/M/1), with
//   utilization = (load placed so far + this share) / capacity, so bigger nodes take more.
// - Partners (ActOp, Orleans' actor repartitioning): a message to a partner with a replica on this
//   node is free; any other pays the RTT to the partner's nearest replica plus a fixed remote cost.
// - Dependencies (Volley's pull toward the data): calls × the latency measured from this node, or,
//   where not measured, the best of (measured latency from a node m + RTT to m) over the measured
//   nodes closest to the dependency: a path through m is one this node can surely take.

import type { PlannerOptions } from "./planner-options.js";
import type { PlanningView, ViewDependency, ViewService } from "./planning-view.js";

/** The nodes one service was placed on this round, with its nearest-replica RTTs computed on demand. */
export class PlacedReplicas {
  /** Node indices, ascending. */
  readonly nodes: readonly number[];
  readonly #on: Uint8Array;
  readonly #nearestMs: Float64Array; // NaN until computed

  constructor(nodes: readonly number[], nodeCount: number) {
    this.nodes = nodes;
    this.#on = new Uint8Array(nodeCount);
    for (const node of nodes) this.#on[node] = 1;
    this.#nearestMs = new Float64Array(nodeCount).fill(Number.NaN);
  }

  has(node: number): boolean {
    return this.#on[node] === 1;
  }

  /**
   * RTT from `node` to the nearest replica; Infinity with none. A service on very many nodes is
   * sampled at NEAREST_SAMPLE evenly spaced replicas (by id order), to bound the cost per node.
   */
  nearestMs(node: number, view: PlanningView): number {
    const known = this.#nearestMs[node]!;
    if (!Number.isNaN(known)) return known;
    const replicas = this.nodes;
    const step = Math.max(1, Math.ceil(replicas.length / NEAREST_SAMPLE));
    let best = Infinity;
    for (let i = 0; i < replicas.length && best > 0; i += step) best = Math.min(best, view.rttMs(node, replicas[i]!));
    this.#nearestMs[node] = best;
    return best;
  }
}

const NEAREST_SAMPLE = 64;

/** One replica's cost, split into its terms (the shape a NodeScore reports). */
export interface ReplicaCost {
  utilization: number;
  processingCost: number;
  localTrafficPerSec: number;
  remoteTrafficPerSec: number;
  partnerCost: number;
  dependencyCost: number;
  dependencyLatency: "measured" | "estimated" | "none";
  near: boolean;
  cost: number;
}

/** What scoring reads besides the service: the view, the options, and what is placed so far this round. */
export interface ScoreContext {
  readonly view: PlanningView;
  readonly options: PlannerOptions;
  /** Busy seconds per second placed on each node so far this round. */
  readonly placedLoad: Float64Array;
  /** Placement of each service (by index) decided earlier this round; undefined for the rest. */
  readonly placed: (PlacedReplicas | undefined)[];
  /** Dependency latency per node, measured or estimated, by dependency: filled on demand (NaN = not yet). */
  readonly latencyCache: Map<ViewDependency, Float64Array>;
}

/** Where queueing stretch stops following 1/(1 − u) and goes on as a straight line, so overload stays finite and ordered. */
const KNEE = 0.95;

/** 1 / (1 − u) below the knee, its tangent above: the M/M/1 stretch of response time over service time. */
export function queueingStretch(utilization: number): number {
  if (utilization < KNEE) return 1 / (1 - utilization);
  const atKnee = 1 / (1 - KNEE);
  return atKnee + atKnee * atKnee * (utilization - KNEE);
}

/**
 * The cost of one of `replicas` replicas of `service` on `node`; fills `parts` when given. The load
 * it adds to its node follows the node's capacity against `meanCapacity` (the eligible nodes' mean),
 * as routing spreads messages by capacity: a node twice the mean takes twice the share, at about
 * the same utilization.
 */
export function replicaCost(ctx: ScoreContext, service: ViewService, replicas: number, node: number, meanCapacity: number, parts?: ReplicaCost): number {
  const { view, options } = ctx;
  // Costs compare what one message sees, so every term uses the even share; only the node's load
  // takes the capacity-proportional share routing will give it.
  const share = 1 / Math.max(1, replicas);
  const work = Math.max(service.work * share, options.idleReplicaWork);
  const load = Math.max(service.work * capacityShare(view.nodes[node]!.capacity, replicas, meanCapacity), options.idleReplicaWork);
  const utilization = (ctx.placedLoad[node]! + load) / view.nodes[node]!.capacity;
  const processingCost = work * 1000 * queueingStretch(utilization);

  let localTrafficPerSec = 0;
  let remoteTrafficPerSec = 0;
  let partnerCost = 0;
  for (const partner of service.partners) {
    const placed = ctx.placed[partner.service];
    if (placed === undefined || placed.nodes.length === 0) continue;
    const perSec = partner.perSec * share;
    if (placed.has(node)) {
      localTrafficPerSec += perSec;
    } else {
      remoteTrafficPerSec += perSec;
      partnerCost += perSec * (placed.nearestMs(node, view) + options.remoteMessageCostMs);
    }
  }

  let dependencyCost = 0;
  let measured = 0;
  let estimated = 0;
  for (const dependency of service.dependencies) {
    if (dependency.callsPerSec === 0) continue;
    const latencyMs = dependencyLatencyMs(ctx, dependency, node);
    if (Number.isNaN(latencyMs)) continue;
    if (Number.isNaN(dependency.measuredMs[node]!)) estimated++;
    else measured++;
    dependencyCost += dependency.callsPerSec * share * latencyMs;
  }

  const near = service.hints.near !== undefined && view.nodes[node]!.labels.has(service.hints.near);
  const cost = (processingCost + partnerCost + dependencyCost) * (near ? options.nearCostFactor : 1);
  if (parts !== undefined) {
    Object.assign(parts, {
      utilization, processingCost, localTrafficPerSec, remoteTrafficPerSec, partnerCost, dependencyCost, near, cost,
      dependencyLatency: estimated > 0 ? "estimated" : measured > 0 ? "measured" : "none",
    } satisfies ReplicaCost);
  }
  return cost;
}

/** One replica's share of a service's traffic on a node of `capacity`, with `replicas` replicas on nodes of `meanCapacity` on average. */
export function capacityShare(capacity: number, replicas: number, meanCapacity: number): number {
  if (replicas <= 1) return 1;
  return meanCapacity > 0 && capacity > 0 ? Math.min(1, capacity / (replicas * meanCapacity)) : 1 / replicas;
}

/** Latency to `dependency` from `node`: measured, else estimated through the closest measured nodes; NaN when nothing is measured. */
function dependencyLatencyMs(ctx: ScoreContext, dependency: ViewDependency, node: number): number {
  const measured = dependency.measuredMs[node]!;
  if (!Number.isNaN(measured)) return measured;
  if (dependency.closest.length === 0) return Number.NaN;
  let cache = ctx.latencyCache.get(dependency);
  if (cache === undefined) {
    cache = new Float64Array(ctx.view.nodes.length).fill(Number.NaN);
    ctx.latencyCache.set(dependency, cache);
  }
  const known = cache[node]!;
  if (!Number.isNaN(known)) return known;
  let best = Infinity;
  for (const via of dependency.closest) {
    best = Math.min(best, dependency.measuredMs[via]! + ctx.view.rttMs(node, via));
  }
  cache[node] = best;
  return best;
}
