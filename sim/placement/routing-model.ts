// One placement under one routing policy, analytically: message rates per replica, node utilization, and expected response times.
//
// Rates flow down the call graph from the gateways (external requests reach the gateways of a
// region in proportion to their capacity); each service's calls are split as Kaffix's router
// would split them (service-routes.ts), or evenly over every replica in the cluster (Moleculer's
// round-robin). Then, bottom-up, a replica's response time is its own work stretched by its
// node's utilization (M/M/1), plus its calls (hop + the callee's response), plus its database
// calls from its region. What the routers know for the next evaluation (node utilizations, rates,
// time awaiting others, as gossip would carry them) moves halfway towards what this one found.

import type { SimCluster } from "./cluster.js";
import { ServiceRoutes, stretch } from "./service-routes.js";
import type { Workload } from "./workload.js";

/** "cost": Kaffix's router (service-routes.ts). "uniform": any replica in the cluster at random (Moleculer's round-robin). */
export type Policy = "cost" | "uniform";

/** An in-process request: microseconds. */
export const LOCAL_HOP_MS = 0.005;
/** A request to another node beyond the RTT (encoding, syscalls, acks): the planner's remoteMessageCostMs. */
export const REMOTE_HOP_MS = 0.1;
/** How much of the newest evaluation the routers' view takes (the rest is the previous view): gossip and EWMAs lag. */
const MEMORY_WEIGHT = 0.5;

/** Per service: the up nodes it runs on, ascending. */
export type Replicas = readonly (readonly number[])[];

/** What the routers know of the nodes and replicas (indexed service × stride + node), carried from one evaluation to the next. */
export class RouterMemory {
  readonly utilization: Float64Array;
  readonly rate: Float64Array;
  /** Per message, the time a replica awaits other services and the database, ms. */
  readonly awaitedMs: Float64Array;
  /** The routers' last choices (NaN: none yet): share of its calls a caller keeps, and per service × caller region × region, the share of remote picks. */
  readonly keep: Float64Array;
  readonly mass: Float64Array;
  #known = false;
  constructor(
    readonly stride: number,
    serviceCount: number,
    readonly regions: number,
  ) {
    this.utilization = new Float64Array(stride);
    this.rate = new Float64Array(stride * serviceCount);
    this.awaitedMs = new Float64Array(stride * serviceCount);
    this.keep = new Float64Array(stride * serviceCount).fill(Number.NaN);
    this.mass = new Float64Array(serviceCount * regions * regions).fill(Number.NaN);
  }

  /** Moves the view towards a new evaluation (replaces it the first time). */
  update(utilization: Float64Array, rate: Float64Array, awaitedMs: Float64Array): void {
    const blend = (into: Float64Array, from: Float64Array) => {
      for (let i = 0; i < from.length; i++) into[i] = this.#known ? into[i]! * (1 - MEMORY_WEIGHT) + from[i]! * MEMORY_WEIGHT : from[i]!;
    };
    blend(this.utilization, utilization);
    blend(this.rate, rate);
    blend(this.awaitedMs, awaitedMs);
    this.#known = true;
  }
}

export interface ModelResult {
  readonly policy: Policy;
  readonly replicas: Replicas;
  /** Per service: 1 on the nodes running it. */
  readonly onNode: readonly Uint8Array[];
  /** Per service, where its messages go (cost policy). */
  readonly routes: readonly (ServiceRoutes | undefined)[];
  /** Indexed service × stride + node. */
  readonly rate: Float64Array;
  readonly processingMs: Float64Array;
  readonly responseMs: Float64Array;
  readonly utilization: Float64Array;
  /** Service-to-service messages per second, and how many of them go to another node. */
  readonly messagesPerSec: number;
  readonly remotePerSec: number;
  /** Per pipeline: gateway nodes and the cumulative share of the pipeline's requests entering at each. */
  readonly entries: { nodes: number[]; cumulative: Float64Array }[];
}

