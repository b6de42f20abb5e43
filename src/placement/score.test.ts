// One replica's cost on one node: queueing against capacity, partners near or far, dependency latency, the near label.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { node, service } from "./plan-fixtures.test-support.js";
import type { PlanInput } from "./plan-input.js";
import { DEFAULT_PLANNER_OPTIONS } from "./planner-options.js";
import { PlanningView } from "./planning-view.js";
import { PlacedReplicas, type ReplicaCost, type ScoreContext, queueingStretch, replicaCost } from "./score.js";

/** A scoring context over `input` with nothing placed yet; services are found by id. */
function context(input: Omit<PlanInput, "nowMs">) {
  const view = new PlanningView({ ...input, nowMs: 0 });
  const ctx: ScoreContext = { view, options: { ...DEFAULT_PLANNER_OPTIONS }, placedLoad: new Float64Array(view.nodes.length), placed: [], latencyCache: new Map() };
  const serviceIndex = (id: string) => view.services.findIndex((s) => s.id === id);
  const nodeIndex = (id: string) => view.nodeIndex.get(id)!;
  const meanCapacity = view.nodes.reduce((sum, node) => sum + node.capacity, 0) / Math.max(1, view.nodes.length);
  const cost = (serviceId: string, nodeId: string, replicas = 1) => {
    const parts = {} as ReplicaCost;
    replicaCost(ctx, view.services[serviceIndex(serviceId)]!, replicas, nodeIndex(nodeId), meanCapacity, parts);
    return parts;
  };
  const place = (serviceId: string, nodeIds: string[]) => {
    ctx.placed[serviceIndex(serviceId)] = new PlacedReplicas(nodeIds.map(nodeIndex).sort((a, b) => a - b), view.nodes.length);
  };
  return { ctx, cost, place, nodeIndex };
}

const zeroRtt = () => 0;

test("queueing stretch is 1 when idle, 1/(1 − u) below the knee, and keeps rising past full", () => {
  assert.equal(queueingStretch(0), 1);
  assert.equal(queueingStretch(0.5), 2);
  assert.ok(queueingStretch(1.5) > queueingStretch(1) && queueingStretch(1) > queueingStretch(0.949));
  fc.assert(fc.property(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true }), (a, b) => {
    return a <= b ? queueingStretch(a) <= queueingStretch(b) : queueingStretch(a) >= queueingStretch(b);
  }));
  assert.ok(Math.abs(queueingStretch(0.95 - 1e-9) - queueingStretch(0.95)) < 1e-4, "continuous at the knee");
});

test("the same work costs less on a node with twice the capacity", () => {
  const { cost } = context({ nodes: [node("small", { services: ["s"] }), node("big", { capacity: 2, services: ["s"] })], rttMs: zeroRtt, services: [service("s", { arrivalPerSec: 500, serviceTimeMs: 1 })] });
  const small = cost("s", "small");
  const big = cost("s", "big");
  assert.equal(small.utilization, 0.5);
  assert.equal(big.utilization, 0.25);
  assert.equal(small.processingCost, 500 * 2); // 500 busy ms per second, stretched ×2 at half load
  assert.ok(big.cost < small.cost);
});

test("load placed earlier this round makes a node more expensive", () => {
  const { ctx, cost, nodeIndex } = context({ nodes: [node("a", { services: ["s"] })], rttMs: zeroRtt, services: [service("s", { arrivalPerSec: 100, serviceTimeMs: 1 })] });
  const idle = cost("s", "a").cost;
  ctx.placedLoad[nodeIndex("a")] = 0.6;
  assert.ok(cost("s", "a").cost > idle * 2);
});

test("a replica's share shrinks with the replica count", () => {
  const { cost } = context({ nodes: [node("a", { services: ["s"] })], rttMs: zeroRtt, services: [service("s", { arrivalPerSec: 400, serviceTimeMs: 1 })] });
  assert.equal(cost("s", "a", 1).utilization, 0.4);
  assert.equal(cost("s", "a", 4).utilization, 0.1);
});

test("an idle service still counts a little load, so idle replicas spread", () => {
  const { cost } = context({ nodes: [node("a", { services: ["s"] })], rttMs: zeroRtt, services: [service("s")] });
  assert.equal(cost("s", "a").utilization, DEFAULT_PLANNER_OPTIONS.idleReplicaWork);
  assert.ok(cost("s", "a").cost > 0);
});

