// Where the planner puts services: counts, distinct nodes and regions, capacity, partners, dependencies and hints.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { clusterArbitrary, loadByNode, node, nodes, rttByPosition, rttByRegion, service, shuffled } from "./plan-fixtures.test-support.js";
import type { PlanInput } from "./plan-input.js";
import { planPlacement } from "./planner.js";

function plan(fields: Partial<PlanInput> & Pick<PlanInput, "nodes" | "services">) {
  return planPlacement({ rttMs: rttByRegion(fields.nodes), nowMs: 0, ...fields });
}

// ── Counts, distinct nodes, regions ────────────────────────────────────────────────────────────

test("a new service gets two replicas on distinct nodes, listed in id order", () => {
  const result = plan({ nodes: nodes(5, ["s"]), services: [service("s")] });
  const on = result.placement.s!;
  assert.equal(on.length, 2);
  assert.equal(new Set(on).size, 2);
  assert.deepEqual(on, [...on].sort());
  assert.deepEqual(result.moves.map((m) => [m.action, m.reason, m.budgeted]), [["add", "initial", false], ["add", "initial", false]]);
});

test("on a single node a service gets one replica", () => {
  assert.deepEqual(plan({ nodes: nodes(1, ["s"]), services: [service("s")] }).placement, { s: ["n000"] });
});

test("minReplicas and maxReplicas hold, and demand is capped by maxReplicas", () => {
  const result = plan({
    nodes: nodes(8, ["few", "many", "busy"]),
    services: [service("few", { hints: { minReplicas: 5 } }), service("many", { hints: { minReplicas: 0, maxReplicas: 1 } }), service("busy", { arrivalPerSec: 10_000, serviceTimeMs: 1, hints: { maxReplicas: 3 } })],
  });
  assert.equal(result.placement.few!.length, 5);
  assert.equal(result.placement.many!.length, 1);
  assert.equal(result.placement.busy!.length, 3);
  assert.equal(result.services.busy!.replicasBecause, "max-replicas");
});

test("demand adds replicas: 3.5 cores of work on 1-core nodes at 70 % target is five replicas", () => {
  const result = plan({ nodes: nodes(8, ["s"]), services: [service("s", { arrivalPerSec: 3500, serviceTimeMs: 1 })] });
  assert.equal(result.placement.s!.length, 5);
  assert.equal(result.services.s!.replicasBecause, "demand");
});

test("a spread service runs on every node that may run it, and only there", () => {
  const list = nodes(6, ["edge"], (i) => (i === 2 ? { services: [] } : {}));
  const result = plan({ nodes: list, services: [service("edge", { hints: { spread: true } })] });
  assert.deepEqual(result.placement.edge, ["n000", "n001", "n003", "n004", "n005"]);
});

test("a spread service with a region hint runs on every node of that region", () => {
  const list = nodes(6, ["edge"], (i) => ({ region: i % 2 === 0 ? "east" : "west" }));
  const result = plan({ nodes: list, services: [service("edge", { hints: { spread: true, region: "west" } })] });
  assert.deepEqual(result.placement.edge, ["n001", "n003", "n005"]);
});

test("replicas cover every region when there are at least as many replicas as regions", () => {
  const list = nodes(9, ["s"], (i) => ({ region: ["east", "west", "north"][i % 3]!, capacity: i < 3 ? 4 : 1 }));
  const result = plan({ nodes: list, services: [service("s", { arrivalPerSec: 100, serviceTimeMs: 1, hints: { minReplicas: 3 } })] });
  const regions = result.placement.s!.map((id) => list.find((n) => n.id === id)!.region);
  assert.deepEqual(regions.sort(), ["east", "north", "west"]);
});

test("two replicas go to two regions even when one region has all the big nodes", () => {
  const list = nodes(6, ["s"], (i) => ({ region: i < 5 ? "east" : "west", capacity: i < 5 ? 8 : 1 }));
  const result = plan({ nodes: list, services: [service("s", { arrivalPerSec: 100, serviceTimeMs: 1 })] });
  assert.ok(result.placement.s!.includes("n005"));
  assert.ok(result.services.s!.nodes.find((n) => n.node === "n005")!.regionSpread);
});

test("a service no node may run is planned on no node, and says why", () => {
  const result = plan({ nodes: nodes(3, ["other"]), services: [service("lonely"), service("other")] });
  assert.deepEqual(result.placement.lonely, []);
  assert.equal(result.services.lonely!.replicasBecause, "no-eligible-node");
});

