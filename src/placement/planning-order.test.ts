// The planning order: anchored services first, then outward along traffic, ties by work and id.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { PlanService, TrafficFlow } from "./plan-input.js";
import { planningOrder } from "./planning-order.js";

function svc(id: string, work: number, extra: Partial<PlanService> = {}) {
  return { input: { id, arrivalPerSec: 0, serviceTimeMs: 0, ...extra }, work };
}

const ids = (list: readonly { input: PlanService }[]) => list.map((s) => s.input.id);

test("a chain is ordered outward from the service anchored by a measured dependency, whatever the work of its links", () => {
  const services = [
    svc("gateway", 0.5),
    svc("orders", 0.4),
    svc("pricing", 0.1),
    svc("inventory", 0.05),
    svc("ledger", 0.01, { dependencies: [{ name: "db", callsPerSec: 40, latencyMsByNode: { a: 1 } }] }),
  ];
  const traffic: TrafficFlow[] = [
    { from: "gateway", to: "orders", perSec: 40 },
    { from: "orders", to: "pricing", perSec: 40 },
    { from: "pricing", to: "inventory", perSec: 200 },
    { from: "inventory", to: "ledger", perSec: 40 },
  ];
  assert.deepEqual(ids(planningOrder(services, traffic)), ["ledger", "inventory", "pricing", "orders", "gateway"]);
});

test("near and region hints anchor too; without any anchor or traffic the order is by work, then id", () => {
  const services = [svc("b", 1), svc("a", 1), svc("c", 2), svc("near", 0, { hints: { near: "pg" } }), svc("regional", 0.5, { hints: { region: "eu" } })];
  assert.deepEqual(ids(planningOrder(services, [])), ["regional", "near", "c", "a", "b"]);
});

test("a dependency measured nowhere does not anchor, and flows to itself or of no rate are ignored", () => {
  const services = [svc("x", 1), svc("y", 0.5, { dependencies: [{ name: "db", callsPerSec: 5 }] }), svc("z", 0.2)];
  const traffic = [
    { from: "x", to: "x", perSec: 1000 },
    { from: "y", to: "z", perSec: 0 },
    { from: "x", to: "z", perSec: Number.NaN },
  ];
  assert.deepEqual(ids(planningOrder(services, traffic)), ["x", "y", "z"]);
});

test("the order does not depend on the order services and flows are listed in", () => {
  const services = [svc("a", 0.3), svc("b", 0.2), svc("c", 0.1), svc("d", 0.05, { hints: { near: "pg" } })];
  const traffic: TrafficFlow[] = [
    { from: "d", to: "c", perSec: 10 },
    { from: "c", to: "b", perSec: 10 },
    { from: "a", to: "b", perSec: 3 },
  ];
  const once = ids(planningOrder(services, traffic));
  assert.deepEqual(ids(planningOrder([...services].reverse(), [...traffic].reverse())), once);
  assert.deepEqual(once, ["d", "c", "b", "a"]);
});
