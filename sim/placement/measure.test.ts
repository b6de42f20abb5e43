// What the planner is given each round: measured only where the runtime could measure, and the runtime's move budget.

import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/testing/seeded-random.js";
import { SimCluster } from "./cluster.js";
import { measurePlanInput, withSamplingNoise } from "./measure.js";
import { makeWorkload } from "./workload.js";

test("database latency is reported only by up nodes running the service; crashed nodes are suspect, then gone", () => {
  const workload = makeWorkload([300], 3);
  const cluster = new SimCluster(6, [0]);
  const active = workload.services.map(() => new Set<number>());
  active[4] = new Set([0, 1, 3]); // db-writer on n0000, n0003 (eu-west) and n0001 (us-east)
  cluster.nodes[3]!.state = "crashed";
  cluster.nodes[3]!.crashedAtMs = 0;
  const input = measurePlanInput(cluster, workload, active, {}, 1_000, seededRandom(1), { noise: false });
  const latency = input.services.find((s) => s.id === "db-writer")!.dependencies![0]!.latencyMsByNode!;
  assert.deepEqual(latency, { n0000: 1, n0001: 21 });
  assert.equal(input.nodes.find((n) => n.id === "n0003")!.status, "suspect");
  assert.deepEqual(input.current!["db-writer"], ["n0000", "n0001", "n0003"]);
  assert.equal(input.options!.maxMovesPerRound, 6, "one change per node and round when not configured");
  const later = measurePlanInput(cluster, workload, active, {}, 60_000, seededRandom(1), { noise: false });
  assert.equal(later.nodes.length, 5);
});

test("sampling noise shrinks with the number of samples", () => {
  const random = seededRandom(3);
  const spread = (samples: number) => Math.max(...Array.from({ length: 200 }, () => Math.abs(withSamplingNoise(100, samples, 1, random) - 100)));
  assert.ok(spread(100) > spread(100_000) * 10);
});
