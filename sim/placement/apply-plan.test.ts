// Moves are carried out as the runtime will: adds at once, a removal only once enough other nodes run the service.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Move, Plan } from "../../src/placement/plan-output.js";
import { applyPlan, type ApplyContext } from "./apply-plan.js";

/** One service "s" on nodes a, b, c (indices 0, 1, 2), running on `running`; node c is down when `cDown`. */
function context(running: number[], cDown = false): ApplyContext {
  return {
    active: [new Set(running)],
    serviceIndex: new Map([["s", 0]]),
    nodeIndex: new Map([["a", 0], ["b", 1], ["c", 2]]),
    isUp: (n) => !(cDown && n === 2),
    lastMoveMs: {},
  };
}

function plan(placement: string[], moves: [Move["action"], string, Move["reason"]][]): Plan {
  return { placement: { s: placement }, moves: moves.map(([action, node, reason]) => ({ service: "s", node, action, reason, budgeted: true })), services: {} };
}

test("a relocation keeps the old replica until the new one ran at the start of a round", () => {
  const ctx = context([0]);
  const first = applyPlan(plan(["b"], [["add", "b", "rebalance"], ["remove", "a", "rebalance"]]), ctx, 5_000);
  assert.deepEqual([...ctx.active[0]!].sort(), [0, 1], "the new replica starts, the old one stays");
  assert.equal(first.withheld, 1);
  assert.equal(ctx.lastMoveMs.s, 5_000);
  const second = applyPlan(plan(["b"], [["remove", "a", "rebalance"]]), ctx, 40_000);
  assert.deepEqual([...ctx.active[0]!], [1]);
  assert.equal(second.removed, 1);
});

test("scaling down removes at once when enough other nodes run the service", () => {
  const ctx = context([0, 1, 2]);
  const result = applyPlan(plan(["a"], [["remove", "c", "scale-down"], ["remove", "b", "scale-down"]]), ctx, 0);
  assert.deepEqual([...ctx.active[0]!], [0]);
  assert.equal(result.removed, 2);
});

test("replicas of a gone node are dropped and adds on a node that is down are skipped", () => {
  const ctx = context([0, 2], true);
  const result = applyPlan(plan(["a", "b"], [["remove", "c", "node-gone"], ["add", "b", "replace"], ["add", "c", "scale-up"]]), ctx, 0);
  assert.deepEqual([...ctx.active[0]!].sort(), [0, 1]);
  assert.deepEqual([result.dropped, result.added, result.skipped], [1, 1, 1]);
});
