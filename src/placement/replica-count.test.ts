// The replica count: demand against a typical node's capacity, bounded by the hints and the nodes that may run the service.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type ReplicaCountInput, replicaCount } from "./replica-count.js";

function count(fields: Partial<ReplicaCountInput> = {}) {
  return replicaCount({ work: 0, hints: {}, candidates: 10, meanCapacity: 1, targetUtilization: 0.7, defaultMinReplicas: 2, ...fields });
}

test("a service without demand or hints gets the default of two replicas", () => {
  assert.deepEqual(count(), { replicas: 2, rule: "min-replicas", floor: 2, ceiling: Infinity });
});

test("demand asks for enough replicas to keep a typical node under the target utilization", () => {
  // 3.5 cores of work, 0.7 × 1 core per replica → 5 replicas.
  assert.equal(count({ work: 3.5 }).replicas, 5);
  assert.equal(count({ work: 3.5 }).rule, "demand");
  // Twice the capacity per node, half the replicas (rounded up).
  assert.equal(count({ work: 3.5, meanCapacity: 2 }).replicas, 3);
});

test("a count a rounding error above a whole number does not add a replica", () => {
  assert.equal(count({ work: 0.7 * 3 }).replicas, 3);
});

test("minReplicas raises the count above what demand needs", () => {
  assert.equal(count({ work: 0.1, hints: { minReplicas: 4 } }).replicas, 4);
});

test("minReplicas 0 still keeps one replica, because a service with none cannot take a message", () => {
  assert.deepEqual(count({ hints: { minReplicas: 0 } }), { replicas: 1, rule: "min-replicas", floor: 1, ceiling: Infinity });
});

test("maxReplicas caps demand and wins over minReplicas", () => {
  assert.deepEqual(count({ work: 100, hints: { maxReplicas: 3 } }), { replicas: 3, rule: "max-replicas", floor: 2, ceiling: 3 });
  assert.equal(count({ hints: { minReplicas: 5, maxReplicas: 3 } }).replicas, 3);
});

test("no more replicas than nodes that may run the service", () => {
  assert.deepEqual(count({ work: 100, candidates: 4 }), { replicas: 4, rule: "eligible-nodes", floor: 2, ceiling: Infinity });
  assert.deepEqual(count({ candidates: 1 }), { replicas: 1, rule: "eligible-nodes", floor: 1, ceiling: Infinity });
});

test("spread asks for every candidate, still bounded by maxReplicas", () => {
  assert.deepEqual(count({ hints: { spread: true }, candidates: 7 }), { replicas: 7, rule: "spread", floor: 2, ceiling: Infinity });
  assert.equal(count({ hints: { spread: true, maxReplicas: 3 }, candidates: 7 }).replicas, 3);
});

test("with no candidate the count is zero", () => {
  assert.deepEqual(count({ candidates: 0, work: 5 }), { replicas: 0, rule: "no-eligible-node", floor: 0, ceiling: Infinity });
});

test("malformed hints are ignored rather than trusted", () => {
  assert.equal(count({ hints: { minReplicas: Number.NaN, maxReplicas: -1 } }).replicas, 2);
  assert.equal(count({ hints: { minReplicas: 2.9 } }).replicas, 2);
});

test("the count always lies between one and both bounds, and the floor never exceeds it", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1000, noNaN: true }),
      fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
      fc.boolean(),
      fc.integer({ min: 0, max: 30 }),
      fc.double({ min: 0.1, max: 16, noNaN: true }),
      (work, minReplicas, maxReplicas, spread, candidates, meanCapacity) => {
        const { replicas, floor } = count({ work, hints: { minReplicas, maxReplicas, spread }, candidates, meanCapacity });
        if (candidates === 0) return replicas === 0;
        return replicas >= 1 && replicas <= candidates && replicas <= (maxReplicas ?? Infinity) && floor >= 1 && floor <= replicas;
      },
    ),
  );
});
