import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_GOSSIPED_SERVICES, readNodeState } from "./node-state.js";

test("a well-formed gossiped state reads back as it was", () => {
  const state = {
    region: "eu-west",
    capacity: { cores: 8, memoryBytes: 16e9, weight: 2 },
    labels: ["postgres"],
    coord: { vec: [1, 2, 0, 0, 0, 0, 0, 0], height: 0.1, error: 0.5, adjustment: 0 },
    changed: { A: 1_700_000_000_000 },
    services: ["A", "B"],
    running: {
      A: { queued: 3, arrivalPerSec: 120, serviceTimeMs: 1.5, to: { B: 110 }, deps: { postgres: { perSec: 120, ms: 0.9 } } },
      B: { queued: 0, arrivalPerSec: 110, serviceTimeMs: 0.2 },
    },
    eventLoopLagMs: { mean: 10.2, p99: 30 },
  };
  assert.deepEqual(readNodeState(state), state);
});

test("whatever a peer sends, the state read is well-formed: bad numbers become 0, bad lists empty", () => {
  const state = readNodeState({
    region: 7,
    capacity: { cores: "many", memoryBytes: -1, weight: Number.NaN },
    services: ["A", 3, null],
    running: { A: { queued: Infinity, arrivalPerSec: "x", to: { B: -1, C: "many" }, deps: { db: { perSec: 1, ms: Number.NaN } } } },
    labels: "postgres",
    coord: { vec: [Infinity], height: 0, error: 0, adjustment: 0 },
    changed: { A: -5 },
    eventLoopLagMs: null,
  });
  assert.deepEqual(state, {
    region: "default",
    capacity: { cores: 0, memoryBytes: 0, weight: 1 },
    labels: [],
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

test("a state is parsed once per gossiped object: the same object gives the same parse, a new version a new one", () => {
  const data = { region: "eu", services: ["A"], running: { A: { queued: 1 } } };
  const first = readNodeState(data);
  assert.equal(readNodeState(data), first);
  const next = readNodeState({ ...data, region: "us" });
  assert.notEqual(next, first);
  assert.equal(next!.region, "us");
});