test("traffic to a partner on the same node is free; elsewhere it pays the RTT to the nearest replica plus the remote cost", () => {
  const rtt = new Map([["a|b", 2], ["a|c", 7], ["b|c", 5]]);
  const rttMs = (x: string, y: string) => rtt.get([x, y].sort().join("|")) ?? 0;
  const nodes = ["a", "b", "c"].map((id) => node(id, { services: ["s", "p"] }));
  const { cost, place } = context({ nodes, rttMs, services: [service("s"), service("p")], traffic: [{ from: "s", to: "p", perSec: 60 }, { from: "p", to: "s", perSec: 40 }] });
  assert.equal(cost("s", "a").partnerCost, 0, "a partner not placed yet does not count");
  place("p", ["a", "c"]);
  assert.deepEqual({ local: cost("s", "a").localTrafficPerSec, remote: cost("s", "a").remoteTrafficPerSec, cost: cost("s", "a").partnerCost }, { local: 100, remote: 0, cost: 0 });
  const onB = cost("s", "b");
  assert.equal(onB.remoteTrafficPerSec, 100);
  assert.equal(onB.partnerCost, 100 * (2 + DEFAULT_PLANNER_OPTIONS.remoteMessageCostMs)); // nearest replica is a, 2 ms
  assert.equal(cost("s", "b", 2).partnerCost, onB.partnerCost / 2, "two replicas split the traffic");
});

test("dependency latency counts where measured, and is estimated through the closest measured node elsewhere", () => {
  const positions = new Map([["near", 0], ["far", 50], ["beside-near", 1]]);
  const rttMs = (x: string, y: string) => Math.abs(positions.get(x)! - positions.get(y)!);
  const nodes = [...positions.keys()].map((id) => node(id, { services: ["s", "t"] }));
  const dependencies = [{ name: "postgres", callsPerSec: 10, latencyMsByNode: { near: 2, far: 45 } }];
  const { cost } = context({ nodes, rttMs, services: [service("s", { dependencies }), service("t", { dependencies: [{ name: "postgres", callsPerSec: 10 }] })] });
  assert.deepEqual([cost("s", "near").dependencyCost, cost("s", "near").dependencyLatency], [20, "measured"]);
  assert.deepEqual([cost("s", "far").dependencyCost, cost("s", "far").dependencyLatency], [450, "measured"]);
  assert.deepEqual([cost("s", "beside-near").dependencyCost, cost("s", "beside-near").dependencyLatency], [30, "estimated"]); // 2 ms + 1 ms RTT
  assert.deepEqual([cost("t", "near").dependencyCost, cost("t", "near").dependencyLatency], [0, "none"], "nothing measured: no pull");
});

test("a node carrying the near label costs nearCostFactor of the same node without it", () => {
  const nodes = [node("plain", { services: ["s"] }), node("labelled", { services: ["s"], labels: ["postgres"] })];
  const { cost } = context({ nodes, rttMs: zeroRtt, services: [service("s", { arrivalPerSec: 100, serviceTimeMs: 1, hints: { near: "postgres" } })] });
  const labelled = cost("s", "labelled");
  assert.equal(labelled.near, true);
  assert.equal(labelled.cost, cost("s", "plain").cost * DEFAULT_PLANNER_OPTIONS.nearCostFactor);
});

test("the cost is the sum of its terms, times the near factor", () => {
  const nodes = [node("a", { services: ["s", "p"], labels: ["x"] }), node("b", { services: ["s", "p"] })];
  const { cost, place } = context({
    nodes,
    rttMs: () => 3,
    services: [service("s", { arrivalPerSec: 200, serviceTimeMs: 2, hints: { near: "x" }, dependencies: [{ name: "d", callsPerSec: 5, latencyMsByNode: { a: 4 } }] }), service("p")],
    traffic: [{ from: "s", to: "p", perSec: 10 }],
  });
  place("p", ["b"]);
  for (const id of ["a", "b"]) {
    const parts = cost("s", id);
    const factor = parts.near ? DEFAULT_PLANNER_OPTIONS.nearCostFactor : 1;
    assert.ok(Math.abs(parts.cost - (parts.processingCost + parts.partnerCost + parts.dependencyCost) * factor) < 1e-9);
  }
});

test("the nearest replica of a service on very many nodes is found among a bounded sample", () => {
  const count = 1000;
  const nodes = Array.from({ length: count }, (_, i) => node(`n${String(i).padStart(4, "0")}`));
  let calls = 0;
  const view = new PlanningView({ nodes, rttMs: () => (calls++, 1), services: [], nowMs: 0 });
  const placed = new PlacedReplicas(Array.from({ length: count - 1 }, (_, i) => i + 1), count);
  assert.equal(placed.nearestMs(0, view), 1);
  assert.ok(calls <= 64, `${calls} RTT estimates`);
  placed.nearestMs(0, view);
  assert.ok(calls <= 64, "and remembered");
});
