// resolvePlacementOptions: the defaults, the round interval, unknown keys, and the move budget that follows the cluster's size.

import assert from "node:assert/strict";
import { test } from "node:test";
import { KaffixError } from "../errors.js";
import { DEFAULT_INTERVAL_MS, resolvePlacementOptions, type PlacementOptions } from "./placement-options.js";
import { DEFAULT_PLANNER_OPTIONS } from "./planner-options.js";

function rejects(options: unknown, pattern: RegExp): void {
  assert.throws(
    () => resolvePlacementOptions(options as Partial<PlacementOptions>),
    (error: unknown) => error instanceof KaffixError && error.code === "INVALID_ARGUMENT" && pattern.test(error.message),
  );
}

test("no options give the planner's defaults, a 5 s interval, and a move budget that follows the cluster's size", () => {
  assert.equal(DEFAULT_INTERVAL_MS, 5000);
  assert.deepEqual(resolvePlacementOptions({}), { ...DEFAULT_PLANNER_OPTIONS, intervalMs: 5000, movesFollowSize: true });
});

test("given options override the defaults and the rest keep theirs", () => {
  const resolved = resolvePlacementOptions({ intervalMs: 250, hysteresis: 0.3, defaultMinReplicas: 3 });
  assert.equal(resolved.intervalMs, 250);
  assert.equal(resolved.hysteresis, 0.3);
  assert.equal(resolved.defaultMinReplicas, 3);
  assert.equal(resolved.targetUtilization, DEFAULT_PLANNER_OPTIONS.targetUtilization);
  assert.equal(resolved.minMoveIntervalMs, DEFAULT_PLANNER_OPTIONS.minMoveIntervalMs);
});

test("a given maxMovesPerRound is kept as it is and no longer follows the cluster's size", () => {
  const resolved = resolvePlacementOptions({ maxMovesPerRound: 5 });
  assert.equal(resolved.maxMovesPerRound, 5);
  assert.equal(resolved.movesFollowSize, false);
  assert.equal(resolvePlacementOptions({ maxMovesPerRound: 0 }).movesFollowSize, false);
  assert.equal(resolvePlacementOptions({ maxMovesPerRound: Infinity }).movesFollowSize, false);
});

test("a maxMovesPerRound left undefined counts as not given", () => {
  assert.equal(resolvePlacementOptions({ maxMovesPerRound: undefined } as Partial<PlacementOptions>).movesFollowSize, true);
});

test("the interval may be as short as 100 ms (a round must leave gossip time to carry a removal's announcement)", () => {
  assert.equal(resolvePlacementOptions({ intervalMs: 100 }).intervalMs, 100);
});

test("an interval under 100 ms, not finite or not a number is refused, naming intervalMs and the value", () => {
  rejects({ intervalMs: 99 }, /intervalMs .* got 99$/);
  rejects({ intervalMs: 0 }, /intervalMs/);
  rejects({ intervalMs: -5000 }, /intervalMs/);
  rejects({ intervalMs: Infinity }, /intervalMs .* got Infinity/);
  rejects({ intervalMs: NaN }, /intervalMs .* got NaN/);
  rejects({ intervalMs: "5000" }, /intervalMs .* got 5000/);
});

test("an unknown key is refused with a message that names it and lists the known ones", () => {
  rejects({ intervalMS: 1000 }, /unknown placement option "intervalMS"/);
  rejects({ maxMoves: 3 }, /unknown placement option "maxMoves"; known options are .*maxMovesPerRound.*intervalMs/);
});

test("an object that is not one is refused", () => {
  rejects(null, /placement must be false or an object/);
  rejects(5, /placement must be false or an object/);
  rejects("fast", /placement must be false or an object/);
});

test("planner options are validated as the planner validates them, naming the field", () => {
  rejects({ targetUtilization: 1.5 }, /targetUtilization must be a number in \(0, 1\], got 1.5/);
  rejects({ hysteresis: 1 }, /hysteresis/);
  rejects({ minMoveIntervalMs: -1 }, /minMoveIntervalMs/);
  rejects({ maxMovesPerRound: 1.5 }, /maxMovesPerRound/);
  rejects({ defaultMinReplicas: 0 }, /defaultMinReplicas/);
  rejects({ nearCostFactor: 0 }, /nearCostFactor/);
  rejects({ runnersUp: -1 }, /runnersUp/);
});

test("resolving does not change the options it was given", () => {
  const given = Object.freeze({ intervalMs: 100, hysteresis: 0.2 });
  resolvePlacementOptions(given);
  assert.deepEqual(given, { intervalMs: 100, hysteresis: 0.2 });
});