// ── Capacity, partners, dependencies ───────────────────────────────────────────────────────────

test("a node with twice the capacity takes about twice the load of many equal services", () => {
  const ids = Array.from({ length: 60 }, (_, i) => `s${i}`);
  const list = nodes(6, ids, (i) => ({ capacity: i === 0 ? 2 : 1 }));
  const input: PlanInput = { nodes: list, rttMs: rttByRegion(list), nowMs: 0, services: ids.map((id) => service(id, { arrivalPerSec: 50, serviceTimeMs: 1 })) };
  const result = planPlacement(input);
  const load = loadByNode(input, result.placement);
  const smallLoads = list.slice(1).map((n) => load.get(n.id)!);
  const meanSmall = smallLoads.reduce((a, b) => a + b, 0) / smallLoads.length;
  const ratio = load.get("n000")! / meanSmall;
  assert.ok(ratio > 1.7 && ratio < 2.3, `big node carries ${ratio.toFixed(2)}× a small node's load`);
});

test("a chatty pair of services ends up on the same nodes", () => {
  const ids = ["api", "cache", "mail", "billing", "search"];
  const list = nodes(6, ids);
  const services = [
    service("api", { arrivalPerSec: 2000, serviceTimeMs: 0.1 }),
    service("cache", { arrivalPerSec: 3000, serviceTimeMs: 0.02 }),
    service("mail", { arrivalPerSec: 100, serviceTimeMs: 2 }),
    service("billing", { arrivalPerSec: 300, serviceTimeMs: 1 }),
    service("search", { arrivalPerSec: 500, serviceTimeMs: 0.5 }),
  ];
  const traffic = [{ from: "api", to: "cache", perSec: 3000 }, { from: "api", to: "mail", perSec: 5 }, { from: "billing", to: "search", perSec: 2 }];
  const result = plan({ nodes: list, services, traffic });
  assert.deepEqual(result.placement.cache, result.placement.api);
  const onApiNode = result.services.cache!.nodes.find((n) => n.chosen)!;
  assert.equal(onApiNode.localTrafficPerSec, 1500);
  assert.equal(onApiNode.remoteTrafficPerSec, 0);
});

test("single-replica partners share one node, even when they start apart", () => {
  const list = nodes(4, ["a", "b"]);
  const services = ["a", "b"].map((id) => service(id, { arrivalPerSec: 1000, serviceTimeMs: 0.05, hints: { minReplicas: 1 } }));
  const result = plan({ nodes: list, services, traffic: [{ from: "a", to: "b", perSec: 1000 }], current: { a: ["n001"], b: ["n003"] } });
  assert.deepEqual(result.placement.a, result.placement.b);
});

test("a dependency-bound service moves to the nodes with the lowest measured latency", () => {
  const list = nodes(4, ["report"]);
  const latencyMsByNode = { n000: 40, n001: 40, n002: 2, n003: 3 };
  const result = plan({
    nodes: list,
    services: [service("report", { arrivalPerSec: 200, serviceTimeMs: 0.2, dependencies: [{ name: "postgres", callsPerSec: 400, latencyMsByNode }] })],
    current: { report: ["n000", "n001"] },
    options: { maxMovesPerRound: Infinity },
  });
  assert.deepEqual(result.placement.report, ["n002", "n003"]);
  assert.deepEqual(result.moves.map((m) => `${m.action} ${m.node} ${m.reason}`), ["add n002 rebalance", "remove n000 rebalance", "add n003 rebalance", "remove n001 rebalance"]);
});

test("with latency measured on few nodes, the service is pulled to unmeasured nodes close to the fast ones", () => {
  const positions = new Map([["n000", [0]], ["n001", [1]], ["n002", [60]], ["n003", [61]]]);
  const list = nodes(4, ["report"]);
  const result = planPlacement({
    nodes: list,
    rttMs: rttByPosition(positions),
    nowMs: 0,
    services: [service("report", { arrivalPerSec: 100, serviceTimeMs: 0.2, dependencies: [{ name: "postgres", callsPerSec: 300, latencyMsByNode: { n000: 1.5, n002: 30 } }] })],
  });
  assert.deepEqual(result.placement.report, ["n000", "n001"]);
  assert.equal(result.services.report!.nodes.find((n) => n.node === "n001")!.dependencyLatency, "estimated");
});

