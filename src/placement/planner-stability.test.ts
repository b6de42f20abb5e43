// How placement settles: hysteresis, the move interval, the move budget, and no oscillation when a plan is fed back in.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { afterPlan, clusterArbitrary, nodes, rttByRegion, service, settle } from "./plan-fixtures.test-support.js";
import type { PlanInput, PlanService } from "./plan-input.js";
import { planPlacement } from "./planner.js";

/** A light single-replica service that calls a dependency 100 times a second, with these latencies per node. */
function caller(id: string, latencyMsByNode: Record<string, number>, fields: Partial<PlanService> = {}): PlanService {
  return service(id, { arrivalPerSec: 100, serviceTimeMs: 0.1, hints: { minReplicas: 1 }, dependencies: [{ name: "db", callsPerSec: 100, latencyMsByNode }], ...fields });
}

function input(fields: Partial<PlanInput> & Pick<PlanInput, "nodes" | "services">): PlanInput {
  return { rttMs: rttByRegion(fields.nodes), nowMs: 1_000_000, ...fields };
}

// ── Hysteresis ─────────────────────────────────────────────────────────────────────────────────

test("a node only 10 % better does not take a current replica away", () => {
  const result = planPlacement(input({ nodes: nodes(2, ["s"]), services: [caller("s", { n000: 10, n001: 9 })], current: { s: ["n000"] } }));
  assert.deepEqual(result.placement.s, ["n000"]);
  assert.deepEqual(result.moves, []);
  const [current, other] = [result.services.s!.nodes.find((n) => n.current)!, result.services.s!.nodes.find((n) => !n.current)!];
  assert.ok(other.cost < current.cost, "the other node is cheaper");
  assert.ok(current.rankedCost < other.rankedCost, "but not by more than the hysteresis");
});

test("a node half as costly takes the replica: the new one is added, then the old one removed", () => {
  const result = planPlacement(input({ nodes: nodes(2, ["s"]), services: [caller("s", { n000: 10, n001: 5 })], current: { s: ["n000"] } }));
  assert.deepEqual(result.placement.s, ["n001"]);
  assert.deepEqual(result.moves.map((m) => `${m.action} ${m.node} ${m.reason}`), ["add n001 rebalance", "remove n000 rebalance"]);
});

test("with no hysteresis even a small improvement moves the replica", () => {
  const result = planPlacement(input({ nodes: nodes(2, ["s"]), services: [caller("s", { n000: 10, n001: 9 })], current: { s: ["n000"] }, options: { hysteresis: 0 } }));
  assert.deepEqual(result.placement.s, ["n001"]);
});

// ── The move interval ──────────────────────────────────────────────────────────────────────────

test("a service moved less than minMoveIntervalMs ago keeps its placement, and says so", () => {
  const base = input({ nodes: nodes(2, ["s"]), services: [caller("s", { n000: 10, n001: 5 })], current: { s: ["n000"] } });
  const early = planPlacement({ ...base, lastMoveMs: { s: base.nowMs - 29_999 } });
  assert.deepEqual(early.placement.s, ["n000"]);
  assert.deepEqual(early.moves, []);
  assert.equal(early.services.s!.deferred, "min-move-interval");
  assert.deepEqual(early.services.s!.target, ["n001"]);
  const later = planPlacement({ ...base, lastMoveMs: { s: base.nowMs - 30_000 } });
  assert.deepEqual(later.placement.s, ["n001"]);
});

test("scaling up waits out the interval too, but restoring lost replicas does not", () => {
  const list = nodes(4, ["s"]);
  const busy = service("s", { arrivalPerSec: 2000, serviceTimeMs: 1 }); // wants 3 replicas
  const recent = { lastMoveMs: { s: 1_000_000 - 1000 } };
  const waiting = planPlacement(input({ nodes: list, services: [busy], current: { s: ["n000", "n001"] }, ...recent }));
  assert.deepEqual(waiting.placement.s, ["n000", "n001"]);
  assert.equal(waiting.services.s!.deferred, "min-move-interval");
  const lost = planPlacement(input({ nodes: list.filter((n) => n.id !== "n001"), services: [busy], current: { s: ["n000", "n001"] }, ...recent }));
  assert.equal(lost.placement.s!.length, 2, "the lost replica is replaced; the third waits");
});

// ── The move budget ────────────────────────────────────────────────────────────────────────────

/** Four services all on n000, each with a dependency that is fast from its own other node. */
function crowded(options: PlanInput["options"] = {}): PlanInput {
  const services = [0, 1, 2, 3].map((i) => caller(`s${i}`, { n000: 20, [`n00${i + 1}`]: 1 }));
  return input({ nodes: nodes(5, services.map((s) => s.id)), services, current: Object.fromEntries(services.map((s) => [s.id, ["n000"]])), options });
}

