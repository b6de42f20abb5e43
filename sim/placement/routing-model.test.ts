// The latency model on small hand-built clusters: what stays local, what crosses regions, and what a request costs end to end.

import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/testing/seeded-random.js";
import { SimCluster } from "./cluster.js";
import { LatencyHistogram } from "./histogram.js";
import { sampleRequests } from "./request-sampler.js";
import { evaluateRouting, type Policy, type Replicas, RouterMemory } from "./routing-model.js";
import { makeWorkload } from "./workload.js";

/** Six nodes, two per region (eu-west holds the database); one pipeline at 300 requests/s. */
function setup() {
  const workload = makeWorkload([300], 3);
  const cluster = new SimCluster(6, workload.pipelines.map((p) => p.dbRegion));
  return { workload, cluster };
}

function evaluate(replicas: Replicas, policy: Policy) {
  const { workload, cluster } = setup();
  const memory = new RouterMemory(cluster.nodes.length, workload.services.length, cluster.regionCount);
  let model = evaluateRouting(cluster, workload, replicas, policy, memory);
  for (let i = 0; i < 4; i++) model = evaluateRouting(cluster, workload, replicas, policy, memory);
  const latency = new LatencyHistogram();
  sampleRequests(model, cluster, workload, 4000, seededRandom(7), latency);
  return { model, latency, workload, cluster };
}

const all = [0, 1, 2, 3, 4, 5];

test("with every service on every node, Kaffix's router keeps the chain on its node and round-robin does not", () => {
  const local = evaluate([all, all, all, all, all], "cost");
  const roundRobin = evaluate([all, all, all, all, all], "uniform");
  assert.ok(local.model.remotePerSec / local.model.messagesPerSec < 0.3, "most calls stay local");
  assert.ok(roundRobin.model.remotePerSec / roundRobin.model.messagesPerSec > 0.8, "round-robin sends 5 in 6 calls away");
  assert.ok(roundRobin.latency.quantile(0.5) > 3 * local.latency.quantile(0.5));
});

test("the database-bound stage is called in the database's region when it runs there: about one cross-region round trip", () => {
  // db-writer only on n0000 and n0003 (eu-west), everything else everywhere.
  const { latency, model } = evaluate([all, all, all, all, [0, 3]], "cost");
  const p50 = latency.quantile(0.5);
  assert.ok(p50 > 15 && p50 < 30, `p50 ${p50.toFixed(1)} ms: 20 ms to eu-west for two thirds of the requests, plus ~2 ms of database`);
  assert.ok(Math.max(...model.utilization) < 0.5);
});

test("a request that never leaves eu-west costs its processing and two database calls", () => {
  // Everything on n0000 only; requests enter there.
  const only = [0];
  const { latency } = evaluate([only, only, only, only, only], "cost");
  const p50 = latency.quantile(0.5);
  assert.ok(p50 > 1.5 && p50 < 5, `p50 ${p50.toFixed(2)} ms`);
});
