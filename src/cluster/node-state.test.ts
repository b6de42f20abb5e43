import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_GOSSIPED_SERVICES, readNodeState } from "./node-state.js";

test("a well-formed gossiped state reads back as it was", () => {
  const state = {
    region: "eu-west",
    capacity: { cores: 8, memoryBytes: 16e9, weight: 2 },
    services: ["A", "B"],
    running: { A: { queued: 3, arrivalPerSec: 120, serviceTimeMs: 1.5 } },
    eventLoopLagMs: { mean: 10.2, p99: 30 },
  };
  assert.deepEqual(readNodeState(state), state);
});

test("whatever a peer sends, the state read is well-formed: bad numbers become 0, bad lists empty", () => {
  const state = readNodeState({
    region: 7,
    capacity: { cores: "many", memoryBytes: -1, weight: Number.NaN },
    services: ["A", 3, null],
    running: { A: { queued: Infinity, arrivalPerSec: "x" } },
    eventLoopLagMs: null,
  });
  assert.deepEqual(state, {
    region: "default",
    capacity: { cores: 0, memoryBytes: 0, weight: 1 },
    services: ["A"],
    running: { A: { queued: 0, arrivalPerSec: 0, serviceTimeMs: 0 } },
    eventLoopLagMs: { mean: 0, p99: 0 },
  });
  assert.equal(readNodeState("nope"), undefined);
});

test("at most MAX_GOSSIPED_SERVICES services' load is read", () => {
  const running = Object.fromEntries(Array.from({ length: MAX_GOSSIPED_SERVICES + 10 }, (_, i) => [`s${i}`, { queued: 1 }]));
  assert.equal(Object.keys(readNodeState({ running })!.running).length, MAX_GOSSIPED_SERVICES);
});