test("a service near a label goes to the labelled node", () => {
  const list = nodes(5, ["db-worker"], (i) => (i === 3 ? { labels: ["postgres"] } : {}));
  const result = plan({ nodes: list, services: [service("db-worker", { arrivalPerSec: 100, serviceTimeMs: 1, hints: { near: "postgres", minReplicas: 1 } })] });
  assert.deepEqual(result.placement["db-worker"], ["n003"]);
  assert.equal(result.services["db-worker"]!.nodes[0]!.near, true);
});

test("near is a preference: a nearly full labelled node loses to an idle one, and without a labelled node the service still runs", () => {
  const list = nodes(3, ["heavy", "light"], (i) => (i === 0 ? { labels: ["postgres"] } : {}));
  const result = plan({
    nodes: list,
    services: [
      service("heavy", { arrivalPerSec: 900, serviceTimeMs: 1, hints: { near: "postgres", minReplicas: 1, maxReplicas: 1 } }),
      service("light", { arrivalPerSec: 100, serviceTimeMs: 1, hints: { near: "postgres", minReplicas: 1 } }),
    ],
  });
  assert.deepEqual(result.placement.heavy, ["n000"]);
  assert.notDeepEqual(result.placement.light, ["n000"]);
  const nowhere = plan({ nodes: nodes(3, ["s"]), services: [service("s", { hints: { near: "postgres" } })] });
  assert.equal(nowhere.placement.s!.length, 2);
});

test("a region hint keeps a service in that region, and is ignored when no node there may run it", () => {
  const list = nodes(6, ["pinned", "stray"], (i) => ({ region: i < 3 ? "east" : "west" }));
  const result = plan({ nodes: list, services: [service("pinned", { hints: { region: "west" } }), service("stray", { hints: { region: "mars" } })] });
  assert.ok(result.placement.pinned!.every((id) => ["n003", "n004", "n005"].includes(id)));
  assert.equal(result.placement.pinned!.length, 2);
  assert.equal(result.placement.stray!.length, 2);
});

// ── Node health ────────────────────────────────────────────────────────────────────────────────

test("a suspect node keeps the replica it has but gets no new ones", () => {
  const list = nodes(4, ["old", "new"], (i) => (i === 0 ? { status: "suspect" } : {}));
  const result = plan({ nodes: list, services: [service("old"), service("new", { hints: { spread: true } })], current: { old: ["n000", "n001"] } });
  assert.deepEqual(result.placement.old, ["n000", "n001"]);
  assert.deepEqual(result.placement.new, ["n001", "n002", "n003"]);
});

test("a replica on a dead node is replaced at once, even inside the move interval and with no move budget", () => {
  const list = nodes(4, ["s"]).filter((n) => n.id !== "n001");
  const result = plan({
    nodes: list,
    services: [service("s")],
    current: { s: ["n000", "n001"] },
    lastMoveMs: { s: 0 },
    nowMs: 1,
    options: { maxMovesPerRound: 0 },
  });
  assert.equal(result.placement.s!.length, 2);
  assert.ok(result.placement.s!.includes("n000"));
  assert.deepEqual(result.moves.map((m) => [m.action, m.reason, m.budgeted]), [["remove", "node-gone", false], ["add", "replace", false]]);
});

test("a node that may no longer run a service loses its replica, which is replaced", () => {
  const list = nodes(3, ["s"], (i) => (i === 1 ? { services: [] } : {}));
  const result = plan({ nodes: list, services: [service("s")], current: { s: ["n000", "n001"] } });
  assert.deepEqual(result.placement.s, ["n000", "n002"]);
  assert.equal(result.moves.find((m) => m.action === "remove")!.reason, "node-gone");
});

test("a service whose every node died gets a whole new placement", () => {
  const result = plan({ nodes: nodes(3, ["s"]), services: [service("s")], current: { s: ["x", "y"] }, lastMoveMs: { s: 0 }, nowMs: 1 });
  assert.equal(result.placement.s!.length, 2);
  assert.ok(result.moves.filter((m) => m.action === "add").every((m) => m.reason === "replace" && !m.budgeted));
});

// ── Explanations, input handling ───────────────────────────────────────────────────────────────

