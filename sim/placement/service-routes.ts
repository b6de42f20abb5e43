// Where one service's messages go once its callers' traffic is known, as Kaffix's router would send them, in the mean.
//
// pickByCost (src/routing/cost-picker.ts) weighs RTT + (outstanding + 1) / capacity × handler
// duration (the whole handler, awaited calls included): the local mailbox unless the cheaper of
// two sampled remote replicas costs less than 1/1.05 of it. Modelled per service, at the load the
// choices cause (successive averages over MASS_STEPS):
// - a caller running the service keeps the share of its calls for which its own replica wins
//   against the remote pick, softly (route-split.ts);
// - the rest, and the calls of nodes not running it, go to a region: a random pair of replicas,
//   the cheaper region of the two, softly;
// - within a region the picks, counted at once, keep replicas level: remote calls fill them in
//   proportion to their spare capacity (capacity not used by other work) on top of what they keep.

import { type Candidate, estimateCostMs } from "../../src/routing/cost-picker.js";
import type { SimCluster } from "./cluster.js";
import { cheaperChance, fillTier, pairMasses } from "./route-split.js";

/** pickByCost's default local slack (relative, and absolute in ms). */
export const LOCAL_SLACK = 0.05;
export const LOCAL_SLACK_MS = 0.02;
const STEPS = 8;

export interface ServiceLoad {
  /** Nodes running the service (up). */
  readonly nodes: readonly number[];
  readonly serviceTimeMs: number;
  /** Messages per second each node sends the service (by node index). */
  readonly traffic: Float64Array;
  /** Nodes sending it anything. */
  readonly callers: readonly number[];
  /** Per node, its utilization from other services (as last seen). */
  readonly otherUtilization: (node: number) => number;
  /** Per replica, the time it awaits others per message (as last seen), ms. */
  readonly awaitedMs: (node: number) => number;
  /** The routers' choices at the previous evaluation, where to start from: a caller's kept share, a region's share of a caller region's remote picks (NaN: none). */
  readonly previousKeep: (node: number) => number;
  readonly previousMass: (callerRegion: number, region: number) => number;
}

interface Tier {
  readonly region: number;
  readonly nodes: number[];
  readonly capacity: Float64Array;
  readonly spare: Float64Array;
  /** Calls its own node sends each replica, and the share of them it keeps. */
  readonly demand: Float64Array;
  readonly keep: Float64Array;
  readonly kept: Float64Array;
  rate: Float64Array;
  /** pickByCost's estimate per replica at that rate, RTT aside. */
  cost: Float64Array;
  /** Remote calls received per replica, cumulative (what a remote pick is drawn by). */
  cumulative: Float64Array;
  /** Response time of a remote pick here, weighted as picks land (set by setResponse). */
  meanResponseMs: number;
}

type MutableCandidate = { -readonly [K in keyof Candidate<null>]: Candidate<null>[K] };

export class ServiceRoutes {
  readonly #cluster: SimCluster;
  readonly #tiers: Tier[];
  readonly #tierOf: Int32Array;
  /** Per caller region: share of remote picks going to each tier. */
  readonly #mass: Float64Array[];
  /** Messages per second that leave their node. */
  readonly remotePerSec: number;

