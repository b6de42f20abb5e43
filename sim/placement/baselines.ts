// The two placements Kaffix is measured against: every service everywhere, and one made by hand for this workload.

import type { SimCluster } from "./cluster.js";
import type { Replicas } from "./routing-model.js";
import type { Workload } from "./workload.js";

/** Every service on every node that is up (what Moleculer and Kaffix without placement do). */
export function everywhere(cluster: SimCluster, workload: Workload): Replicas {
  const up = cluster.upNodes().map((n) => n.index);
  return workload.services.map(() => up);
}

/** The node utilization the hand-made placement sizes the database-bound stage for (as the planner's target). */
const TARGET_UTILIZATION = 0.7;

/**
 * Written from knowledge of the scenario: the gateway, orders and the chatty pair on every node
 * (a request stays on the node it entered until it needs the database, and the load spreads with
 * the entry traffic); db-writer only in its database's region, on the nodes least loaded by other
 * db-writers: at least two, and enough that with the load every node carries anyway they stay
 * under 70 % utilization. It follows the cluster as it changes, at no cost.
 */
export function handMade(cluster: SimCluster, workload: Workload): Replicas {
  const up = cluster.upNodes();
  const all = up.map((n) => n.index);
  const assigned = new Map<number, number>(); // node → db-writer work given to it so far, per unit of capacity
  // The utilization every node gets from the stages that run everywhere (requests enter by capacity).
  let otherWork = 0;
  workload.services.forEach((s, i) => {
    if (s.dbCalls === 0) otherWork += (workload.pipelines[s.pipeline]!.baseRatePerSec * cluster.loadFactor * workload.perRequest[i]! * s.serviceTimeMs) / 1000;
  });
  const baseUtilization = otherWork / Math.max(1e-9, up.reduce((sum, n) => sum + n.capacity, 0));
  return workload.services.map((s, i) => {
    if (s.dbCalls === 0) return all;
    const home = cluster.dbRegion[s.pipeline]!;
    const local = up.filter((n) => n.region === home);
    const pool = local.length > 0 ? local : up;
    const pipeline = workload.pipelines[s.pipeline]!;
    const work = (pipeline.baseRatePerSec * cluster.loadFactor * workload.perRequest[i]! * s.serviceTimeMs) / 1000;
    const meanCapacity = pool.reduce((sum, n) => sum + n.capacity, 0) / Math.max(1, pool.length);
    const headroom = Math.max(0.1, TARGET_UTILIZATION - baseUtilization) * meanCapacity;
    const count = Math.min(pool.length, Math.max(2, Math.ceil(work / headroom)));
    const chosen = [...pool]
      .sort((a, b) => (assigned.get(a.index) ?? 0) - (assigned.get(b.index) ?? 0) || b.capacity - a.capacity || a.index - b.index)
      .slice(0, count);
    const capacity = chosen.reduce((sum, n) => sum + n.capacity, 0);
    for (const n of chosen) assigned.set(n.index, (assigned.get(n.index) ?? 0) + work / capacity); // shared by capacity
    return chosen.map((n) => n.index).sort((a, b) => a - b);
  });
}
