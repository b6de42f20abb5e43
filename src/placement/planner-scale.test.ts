// The planner on 1,000 nodes × 50 services: it completes, places everything, and the next round makes no moves.
// (Its speed is measured by bench/placement-planner.ts; here the time is only printed.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { afterPlan, largeCluster } from "./plan-fixtures.test-support.js";
import { planPlacement } from "./planner.js";

test("a 1,000-node, 50-service cluster is planned in full, and planning again from that plan makes no moves", (t) => {
  const input = largeCluster(1000, 50);
  const started = performance.now();
  const first = planPlacement(input);
  const firstMs = performance.now() - started;

  for (const s of input.services) {
    const plan = first.services[s.id]!;
    assert.equal(first.placement[s.id]!.length, plan.replicas, `${s.id} has its ${plan.replicas} replicas`);
    if (s.hints?.spread) assert.equal(plan.replicas, plan.eligible, `${s.id} is on every eligible node`);
  }
  assert.ok(first.moves.every((m) => m.action === "add" && m.reason === "initial"));

  const again = performance.now();
  const second = planPlacement(afterPlan(input, first));
  const secondMs = performance.now() - again;
  assert.deepEqual(second.moves, []);
  t.diagnostic(`first plan ${firstMs.toFixed(1)} ms (cold), second ${secondMs.toFixed(1)} ms`);
});