  constructor(cluster: SimCluster, load: ServiceLoad) {
    this.#cluster = cluster;
    const regions = cluster.regionCount;
    const byRegion = new Map<number, number[]>();
    for (const n of load.nodes) byRegion.set(cluster.nodes[n]!.region, [...(byRegion.get(cluster.nodes[n]!.region) ?? []), n]);
    this.#tierOf = new Int32Array(regions).fill(-1);
    this.#tiers = [...byRegion]
      .sort((a, b) => a[0] - b[0])
      .map(([region, nodes], i) => {
        this.#tierOf[region] = i;
        const capacity = Float64Array.from(nodes, (n) => cluster.nodes[n]!.capacity);
        return {
          region,
          nodes,
          capacity,
          spare: Float64Array.from(nodes, (n, j) => capacity[j]! * Math.max(0.05, 1 - load.otherUtilization(n))),
          demand: Float64Array.from(nodes, (n) => load.traffic[n]!),
          keep: Float64Array.from(nodes, (n) => (Number.isNaN(load.previousKeep(n)) ? 1 : load.previousKeep(n))),
          kept: new Float64Array(nodes.length),
          rate: new Float64Array(nodes.length),
          cost: new Float64Array(nodes.length),
          cumulative: new Float64Array(nodes.length),
          meanResponseMs: 0,
        };
      });

    const running = new Set(load.nodes);
    const fromRegion = new Float64Array(regions); // calls of nodes not running the service
    let total = 0;
    for (const n of load.callers) {
      total += load.traffic[n]!;
      if (!running.has(n)) fromRegion[cluster.nodes[n]!.region]! += load.traffic[n]!;
    }
    const candidate: MutableCandidate = { destination: null, nodeId: "", local: false, rttMs: 0, outstanding: 0, capacity: 1, serviceTimeMs: 0 };
    const counts = this.#tiers.map((t) => t.nodes.length);
    const regionCost = new Float64Array(this.#tiers.length);

    // Rates for the current choices: kept calls stay, the rest of each region's calls go by `mass`.
    const settle = (mass: Float64Array[]) => {
      const inflow = new Float64Array(this.#tiers.length);
      const remote = new Float64Array(fromRegion);
      for (const t of this.#tiers) t.demand.forEach((d, j) => (remote[t.region]! += d * (1 - t.keep[j]!)));
      remote.forEach((w, r) => mass[r]!.forEach((m, i) => (inflow[i]! += w * m)));
      this.#tiers.forEach((t, i) => {
        let keptTotal = 0;
        for (let j = 0; j < t.nodes.length; j++) keptTotal += t.kept[j] = t.demand[j]! * t.keep[j]!;
        t.rate = fillTier(t.kept, t.spare, keptTotal + inflow[i]!);
        // The region's cost where a remote pick lands: at the level of the replicas topped up by remote
        // calls (the others are busier with calls from their own node), or its cheapest replica.
        let weighted = 0;
        let weight = 0;
        let cheapest = Infinity;
        t.nodes.forEach((n, j) => {
          const u = load.otherUtilization(n) + (t.rate[j]! * load.serviceTimeMs) / 1000 / t.capacity[j]!;
          candidate.serviceTimeMs = load.serviceTimeMs * stretch(u) + load.awaitedMs(n);
          candidate.outstanding = (t.rate[j]! * candidate.serviceTimeMs) / 1000; // Little's law
          candidate.capacity = t.capacity[j]!;
          t.cost[j] = estimateCostMs(candidate);
          const remote = t.rate[j]! - t.kept[j]!;
          if (remote > 1e-9) (weighted += remote * t.cost[j]!), (weight += remote);
          cheapest = Math.min(cheapest, t.cost[j]!);
        });
        regionCost[i] = weight > 0 ? weighted / weight : cheapest;
      });
    };
    const massesNow = () => Array.from({ length: regions }, (_, r) => pairMasses(counts, this.#tiers.map((t, i) => cluster.regionRttMs[r]![t.region]! + regionCost[i]!)));
    const remoteCost = (mass: Float64Array, r: number) => this.#tiers.reduce((sum, t, i) => sum + mass[i]! * (cluster.regionRttMs[r]![t.region]! + regionCost[i]!), 0);

    settle(Array.from({ length: regions }, () => new Float64Array(this.#tiers.length)));
    const fresh = massesNow();
    this.#mass = fresh.map((mass, r) => {
      const previous = this.#tiers.map((t) => load.previousMass(r, t.region));
      const sum = previous.reduce((a, b) => a + b, 0);
      return Number.isNaN(sum) || Math.abs(sum - 1) > 1e-6 ? mass : Float64Array.from(previous);
    });
    for (let k = 1; k <= STEPS; k++) {
      settle(this.#mass);
      const mass = massesNow();
      this.#mass.forEach((m, r) => m.forEach((x, i) => (m[i] = (x * k + mass[r]![i]!) / (k + 1))));
      for (const t of this.#tiers) {
        const remote = remoteCost(this.#mass[t.region]!, t.region);
        t.nodes.forEach((_, j) => {
          if (t.demand[j] === 0) return;
          const keep = counts.reduce((a, b) => a + b, 0) === 1 ? 1 : cheaperChance(t.cost[j]!, remote * (1 + LOCAL_SLACK) + LOCAL_SLACK_MS);
          t.keep[j] = (t.keep[j]! * k + keep) / (k + 1);
        });
      }
    }
    settle(this.#mass);

    let kept = 0;
    for (const t of this.#tiers) {
      let sum = 0;
      t.nodes.forEach((_, j) => {
        kept += t.demand[j]! * t.keep[j]!;
        // Remote picks land by what each replica receives from elsewhere; with none, by spare capacity.
        sum += Math.max(0, t.rate[j]! - t.demand[j]! * t.keep[j]!);
        t.cumulative[j] = sum;
      });
      if (sum <= 1e-9) {
        let spare = 0;
        t.spare.forEach((s, j) => (t.cumulative[j] = spare += s));
      }
    }
    this.remotePerSec = total - kept;
  }

  /** The share of remote picks from `callerRegion` going to `region`'s replicas. */
  massTo(callerRegion: number, region: number): number {
    const tier = this.#tierOf[region]!;
    return tier < 0 ? 0 : this.#mass[callerRegion]![tier]!;
  }

  /** Calls `into` with each replica's messages per second. */
  rates(into: (node: number, perSec: number) => void): void {
    for (const t of this.#tiers) t.nodes.forEach((n, j) => into(n, t.rate[j]!));
  }

  /** Share of its calls a node running the service keeps local. */
  keptShare(node: number): number {
    const t = this.#tiers[this.#tierOf[this.#cluster.nodes[node]!.region]!];
    const j = t?.nodes.indexOf(node) ?? -1;
    return j < 0 ? 1 : t!.keep[j]!;
  }

  /** Sets the replicas' response times (ms), for `expectedMs`. */
  setResponse(responseMs: (node: number) => number): void {
    for (const t of this.#tiers) {
      let weighted = 0;
      t.nodes.forEach((n, j) => (weighted += (t.cumulative[j]! - (j > 0 ? t.cumulative[j - 1]! : 0)) * responseMs(n)));
      t.meanResponseMs = weighted / t.cumulative[t.nodes.length - 1]!;
    }
  }

  /** Expected time of one call from `caller`: `localMs` when kept, else RTT + `remoteHopMs` + the response where it lands. */
  expectedMs(caller: number, runsHere: boolean, localMs: number, remoteHopMs: number): number {
    const region = this.#cluster.nodes[caller]!.region;
    const keep = runsHere ? this.keptShare(caller) : 0;
    let remote = 0;
    if (keep < 1) {
      this.#mass[region]!.forEach((m, i) => {
        if (m > 0) remote += m * (this.#cluster.regionRttMs[region]![this.#tiers[i]!.region]! + remoteHopMs + this.#tiers[i]!.meanResponseMs);
      });
    }
    return keep * localMs + (1 - keep) * remote;
  }

  /** The node one call from `caller` goes to, drawn as the router would send it; -1 when none runs the service. */
  sample(caller: number, runsHere: boolean, random: () => number): number {
    if (this.#tiers.length === 0) return -1;
    if (runsHere && random() < this.keptShare(caller)) return caller;
    const mass = this.#mass[this.#cluster.nodes[caller]!.region]!;
    let u = random();
    let tier = 0;
    for (let i = 0; i < mass.length; i++) {
      if (mass[i]! <= 0) continue;
      tier = i;
      if ((u -= mass[i]!) < 0) break;
    }
    const t = this.#tiers[tier]!;
    const x = random() * t.cumulative[t.nodes.length - 1]!;
    for (let j = 0; j < t.nodes.length; j++) if (t.cumulative[j]! > x) return t.nodes[j]!;
    return t.nodes[t.nodes.length - 1]!;
  }
}

/** Where the stretch stops following 1 / (1 − u) and goes on as its tangent. */
const KNEE = 0.99;

/**
 * M/M/1 response time over service time at utilization u: 1 / (1 − u) up to 99 % (×100), then
 * its tangent, steep enough that an overloaded node looks dear to the routers, as its growing
 * queue would, while latencies stay finite.
 */
export function stretch(u: number): number {
  if (u < KNEE) return 1 / (1 - u);
  const atKnee = 1 / (1 - KNEE);
  return atKnee + atKnee * atKnee * (u - KNEE);
}
