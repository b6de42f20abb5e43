// The simulated application: messages per request along the call graph, and a call graph must have no cycle.

import assert from "node:assert/strict";
import { test } from "node:test";
import { topologicalOrder, makeWorkload } from "./workload.js";
import { LatencyHistogram } from "./histogram.js";

test("one request is one gateway message, five inventory messages and 2 ms of work", () => {
  const workload = makeWorkload([100, 100], 3);
  const ids = workload.services.map((s) => s.id);
  assert.deepEqual(ids.slice(0, 5), ["gateway-0", "orders-0", "pricing-0", "inventory-0", "db-writer-0"]);
  assert.deepEqual([...workload.perRequest.slice(0, 5)], [1, 1, 1, 5, 1]);
  assert.ok(Math.abs(workload.workPerRequestMs - 2) < 1e-9);
  assert.deepEqual(workload.pipelines.map((p) => p.dbRegion), [0, 1]);
});

test("a call graph with a cycle is refused", () => {
  assert.throws(() => topologicalOrder([{ calls: [{ to: 1, count: 1 }] }, { calls: [{ to: 0, count: 1 }] }]), /cycle/);
});

test("the latency histogram's quantiles are within 1 %", () => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.add(i);
  assert.ok(Math.abs(h.quantile(0.5) / 500 - 1) < 0.01);
  assert.ok(Math.abs(h.quantile(0.99) / 990 - 1) < 0.01);
});