test("at most maxMovesPerRound replica changes happen per round across the cluster", () => {
  const first = planPlacement(crowded());
  assert.equal(first.moves.filter((m) => m.budgeted).length, 2);
  assert.deepEqual(Object.values(first.services).map((s) => s.deferred), [undefined, "move-budget", "move-budget", "move-budget"]);
  const { plans } = settle(crowded());
  assert.deepEqual(plans.map((p) => p.moves.length), [2, 2, 2, 2, 0]);
  assert.deepEqual(plans.at(-1)!.placement, { s0: ["n001"], s1: ["n002"], s2: ["n003"], s3: ["n004"] });
});

test("a larger budget moves more services per round", () => {
  const { plans } = settle(crowded({ maxMovesPerRound: 4 }));
  assert.deepEqual(plans.map((p) => p.moves.length), [4, 4, 0]);
});

test("with a budget of one, a relocation adds the new replica first and removes the old one next round", () => {
  const one = input({ nodes: nodes(2, ["s"]), services: [caller("s", { n000: 10, n001: 1 })], current: { s: ["n000"] }, options: { maxMovesPerRound: 1 } });
  const { plans } = settle(one);
  assert.deepEqual(plans.map((p) => p.placement.s), [["n000", "n001"], ["n001"], ["n001"]]);
});

test("with a budget of one, a service at its maxReplicas cannot relocate, rather than exceed the bound", () => {
  const capped = caller("s", { n000: 10, n001: 1 }, { hints: { minReplicas: 1, maxReplicas: 1 } });
  const result = planPlacement(input({ nodes: nodes(2, ["s"]), services: [capped], current: { s: ["n000"] }, options: { maxMovesPerRound: 1 } }));
  assert.deepEqual(result.placement.s, ["n000"]);
  assert.equal(result.services.s!.deferred, "move-budget");
});

test("placing new services and replacing lost replicas do not use the budget", () => {
  const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
  const result = planPlacement(input({ nodes: nodes(4, ids), services: ids.map((id) => service(id)), options: { maxMovesPerRound: 0 } }));
  assert.ok(ids.every((id) => result.placement[id]!.length === 2));
  assert.ok(result.moves.every((m) => !m.budgeted));
});

test("scaling down removes the replicas that rank worst", () => {
  const list = nodes(4, ["s"]);
  const result = planPlacement(input({ nodes: list, services: [caller("s", { n000: 30, n001: 1, n002: 2, n003: 40 }, { hints: { minReplicas: 2 } })], current: { s: ["n000", "n001", "n002", "n003"] }, options: { maxMovesPerRound: Infinity } }));
  assert.deepEqual(result.placement.s, ["n001", "n002"]);
  assert.deepEqual(result.moves.map((m) => `${m.action} ${m.node} ${m.reason}`), ["remove n003 scale-down", "remove n000 scale-down"]);
});

test("after a region hint changes, replicas leave the old region within the budget, new ones first", () => {
  const list = nodes(4, ["s"], (i) => ({ region: i < 2 ? "east" : "west" }));
  const moved = input({ nodes: list, services: [service("s", { hints: { region: "west" } })], current: { s: ["n000", "n001"] } });
  const first = planPlacement(moved);
  assert.deepEqual(first.moves.map((m) => `${m.action} ${m.node} ${m.reason}`), ["add n002 rebalance", "remove n000 not-eligible"]);
  assert.equal(first.services.s!.deferred, "move-budget");
  const { plans } = settle(moved);
  assert.deepEqual(plans.at(-1)!.placement.s, ["n002", "n003"]);
});

// ── No oscillation ─────────────────────────────────────────────────────────────────────────────

test("planning again from a plan that was carried out in full makes no moves", () => {
  fc.assert(
    fc.property(clusterArbitrary, (cluster) => {
      const free = { ...cluster, options: { maxMovesPerRound: Infinity } };
      const first = planPlacement(free);
      assert.ok(Object.values(first.services).every((s) => s.deferred === undefined));
      const second = planPlacement(afterPlan(free, first));
      assert.deepEqual(second.moves, []);
      assert.deepEqual(second.placement, first.placement);
    }),
    { numRuns: 300 },
  );
});

test("with the default budget, repeated rounds settle and then stay put", () => {
  fc.assert(
    fc.property(clusterArbitrary, (cluster) => {
      const { plans, last } = settle(cluster, 60);
      assert.equal(plans.at(-1)!.moves.length, 0, `still moving after ${plans.length} rounds`);
      for (const p of plans) assert.ok(p.moves.filter((m) => m.budgeted).length <= 2);
      const again = planPlacement({ ...last, nowMs: last.nowMs + 3_600_000 });
      assert.deepEqual(again.moves, []);
      assert.ok(Object.values(again.services).every((s) => s.deferred === undefined));
    }),
    { numRuns: 200 },
  );
});

test("a settled plan stays put while moved services are still inside their interval", () => {
  fc.assert(
    fc.property(clusterArbitrary, (cluster) => {
      const first = planPlacement({ ...cluster, options: { maxMovesPerRound: Infinity } });
      const soon = planPlacement({ ...afterPlan(cluster, first, 1000), options: { maxMovesPerRound: Infinity } });
      assert.deepEqual(soon.moves, []);
    }),
    { numRuns: 100 },
  );
});
