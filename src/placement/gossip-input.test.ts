// planInputFromGossip and hintsOf: how gossiped node states become the planner's input, the same on every node.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { NodeState, ServiceLoad } from "../cluster/node-state.js";
import type { Coordinate } from "../cluster/vivaldi.js";
import { hintsOf, planInputFromGossip, UNKNOWN_RTT_MS, type GossipedNode, type ServiceDeclaration } from "./gossip-input.js";
import type { PlanInput } from "./plan-input.js";

function state(fields: Partial<NodeState> = {}): NodeState {
  return {
    region: "r1",
    capacity: { cores: 8, memoryBytes: 2 ** 33, weight: 1 },
    labels: [],
    services: ["A", "B"],
    running: {},
    eventLoopLagMs: { mean: 0, p99: 0 },
    ...fields,
  };
}

function member(id: string, fields: Partial<NodeState> = {}, status: GossipedNode["status"] = "alive"): GossipedNode {
  return { id, status, state: state(fields) };
}

function load(arrivalPerSec: number, serviceTimeMs: number, extra: Partial<ServiceLoad> = {}): ServiceLoad {
  return { queued: 0, arrivalPerSec, serviceTimeMs, ...extra };
}

function coord(vec: number[], height = 0): Coordinate {
  return { vec: [...vec, ...Array<number>(8 - vec.length).fill(0)], height, error: 0.2, adjustment: 0 };
}

const services: ServiceDeclaration[] = [
  { id: "A", hints: {} },
  { id: "B", hints: { minReplicas: 3 } },
];

function input(nodes: GossipedNode[], declared = services): PlanInput {
  return planInputFromGossip(nodes, declared, 60_000, { hysteresis: 0.2 });
}

function serviceOf(plan: PlanInput, id: string) {
  const found = plan.services.find((s) => s.id === id);
  assert.ok(found, `service ${id} in the input`);
  return found;
}

test("nodes become plan nodes sorted by id, with capacity from the weight, region, labels, allowed services and status", () => {
  const plan = input([
    member("c", { region: "r2", capacity: { cores: 64, memoryBytes: 1, weight: 3 }, labels: ["postgres"], services: ["A"] }, "suspect"),
    member("a"),
  ]);
  assert.deepEqual(plan.nodes, [
    { id: "a", region: "r1", capacity: 1, labels: [], services: ["A", "B"], status: "alive" },
    { id: "c", region: "r2", capacity: 3, labels: ["postgres"], services: ["A"], status: "suspect" },
  ]);
  assert.equal(plan.nowMs, 60_000);
  assert.deepEqual(plan.options, { hysteresis: 0.2 });
});

test("every declared service is listed with its hints, in declaration order, even when nothing runs it", () => {
  const plan = input([member("a")]);
  assert.deepEqual(plan.services, [
    { id: "A", hints: {}, arrivalPerSec: 0, serviceTimeMs: 0 },
    { id: "B", hints: { minReplicas: 3 }, arrivalPerSec: 0, serviceTimeMs: 0 },
  ]);
  assert.deepEqual(plan.current, { A: [], B: [] });
  assert.deepEqual(plan.traffic, []);
  assert.deepEqual(plan.lastMoveMs, {});
});

test("the arrival rate is summed over replicas and current lists the nodes that run the service", () => {
  const plan = input([member("b", { running: { A: load(30, 2) } }), member("a", { running: { A: load(10, 2) } }), member("c")]);
  assert.equal(serviceOf(plan, "A").arrivalPerSec, 40);
  assert.deepEqual(plan.current, { A: ["a", "b"], B: [] });
});

test("the service time is the arrival-weighted mean over replicas", () => {
  const plan = input([member("a", { running: { A: load(10, 1) } }), member("b", { running: { A: load(30, 5) } })]);
  assert.equal(serviceOf(plan, "A").serviceTimeMs, (10 * 1 + 30 * 5) / 40);
});

test("time spent waiting on dependencies is taken out of the service time: the node's own work remains", () => {
  // 100 msg/s of 10 ms each, with 50 db calls/s of 8 ms: 4 ms of each message is waiting.
  const plan = input([member("a", { running: { A: load(100, 10, { deps: { db: { perSec: 50, ms: 8 } } }) } })]);
  assert.equal(serviceOf(plan, "A").serviceTimeMs, 6);
});

test("own time never goes below zero when dependency time exceeds the handler's measured time", () => {
  const plan = input([member("a", { running: { A: load(10, 1, { deps: { db: { perSec: 10, ms: 50 } } }) } })]);
  assert.equal(serviceOf(plan, "A").serviceTimeMs, 0);
});

test("replicas with no arrivals give the plain mean of their service times", () => {
  const plan = input([member("a", { running: { A: load(0, 2) } }), member("b", { running: { A: load(0, 4) } })]);
  assert.equal(serviceOf(plan, "A").arrivalPerSec, 0);
  assert.equal(serviceOf(plan, "A").serviceTimeMs, 3);
});

test("dependency calls are summed over replicas and latencies kept per node", () => {
  const plan = input([
    member("a", { running: { A: load(10, 5, { deps: { db: { perSec: 10, ms: 2 } } }) } }),
    member("b", { running: { A: load(10, 5, { deps: { db: { perSec: 5, ms: 9 }, cache: { perSec: 1, ms: 0.5 } } }) } }),
  ]);
  assert.deepEqual(serviceOf(plan, "A").dependencies, [
    { name: "db", callsPerSec: 15, latencyMsByNode: { a: 2, b: 9 } },
    { name: "cache", callsPerSec: 1, latencyMsByNode: { b: 0.5 } },
  ]);
});

