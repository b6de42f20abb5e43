// The message flow between services, summed over the cluster from the gossiped `to` rates, split into local and cross-node.

import type { MemberView } from "../../index.js";

export interface FlowEdge {
  readonly from: string;
  readonly to: string;
  /** Messages per second from `from`'s handlers to `to`, over every live node. */
  readonly perSec: number;
  /** The part sent by nodes that run `to` themselves: routing keeps those local unless the local replica is much busier. */
  readonly localPerSec: number;
  /** The part sent by nodes that do not run `to`: it must cross the network. */
  readonly crossPerSec: number;
}

export interface FlowService {
  readonly id: string;
  /** Messages accepted per second, over every live node. */
  readonly perSec: number;
  /** Live nodes where it is active. */
  readonly replicas: number;
  /** Mean handler time over its replicas, weighted by their arrival rates, ms (gossiped moving averages). */
  readonly serviceTimeMs: number;
}

export interface MessageFlow {
  readonly services: FlowService[];
  readonly edges: FlowEdge[];
}

const LIVE: ReadonlySet<string> = new Set(["alive", "suspect"]);

/**
 * Sums what every live member gossips. An edge's rate from one node counts as local when that node
 * runs the target too, cross-node otherwise: routing picks the local replica when it is about as
 * cheap as the best sampled peer, so this is an estimate that misses the overflow a busy local
 * replica sends elsewhere. Rates are those of the last gossip refresh (every few seconds).
 */
export function messageFlow(members: readonly MemberView[], serviceIds: readonly string[]): MessageFlow {
  const services = new Map<string, { perSec: number; replicas: number; busyMs: number }>();
  for (const id of serviceIds) services.set(id, { perSec: 0, replicas: 0, busyMs: 0 });
  const edges = new Map<string, { from: string; to: string; local: number; cross: number }>();
  for (const member of members) {
    if (!LIVE.has(member.state)) continue;
    for (const [id, load] of Object.entries(member.running)) {
      let service = services.get(id);
      if (service === undefined) services.set(id, (service = { perSec: 0, replicas: 0, busyMs: 0 }));
      service.perSec += load.arrivalPerSec;
      service.replicas += 1;
      service.busyMs += load.arrivalPerSec * load.serviceTimeMs;
      for (const [to, rate] of Object.entries(load.to ?? {})) {
        if (!(rate > 0)) continue;
        const key = `${id}\u0000${to}`;
        let edge = edges.get(key);
        if (edge === undefined) edges.set(key, (edge = { from: id, to, local: 0, cross: 0 }));
        if (member.running[to] !== undefined) edge.local += rate;
        else edge.cross += rate;
      }
    }
  }
  return {
    services: [...services].map(([id, s]) => ({
      id,
      perSec: round(s.perSec),
      replicas: s.replicas,
      serviceTimeMs: s.perSec > 0 ? round(s.busyMs / s.perSec) : 0,
    })),
    edges: [...edges.values()].map((e) => ({
      from: e.from,
      to: e.to,
      perSec: round(e.local + e.cross),
      localPerSec: round(e.local),
      crossPerSec: round(e.cross),
    })),
  };
}

/** Three significant digits: gossip carries two, sums need no more. */
function round(value: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(3));
}