/** Evaluates `replicas` and moves `memory` towards what the routers would now see. */
export function evaluateRouting(cluster: SimCluster, workload: Workload, replicas: Replicas, policy: Policy, memory: RouterMemory): ModelResult {
  const stride = memory.stride;
  const services = workload.services;
  const nodeCount = cluster.nodes.length;
  const region = (n: number) => cluster.nodes[n]!.region;
  const onNode = services.map(() => new Uint8Array(nodeCount));
  replicas.forEach((nodes, s) => nodes.forEach((n) => (onNode[s]![n] = 1)));

  // ── Rates, top-down ──
  const rate = new Float64Array(stride * services.length);
  const traffic = new Float64Array(stride * services.length); // messages per second each node sends each service
  const entries = workload.pipelines.map((p) => entryShares(cluster, replicas[p.gateway]!));
  for (const p of workload.pipelines) {
    const total = p.baseRatePerSec * cluster.loadFactor;
    const { nodes, cumulative } = entries[p.index]!;
    nodes.forEach((n, i) => (rate[p.gateway * stride + n] = total * (cumulative[i]! - (i > 0 ? cumulative[i - 1]! : 0))));
  }
  const routes: (ServiceRoutes | undefined)[] = [];
  let messagesPerSec = 0;
  let remotePerSec = 0;
  for (const s of workload.topo) {
    const nodes = replicas[s]!;
    const callers: number[] = [];
    let sent = 0;
    for (let n = 0; n < nodeCount; n++) {
      const perSec = traffic[s * stride + n]!;
      if (perSec === 0) continue;
      callers.push(n);
      sent += perSec;
    }
    messagesPerSec += sent;
    if (sent > 0 && nodes.length > 0) {
      if (policy === "uniform") {
        for (const n of nodes) rate[s * stride + n]! += sent / nodes.length;
        for (const n of callers) remotePerSec += traffic[s * stride + n]! * (1 - onNode[s]![n]! / nodes.length);
      } else {
        const serviceTimeMs = services[s]!.serviceTimeMs;
        const route = (routes[s] = new ServiceRoutes(cluster, {
          nodes,
          serviceTimeMs,
          traffic: traffic.subarray(s * stride, (s + 1) * stride),
          callers,
          otherUtilization: (n) => Math.max(0, memory.utilization[n]! - (memory.rate[s * stride + n]! * serviceTimeMs) / 1000 / cluster.nodes[n]!.capacity),
          awaitedMs: (n) => memory.awaitedMs[s * stride + n]!,
          previousKeep: (n) => memory.keep[s * stride + n]!,
          previousMass: (from, to) => memory.mass[(s * memory.regions + from) * memory.regions + to]!,
        }));
        route.rates((n, perSec) => (rate[s * stride + n]! += perSec));
        for (const n of nodes) memory.keep[s * stride + n] = traffic[s * stride + n]! > 0 ? route.keptShare(n) : Number.NaN;
        for (let from = 0; from < memory.regions; from++) {
          for (let to = 0; to < memory.regions; to++) memory.mass[(s * memory.regions + from) * memory.regions + to] = route.massTo(from, to);
        }
        remotePerSec += route.remotePerSec;
      }
    }
    for (const n of nodes) {
      for (const call of services[s]!.calls) traffic[call.to * stride + n]! += rate[s * stride + n]! * call.count;
    }
  }

  const utilization = new Float64Array(stride);
  replicas.forEach((nodes, s) => {
    for (const n of nodes) utilization[n]! += (rate[s * stride + n]! * services[s]!.serviceTimeMs) / 1000 / cluster.nodes[n]!.capacity;
  });
  const processingMs = new Float64Array(stride * services.length);
  replicas.forEach((nodes, s) => {
    for (const n of nodes) processingMs[s * stride + n] = services[s]!.serviceTimeMs * stretch(utilization[n]!);
  });

  // ── Response times, bottom-up: a callee's are known before its callers need them ──
  const responseMs = new Float64Array(stride * services.length);
  const uniformMeanMs = new Float64Array(services.length * cluster.regionCount).fill(Number.NaN); // by callee × caller region
  const callMs = (s: number, caller: number): number => {
    const nodes = replicas[s]!;
    if (nodes.length === 0) return 0; // the sampler counts such calls as unavailable
    const localMs = LOCAL_HOP_MS + responseMs[s * stride + caller]!;
    if (policy === "uniform") {
      const from = region(caller);
      const remoteMs = (n: number) => cluster.regionRttMs[from]![region(n)]! + REMOTE_HOP_MS + responseMs[s * stride + n]!;
      const at = s * cluster.regionCount + from;
      if (Number.isNaN(uniformMeanMs[at]!)) uniformMeanMs[at] = nodes.reduce((sum, n) => sum + remoteMs(n), 0) / nodes.length;
      // Every replica alike, the caller's own one at the local cost instead of the remote one.
      return uniformMeanMs[at]! + (onNode[s]![caller] === 1 ? (localMs - remoteMs(caller)) / nodes.length : 0);
    }
    const route = routes[s] ?? idleRoutes(cluster, workload, replicas, memory, routes, s);
    return route.expectedMs(caller, onNode[s]![caller] === 1, localMs, REMOTE_HOP_MS);
  };
  for (let t = workload.topo.length - 1; t >= 0; t--) {
    const s = workload.topo[t]!;
    const svc = services[s]!;
    for (const n of replicas[s]!) {
      let ms = processingMs[s * stride + n]! + svc.dbCalls * cluster.dbLatencyMs(svc.pipeline, region(n));
      for (const call of svc.calls) ms += call.count * callMs(call.to, n);
      responseMs[s * stride + n] = ms;
    }
    routes[s]?.setResponse((n) => responseMs[s * stride + n]!);
  }

  const awaitedMs = new Float64Array(stride * services.length);
  for (let i = 0; i < awaitedMs.length; i++) awaitedMs[i] = responseMs[i]! - processingMs[i]!;
  memory.update(utilization, rate, awaitedMs);
  return { policy, replicas, onNode, routes, rate, processingMs, responseMs, utilization, messagesPerSec, remotePerSec, entries };
}