test("latencies a node remembers from when it ran the service count for that node, adding no calls", () => {
  const plan = input([
    member("a", { running: { A: load(10, 5, { deps: { db: { perSec: 10, ms: 2 } } }) } }),
    member("b", { measured: { A: { db: 40, search: 7 } } }),
  ]);
  assert.deepEqual(serviceOf(plan, "A").dependencies, [
    { name: "db", callsPerSec: 10, latencyMsByNode: { a: 2, b: 40 } },
    { name: "search", callsPerSec: 0, latencyMsByNode: { b: 7 } },
  ]);
  assert.deepEqual(plan.current?.A, ["a"], "a remembered latency does not make the node a replica");
});

test("remembered latencies of one service do not leak into another", () => {
  const plan = input([member("b", { measured: { A: { db: 40 } } })]);
  assert.equal(serviceOf(plan, "B").dependencies, undefined);
});

test("traffic flows are summed across nodes, one flow per pair of services", () => {
  const plan = input([
    member("a", { running: { A: load(10, 1, { to: { B: 4 } }), B: load(4, 1, { to: { A: 1 } }) } }),
    member("b", { running: { A: load(10, 1, { to: { B: 6, X: 2 } }) } }),
  ]);
  assert.deepEqual(plan.traffic, [
    { from: "A", to: "B", perSec: 10 },
    { from: "A", to: "X", perSec: 2 },
    { from: "B", to: "A", perSec: 1 },
  ]);
});

test("the last move of a service is the latest change any node gossips for it, running it or not", () => {
  const plan = input([
    member("a", { changed: { A: 5000 }, running: { A: load(0, 0) } }),
    member("b", { changed: { A: 9000, B: 100 } }),
    member("c", { changed: { A: 7000, Unknown: 99_999 } }),
  ]);
  assert.deepEqual(plan.lastMoveMs, { A: 9000, B: 100 });
});

test("the RTT is 0 to the node itself, estimated from coordinates to 0.1 ms, and a LAN hop when a coordinate is missing", () => {
  const plan = input([
    member("a", { coord: coord([3, 0], 0.03) }),
    member("b", { coord: coord([0, 4], 0.04) }),
    member("c"),
  ]);
  assert.equal(plan.rttMs("a", "a"), 0);
  assert.equal(plan.rttMs("c", "c"), 0);
  assert.equal(plan.rttMs("a", "b"), 5.1); // |(3,-4)| + 0.03 + 0.04 = 5.07
  assert.equal(plan.rttMs("b", "a"), 5.1);
  assert.equal(plan.rttMs("a", "c"), UNKNOWN_RTT_MS);
  assert.equal(plan.rttMs("c", "b"), UNKNOWN_RTT_MS);
  assert.equal(plan.rttMs("a", "nobody"), UNKNOWN_RTT_MS);
  assert.equal(UNKNOWN_RTT_MS, 1);
});

test("the input is the same whatever order the nodes are listed in", () => {
  const nodes = [
    member("n1", { coord: coord([1, 2], 0.1), changed: { A: 10 }, running: { A: load(10, 3, { to: { B: 2 }, deps: { db: { perSec: 3, ms: 4 } } }) } }),
    member("n2", { coord: coord([5, 1], 0.2), measured: { A: { db: 12 } }, running: { B: load(2, 1, { to: { A: 1 } }) } }, "suspect"),
    member("n3", { coord: coord([0, 0], 0.1), changed: { A: 30 }, running: { A: load(30, 1, { to: { B: 5 }, deps: { db: { perSec: 9, ms: 2 }, mq: { perSec: 1, ms: 1 } } }), B: load(1, 1) } }),
    member("n4", { running: {} }),
  ];
  const orders = [
    [0, 1, 2, 3],
    [3, 2, 1, 0],
    [2, 0, 3, 1],
    [1, 3, 0, 2],
  ];
  const views = orders.map((order) => input(order.map((i) => nodes[i]!)));
  const ids = nodes.map((n) => n.id);
  const rtts = (plan: PlanInput) => ids.flatMap((a) => ids.map((b) => plan.rttMs(a, b)));
  const { rttMs: _first, ...first } = views[0]!;
  for (const view of views.slice(1)) {
    const { rttMs: _rtt, ...rest } = view;
    // JSON keeps key order, so this also checks that the objects were built in the same order.
    assert.equal(JSON.stringify(rest), JSON.stringify(first));
    assert.deepEqual(rtts(view), rtts(views[0]!));
  }
});

test("the gossiped states given are not changed", () => {
  const nodes = [member("a", { running: { A: load(10, 5, { deps: { db: { perSec: 1, ms: 2 } } }) }, measured: { B: { db: 3 } } })];
  const before = structuredClone(nodes);
  input(nodes);
  assert.deepEqual(nodes, before);
});

test("hintsOf keeps exactly the placement hints that were given", () => {
  const options = { concurrency: 4, queueLimit: 10, minReplicas: 2, maxReplicas: 5, spread: false, near: "postgres", region: "eu" };
  assert.deepEqual(hintsOf(options), { minReplicas: 2, maxReplicas: 5, spread: false, near: "postgres", region: "eu" });
  assert.deepEqual(hintsOf({}), {});
  assert.deepEqual(hintsOf({ minReplicas: 0 }), { minReplicas: 0 });
  assert.equal(Object.hasOwn(hintsOf({ near: undefined }), "near"), false);
});
