// Choosing a service's nodes from ranked candidates: best first, one per region first, and stable when the chosen improve.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bestOf, selectReplicas } from "./select-replicas.js";

/** Ranks by `costs[node]`, ties by node index: a strict total order. */
function byCost(costs: readonly number[]) {
  return (a: number, b: number) => costs[a]! - costs[b]! || a - b;
}

const allNodes = (count: number) => Array.from({ length: count }, (_, i) => i);

test("in one region the best-ranked nodes are chosen, best first", () => {
  const costs = [5, 1, 4, 2, 3];
  assert.deepEqual(selectReplicas(allNodes(5), 3, () => 0, byCost(costs)), { picked: [1, 3, 4], regionSpread: 0 });
});

test("with several regions the first replicas cover the regions, then the best of the rest follow", () => {
  // Region 0 holds the three cheapest nodes; region 1 only expensive ones.
  const costs = [1, 2, 3, 10, 11];
  const region = (node: number) => (node < 3 ? 0 : 1);
  assert.deepEqual(selectReplicas(allNodes(5), 2, region, byCost(costs)), { picked: [0, 3], regionSpread: 2 });
  assert.deepEqual(selectReplicas(allNodes(5), 3, region, byCost(costs)), { picked: [0, 3, 1], regionSpread: 2 });
});

test("with fewer replicas than regions the regions whose best nodes rank best are covered", () => {
  const costs = [9, 1, 5, 2];
  assert.deepEqual(selectReplicas(allNodes(4), 2, (node) => node, byCost(costs)), { picked: [1, 3], regionSpread: 2 });
});

test("a single replica goes to the best node whatever its region", () => {
  assert.deepEqual(selectReplicas(allNodes(4), 1, (node) => node % 2, byCost([3, 2, 1, 4])), { picked: [2], regionSpread: 0 });
});

test("no replicas or no candidates choose nothing, and asking for more than there are takes all", () => {
  assert.deepEqual(selectReplicas(allNodes(3), 0, () => 0, byCost([1, 2, 3])).picked, []);
  assert.deepEqual(selectReplicas([], 2, () => 0, byCost([])).picked, []);
  assert.deepEqual(selectReplicas(allNodes(3), 5, () => 0, byCost([3, 1, 2])).picked, [1, 2, 0]);
});

test("bestOf agrees with sorting, short lists and long", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 80 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 79 }), (costs, count, skipped) => {
      const better = byCost(costs);
      const items = allNodes(costs.length);
      const expected = items.filter((i) => i !== skipped).sort(better).slice(0, count);
      assert.deepEqual(bestOf(items, count, better, new Set([skipped])), expected);
    }),
  );
});

test("the choice covers min(replicas, regions) regions and holds distinct nodes", () => {
  fc.assert(
    fc.property(fc.array(fc.record({ cost: fc.integer({ min: 0, max: 50 }), region: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 10 }), (nodes, replicas) => {
      const { picked } = selectReplicas(allNodes(nodes.length), replicas, (n) => nodes[n]!.region, byCost(nodes.map((n) => n.cost)));
      const regions = new Set(nodes.map((n) => n.region));
      assert.equal(new Set(picked).size, picked.length);
      assert.equal(picked.length, Math.min(replicas, nodes.length));
      const needed = replicas >= 2 ? Math.min(replicas, regions.size) : 1;
      assert.equal(new Set(picked.map((n) => nodes[n]!.region)).size, needed);
    }),
  );
});

test("when the chosen nodes rank better and the others no better, the same nodes are chosen again", () => {
  // The lemma the planner's fixed point rests on (a current replica gets the hysteresis bonus).
  fc.assert(
    fc.property(
      fc.array(fc.record({ cost: fc.integer({ min: 0, max: 50 }), region: fc.integer({ min: 0, max: 3 }), down: fc.integer({ min: 0, max: 20 }), up: fc.integer({ min: 0, max: 20 }) }), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 10 }),
      (nodes, replicas) => {
        const region = (n: number) => nodes[n]!.region;
        const first = selectReplicas(allNodes(nodes.length), replicas, region, byCost(nodes.map((n) => n.cost))).picked;
        const chosen = new Set(first);
        const moved = nodes.map((n, i) => (chosen.has(i) ? n.cost - n.down : n.cost + n.up));
        const again = selectReplicas(allNodes(nodes.length), replicas, region, byCost(moved)).picked;
        assert.deepEqual([...again].sort((a, b) => a - b), [...first].sort((a, b) => a - b));
      },
    ),
  );
});
