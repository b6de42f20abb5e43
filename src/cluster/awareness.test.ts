import assert from "node:assert/strict";
import { test } from "node:test";
import { AWARENESS_DELTA, Awareness, failedProbeDelta } from "./awareness.js";

test("a new awareness scores 0 and leaves timeouts as they are", () => {
  const awareness = new Awareness();
  assert.equal(awareness.score, 0);
  assert.equal(awareness.scaleMs(500), 500);
});

test("the score never rises to max nor falls below 0", () => {
  const awareness = new Awareness(8);
  awareness.apply(5);
  assert.equal(awareness.score, 5);
  awareness.apply(100);
  assert.equal(awareness.score, 7);
  awareness.apply(-3);
  assert.equal(awareness.score, 4);
  awareness.apply(-100);
  assert.equal(awareness.score, 0);
});

test("timeouts scale by score + 1, so by at most max", () => {
  const awareness = new Awareness(8);
  awareness.apply(2);
  assert.equal(awareness.scaleMs(1000), 3000);
  awareness.apply(100);
  assert.equal(awareness.scaleMs(1000), 8000);
});

test("an awareness of max 1 never scales a timeout", () => {
  const awareness = new Awareness(1);
  awareness.apply(AWARENESS_DELTA.refutedSuspicion);
  assert.equal(awareness.score, 0);
  assert.equal(awareness.scaleMs(1000), 1000);
});

test("troubles raise the score and a successful probe lowers it", () => {
  const awareness = new Awareness();
  awareness.apply(AWARENESS_DELTA.refutedSuspicion);
  awareness.apply(failedProbeDelta(3, 1));
  assert.equal(awareness.score, 3);
  awareness.apply(AWARENESS_DELTA.probeSucceeded);
  assert.equal(awareness.score, 2);
});

test("a failed probe counts each missing nack, or once when no peer could be asked", () => {
  assert.equal(failedProbeDelta(3, 0), 3);
  assert.equal(failedProbeDelta(3, 2), 1);
  assert.equal(failedProbeDelta(3, 3), 0);
  assert.equal(failedProbeDelta(0, 0), 1);
});

test("an awareness rejects a max that is not a positive integer, and a fractional delta", () => {
  assert.throws(() => new Awareness(0), RangeError);
  assert.throws(() => new Awareness(2.5), RangeError);
  assert.throws(() => new Awareness().apply(0.5), RangeError);
});
