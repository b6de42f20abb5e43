// The router's choice in the mean: pairs of replicas go to the cheaper region, and a region's replicas fill up level.

import assert from "node:assert/strict";
import { test } from "node:test";
import { fillTier, pairMasses } from "./route-split.js";

const sum = (values: ArrayLike<number>) => Array.from(values).reduce((a, b) => a + b, 0);

test("pair masses add up to one, and a single replica takes every pick", () => {
  assert.deepEqual([...pairMasses([0, 1, 0], [5, 5, 5])], [0, 1, 0]);
  assert.ok(Math.abs(sum(pairMasses([3, 2, 4], [1, 2, 3])) - 1) < 1e-12);
});

test("a region 20 ms closer wins nearly every pair it is in; pairs within the far region stay there", () => {
  const [near, far] = pairMasses([1, 2], [0.3, 20.3]);
  // Three pairs: (near, far) twice → near; (far, far) once → far.
  assert.ok(Math.abs(near! - 2 / 3) < 1e-3 && Math.abs(far! - 1 / 3) < 1e-3);
});

test("regions of equal cost split the pairs by their replica counts", () => {
  const [a, b] = pairMasses([1, 1], [10, 10]);
  assert.ok(Math.abs(a! - 0.5) < 1e-9 && Math.abs(b! - 0.5) < 1e-9);
});

test("remote calls fill a region's replicas in proportion to spare capacity, on top of what they keep", () => {
  const even = fillTier(Float64Array.of(0, 0), Float64Array.of(1, 3), 400);
  assert.deepEqual([...even], [100, 300]);
  const kept = fillTier(Float64Array.of(500, 0, 0), Float64Array.of(1, 1, 2), 900);
  assert.equal(kept[0], 500, "a replica busy with its own node's calls keeps them and gets none");
  assert.ok(Math.abs(kept[1]! - 400 / 3) < 1e-9 && Math.abs(kept[2]! - 800 / 3) < 1e-9);
  assert.ok(Math.abs(sum(kept) - 900) < 1e-9);
});
