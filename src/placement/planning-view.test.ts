// The planner's input, checked and indexed: order, sanitized numbers, partners summed both ways, options validated.

import { test } from "node:test";
import assert from "node:assert/strict";
import { node, service } from "./plan-fixtures.test-support.js";
import type { PlanInput } from "./plan-input.js";
import { DEFAULT_PLANNER_OPTIONS, resolvePlannerOptions } from "./planner-options.js";
import { PlanningView } from "./planning-view.js";

function view(fields: Partial<PlanInput>): PlanningView {
  return new PlanningView({ nodes: [], services: [], rttMs: () => 1, nowMs: 0, ...fields });
}

test("nodes are indexed in id order and services in planning order: most work first, then id", () => {
  const v = view({
    nodes: [node("b"), node("a"), node("c")],
    services: [service("z"), service("heavy", { arrivalPerSec: 10, serviceTimeMs: 5 }), service("a")],
  });
  assert.deepEqual(v.nodes.map((n) => n.id), ["a", "b", "c"]);
  assert.deepEqual(v.services.map((s) => s.id), ["heavy", "a", "z"]);
  assert.equal(v.services[0]!.work, 0.05);
});

test("malformed measurements count as zero, and a node without capacity may run nothing", () => {
  const v = view({
    nodes: [node("ok", { services: ["s"] }), node("empty", { capacity: 0, services: ["s"] }), node("broken", { capacity: Number.NaN, services: ["s"] })],
    services: [service("s", { arrivalPerSec: -5, serviceTimeMs: Number.POSITIVE_INFINITY })],
  });
  assert.equal(v.services[0]!.work, 0);
  assert.deepEqual(v.services[0]!.allowed, [v.nodeIndex.get("ok")]);
});

test("RTTs that are not finite numbers ≥ 0 count as 0, and a node is 0 ms from itself", () => {
  const weird = new Map<string, number>([["a|b", Number.NaN], ["a|c", -3], ["b|c", 7]]);
  const v = view({ nodes: [node("a"), node("b"), node("c")], rttMs: (x, y) => weird.get(`${x}|${y}`) ?? 99 });
  assert.deepEqual([v.rttMs(0, 1), v.rttMs(0, 2), v.rttMs(1, 2), v.rttMs(2, 2)], [0, 0, 7, 0]);
});

test("traffic between two services is summed over both directions, self-traffic and unknown services dropped", () => {
  const v = view({
    services: [service("a"), service("b"), service("c")],
    traffic: [{ from: "a", to: "b", perSec: 30 }, { from: "b", to: "a", perSec: 12 }, { from: "a", to: "a", perSec: 1000 }, { from: "c", to: "ghost", perSec: 5 }],
  });
  const [a, b, c] = v.services;
  assert.deepEqual(a!.partners, [{ service: 1, perSec: 42 }]);
  assert.deepEqual(b!.partners, [{ service: 0, perSec: 42 }]);
  assert.deepEqual(c!.partners, []);
});

test("dependency latencies keep only listed nodes and sane numbers, closest first", () => {
  const v = view({
    nodes: ["a", "b", "c", "d"].map((id) => node(id)),
    services: [service("s", { dependencies: [{ name: "db", callsPerSec: 3, latencyMsByNode: { a: 9, b: 2, c: Number.NaN, d: -1, gone: 1 } }] })],
  });
  assert.deepEqual(v.services[0]!.dependencies[0]!.closest, [1, 0]);
  assert.throws(() => view({ services: [service("s", { dependencies: [{ name: "db", callsPerSec: 1 }, { name: "db", callsPerSec: 2 }] })] }), { code: "INVALID_ARGUMENT" });
});

test("options default as documented and are checked field by field", () => {
  assert.deepEqual(resolvePlannerOptions(), DEFAULT_PLANNER_OPTIONS);
  assert.equal(resolvePlannerOptions({ maxMovesPerRound: Infinity, hysteresis: undefined }).hysteresis, 0.15);
  for (const bad of [{ targetUtilization: 0 }, { targetUtilization: 1.5 }, { minMoveIntervalMs: -1 }, { defaultMinReplicas: 0 }, { nearCostFactor: 0 }, { idleReplicaWork: 0 }, { runnersUp: -1 }, { remoteMessageCostMs: Number.NaN }]) {
    assert.throws(() => resolvePlannerOptions(bad), { code: "INVALID_ARGUMENT" }, JSON.stringify(bad));
  }
});