test("each service explains its chosen, current and runner-up nodes, best first", () => {
  const list = nodes(8, ["s"]);
  const result = plan({ nodes: list, services: [service("s", { arrivalPerSec: 100, serviceTimeMs: 1 })], current: { s: ["n005"] }, options: { runnersUp: 2 } });
  const scores = result.services.s!.nodes;
  assert.equal(scores.filter((n) => n.chosen).length, 2);
  assert.ok(scores.some((n) => n.current && n.node === "n005"));
  assert.equal(scores.filter((n) => !n.chosen && !n.current).length, 2);
  assert.deepEqual(scores.map((n) => n.rankedCost), [...scores.map((n) => n.rankedCost)].sort((a, b) => a - b));
  assert.deepEqual(result.services.s!.target, result.placement.s);
  const all = plan({ nodes: list, services: [service("s")], options: { runnersUp: Infinity } });
  assert.equal(all.services.s!.nodes.length, 8);
});

test("traffic and current placement naming unknown services or nodes are ignored", () => {
  const result = plan({
    nodes: nodes(3, ["s"]),
    services: [service("s")],
    traffic: [{ from: "s", to: "ghost", perSec: 100 }],
    current: { ghost: ["n000"], s: ["n000", "n000", "n002"] },
  });
  assert.deepEqual(result.placement, { s: ["n000", "n002"] });
  assert.deepEqual(result.moves, []);
});

test("duplicate node or service ids, and options out of range, are rejected", () => {
  assert.throws(() => plan({ nodes: [node("a"), node("a")], services: [] }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => plan({ nodes: [], services: [service("s"), service("s")] }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => plan({ nodes: [], services: [], options: { hysteresis: 1 } }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => plan({ nodes: [], services: [], options: { maxMovesPerRound: 1.5 } }), { code: "INVALID_ARGUMENT" });
});

// ── Properties over random clusters ────────────────────────────────────────────────────────────

test("the plan is the same whatever order nodes, services, traffic and lists come in", () => {
  fc.assert(
    fc.property(clusterArbitrary, fc.array(fc.integer(), { minLength: 40, maxLength: 40 }), (input, order) => {
      const reordered: PlanInput = {
        ...input,
        nodes: shuffled(input.nodes, order).map((n) => ({ ...n, services: shuffled(n.services, order.slice(3)) })),
        services: shuffled(input.services, order.slice(7)),
        traffic: shuffled(input.traffic ?? [], order.slice(11)),
        current: Object.fromEntries(shuffled(Object.entries(input.current ?? {}), order.slice(13)).map(([id, on]) => [id, shuffled(on, order.slice(17))])),
      };
      assert.deepEqual(planPlacement(reordered), planPlacement(input));
    }),
    { numRuns: 150 },
  );
});

test("targets respect the replica bounds, use distinct eligible nodes, and cover regions where nodes cost alike", () => {
  fc.assert(
    fc.property(clusterArbitrary, (input) => {
      const result = planPlacement(input);
      for (const s of input.services) {
        const target = result.services[s.id]!.target;
        const candidates = input.nodes.filter((n) => n.services.includes(s.id) && (n.status === "alive" || (input.current?.[s.id] ?? []).includes(n.id)));
        assert.equal(new Set(target).size, target.length);
        assert.ok(target.every((id) => candidates.some((n) => n.id === id)), `${s.id} only on candidates`);
        if (candidates.length > 0) assert.ok(target.length >= 1);
        assert.ok(target.length <= (s.hints?.maxReplicas ?? Infinity));
        const floor = Math.min(Math.max(1, s.hints?.minReplicas ?? 2), s.hints?.maxReplicas ?? Infinity, result.services[s.id]!.eligible);
        assert.ok(target.length >= floor, `${s.id}: ${target.length} replicas, floor ${floor}`);
        const hinted = candidates.filter((n) => n.region === s.hints?.region && n.status === "alive").length > 0;
        const pool = hinted ? candidates.filter((n) => n.region === s.hints?.region) : candidates;
        const regions = new Set(pool.map((n) => n.region)).size;
        const covered = new Set(target.map((id) => input.nodes.find((n) => n.id === id)!.region)).size;
        // Where nodes cost alike, replicas cover regions; a dependency or partners may make a region's
        // best node too costly to be worth covering (more than twice the best: see select-replicas.ts).
        const alike = (s.dependencies ?? []).length === 0 && !(input.traffic ?? []).some((f) => f.from === s.id || f.to === s.id) && s.hints?.near === undefined;
        if (target.length >= 2 && alike) assert.equal(covered, Math.min(target.length, regions), `${s.id} covers regions`);
      }
    }),
    { numRuns: 200 },
  );
});
