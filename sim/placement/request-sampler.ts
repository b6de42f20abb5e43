// Samples requests through the call graph of one evaluated placement: end-to-end latency as a client would see it.

import { DB_BASE_MS, DB_JITTER_MS, type SimCluster } from "./cluster.js";
import type { LatencyHistogram } from "./histogram.js";
import { LOCAL_HOP_MS, type ModelResult, REMOTE_HOP_MS } from "./routing-model.js";
import type { Workload } from "./workload.js";

/** A call finding no replica up waits for membership to notice and a replacement to start. */
export const UNAVAILABLE_WAIT_MS = 8_000;

/**
 * Adds `count` sampled requests' end-to-end latencies to `histogram`: each enters at a gateway
 * (pipelines by rate, nodes by entry share), each hop goes where the router would send it (the
 * model's decisions), processing times are exponential around the node's M/M/1 mean, database
 * calls cost their region's latency. Returns how many calls found no replica.
 */
export function sampleRequests(
  model: ModelResult,
  cluster: SimCluster,
  workload: Workload,
  count: number,
  random: () => number,
  histogram: LatencyHistogram,
): number {
  const stride = model.rate.length / workload.services.length;
  const services = workload.services;
  let unavailable = 0;

  const pick = (s: number, caller: number): number => {
    const nodes = model.replicas[s]!;
    if (nodes.length === 0) return -1;
    if (model.policy === "uniform") return nodes[Math.min(nodes.length - 1, Math.floor(random() * nodes.length))]!;
    const routes = model.routes[s];
    if (routes === undefined) return model.onNode[s]![caller] === 1 ? caller : nodes[0]!; // no traffic reached it this evaluation
    return routes.sample(caller, model.onNode[s]![caller] === 1, random);
  };
  const exponential = (meanMs: number) => -meanMs * Math.log(1 - random());

  const visit = (s: number, node: number): number => {
    const svc = services[s]!;
    let ms = exponential(model.processingMs[s * stride + node]!);
    for (const call of svc.calls) {
      for (let i = 0; i < call.count; i++) {
        const to = pick(call.to, node);
        if (to < 0) {
          unavailable++;
          ms += UNAVAILABLE_WAIT_MS;
          continue;
        }
        ms += (to === node ? LOCAL_HOP_MS : cluster.rttMs(node, to) + REMOTE_HOP_MS) + visit(call.to, to);
      }
    }
    if (svc.dbCalls > 0) {
      const region = cluster.nodes[node]!.region;
      const home = cluster.dbRegion[svc.pipeline]!;
      const rtt = region === home ? 0 : cluster.regionRttMs[region]![home]!;
      for (let i = 0; i < svc.dbCalls; i++) ms += rtt + DB_BASE_MS + exponential(DB_JITTER_MS);
    }
    return ms;
  };

  const rates = workload.pipelines.map((p) => p.baseRatePerSec);
  const totalRate = rates.reduce((a, b) => a + b, 0);
  for (let i = 0; i < count; i++) {
    let u = random() * totalRate;
    let k = 0;
    while (k < rates.length - 1 && u >= rates[k]!) u -= rates[k++]!;
    const entry = model.entries[k]!;
    if (entry.nodes.length === 0) {
      unavailable++;
      histogram.add(UNAVAILABLE_WAIT_MS);
      continue;
    }
    const node = entry.nodes[upperBound(entry.cumulative, random() * entry.cumulative[entry.cumulative.length - 1]!)]!;
    histogram.add(visit(workload.pipelines[k]!.gateway, node));
  }
  return unavailable;
}

/** The first index whose value exceeds `x` (clamped to the last). */
function upperBound(values: Float64Array, x: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