/** Routes for a service no traffic reached (its callers idle): what a first call would find. */
function idleRoutes(cluster: SimCluster, workload: Workload, replicas: Replicas, memory: RouterMemory, routes: (ServiceRoutes | undefined)[], s: number): ServiceRoutes {
  const stride = memory.stride;
  const route = new ServiceRoutes(cluster, {
    nodes: replicas[s]!,
    serviceTimeMs: workload.services[s]!.serviceTimeMs,
    traffic: new Float64Array(stride),
    callers: [],
    otherUtilization: (n) => memory.utilization[n]!,
    awaitedMs: (n) => memory.awaitedMs[s * stride + n]!,
    previousKeep: () => Number.NaN,
    previousMass: () => Number.NaN,
  });
  route.setResponse(() => 0);
  return (routes[s] = route);
}

/**
 * Where a pipeline's external requests enter: each region's share (cluster.regionWeights) over its
 * gateway replicas by capacity; a region without one sends its share to the others alike.
 */
export function entryShares(cluster: SimCluster, gateways: readonly number[]): { nodes: number[]; cumulative: Float64Array } {
  const capacityIn = new Float64Array(cluster.regionCount);
  for (const n of gateways) capacityIn[cluster.nodes[n]!.region]! += cluster.nodes[n]!.capacity;
  let served = 0;
  cluster.regionWeights.forEach((w, r) => (served += capacityIn[r]! > 0 ? w : 0));
  const cumulative = new Float64Array(gateways.length);
  let sum = 0;
  gateways.forEach((n, i) => {
    const node = cluster.nodes[n]!;
    sum += served > 0 ? (cluster.regionWeights[node.region]! / served) * (node.capacity / capacityIn[node.region]!) : 0;
    cumulative[i] = sum;
  });
  return { nodes: [...gateways], cumulative };
}
