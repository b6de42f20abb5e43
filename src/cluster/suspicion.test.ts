import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../testing/manual-clock.js";
import { LAN_DEFAULTS, Suspicion, expectedConfirmations, suspicionTimeoutMs, suspicionTimeoutsMs } from "./suspicion.js";

/** 6000 − 5000 · log 3 / log 4: the timeout after 2 of 3 confirmations with minMs 1000, maxMs 6000. */
const AFTER_TWO_OF_THREE_MS = 2037.5937481971;

/** A suspicion raised by "origin" with k = 3, minMs 1000, maxMs 6000; records when it timed out. */
function suspect(k = 3) {
  const clock = new ManualClock();
  const fired: { afterMs: number; confirmations: number }[] = [];
  const suspicion = new Suspicion({
    k,
    minMs: 1000,
    maxMs: 6000,
    from: "origin",
    clock,
    onTimeout: (confirmations) => fired.push({ afterMs: clock.now() - suspicion.startedAt, confirmations }),
  });
  return { clock, suspicion, fired };
}

test("a suspicion nobody confirms times out at maxMs", async () => {
  const { clock, fired } = suspect();
  await clock.advance(5999);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ afterMs: 6000, confirmations: 0 }]);
  assert.equal(clock.pendingTimers, 0);
});

test("k confirmations bring the timeout down to minMs", async () => {
  const { clock, suspicion, fired } = suspect();
  await clock.advance(200);
  for (const node of ["a", "b", "c"]) assert.equal(suspicion.confirm(node), true);
  await clock.advance(799);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ afterMs: 1000, confirmations: 3 }]);
});

test("each confirmation shrinks the timeout logarithmically, counted from the suspicion's start", async () => {
  const { clock, suspicion, fired } = suspect();
  await clock.advance(100);
  suspicion.confirm("a");
  assert.equal(suspicion.timeoutMs, 3500);
  await clock.advance(1900);
  suspicion.confirm("b");
  await clock.advance(37);
  assert.equal(fired.length, 0);
  await clock.advance(1);
  assert.equal(fired.length, 1);
  assert.ok(Math.abs(fired[0]!.afterMs - AFTER_TWO_OF_THREE_MS) < 1e-6, `fired after ${fired[0]!.afterMs} ms`);
  assert.equal(fired[0]!.confirmations, 2);
});

test("the timeout follows max(minMs, maxMs − (maxMs − minMs) · log(C + 1) / log(k + 1))", () => {
  assert.equal(suspicionTimeoutMs(0, 3, 1000, 6000), 6000);
  assert.equal(suspicionTimeoutMs(1, 3, 1000, 6000), 3500);
  assert.ok(Math.abs(suspicionTimeoutMs(2, 3, 1000, 6000) - AFTER_TWO_OF_THREE_MS) < 1e-6);
  assert.equal(suspicionTimeoutMs(3, 3, 1000, 6000), 1000);
  assert.equal(suspicionTimeoutMs(9, 3, 1000, 6000), 1000);
  assert.equal(suspicionTimeoutMs(0, 0, 1000, 6000), 1000);
});

test("confirmations from the originator or from the same node twice do not count", async () => {
  const { clock, suspicion, fired } = suspect();
  assert.equal(suspicion.confirm("origin"), false);
  assert.equal(suspicion.confirm("a"), true);
  assert.equal(suspicion.confirm("a"), false);
  assert.equal(suspicion.confirmations, 1);
  await clock.advance(3499);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ afterMs: 3500, confirmations: 1 }]);
});

test("confirmations beyond k are not counted", () => {
  const { suspicion } = suspect(2);
  assert.equal(suspicion.confirm("a"), true);
  assert.equal(suspicion.confirm("b"), true);
  assert.equal(suspicion.confirm("c"), false);
  assert.equal(suspicion.confirmations, 2);
});

test("a confirmation that moves the deadline into the past times out at once", async () => {
  const { clock, suspicion, fired } = suspect();
  await clock.advance(4000);
  assert.equal(suspicion.confirm("a"), true);
  assert.deepEqual(fired, [{ afterMs: 4000, confirmations: 1 }]);
  assert.equal(suspicion.active, false);
  assert.equal(clock.pendingTimers, 0);
});

test("a suspicion times out only once", async () => {
  const { clock, suspicion, fired } = suspect();
  await clock.advance(6000);
  assert.equal(suspicion.confirm("a"), false);
  await clock.advance(60_000);
  assert.equal(fired.length, 1);
  assert.equal(clock.pendingTimers, 0);
});

test("a stopped suspicion never times out and leaves no pending timer", async () => {
  const { clock, suspicion, fired } = suspect();
  suspicion.confirm("a");
  await clock.advance(1000);
  suspicion.stop();
  assert.equal(clock.pendingTimers, 0);
  assert.equal(suspicion.confirm("b"), false);
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(60_000);
  assert.deepEqual(fired, []);
});

test("a suspicion that expects no confirmations times out at minMs", async () => {
  const { clock, suspicion, fired } = suspect(0);
  assert.equal(suspicion.confirm("a"), false);
  await clock.advance(999);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [{ afterMs: 1000, confirmations: 0 }]);
});

test("a suspicion rejects a fractional k and a maxMs below minMs", () => {
  const clock = new ManualClock();
  const base = { k: 3, minMs: 1000, maxMs: 6000, from: "origin", clock, onTimeout: () => {} };
  assert.throws(() => new Suspicion({ ...base, k: 1.5 }), RangeError);
  assert.throws(() => new Suspicion({ ...base, maxMs: 500 }), RangeError);
  assert.equal(clock.pendingTimers, 0);
});

test("suspicion timeouts grow with log10 of the cluster size, never below suspicionMult probe intervals", () => {
  const probeIntervalMs = LAN_DEFAULTS.probeIntervalMs;
  assert.deepEqual(suspicionTimeoutsMs(1, probeIntervalMs), { minMs: 4000, maxMs: 24_000 });
  assert.deepEqual(suspicionTimeoutsMs(3, probeIntervalMs), { minMs: 4000, maxMs: 24_000 });
  assert.deepEqual(suspicionTimeoutsMs(10, probeIntervalMs), { minMs: 4000, maxMs: 24_000 });
  assert.deepEqual(suspicionTimeoutsMs(100, probeIntervalMs), { minMs: 8000, maxMs: 48_000 });
  assert.deepEqual(suspicionTimeoutsMs(1000, probeIntervalMs), { minMs: 12_000, maxMs: 72_000 });
  assert.deepEqual(suspicionTimeoutsMs(100, 200, 5, 3), { minMs: 2000, maxMs: 6000 });
});

test("a suspicion expects suspicionMult − 2 confirmations, or none when too few members could give them", () => {
  assert.equal(expectedConfirmations(3), 0);
  assert.equal(expectedConfirmations(4), 2);
  assert.equal(expectedConfirmations(100), 2);
  assert.equal(expectedConfirmations(100, 1), 0);
});
