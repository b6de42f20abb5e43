// Second copies: the bounded store of copies held for peers, and a placed copy's acceptance and release.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import pino from "pino";
import { Delivery, ACCEPTED } from "../core/delivery.js";
import { HeldCopies, PlacedCopy } from "./copies.js";

function delivery(): Delivery {
  const host = { nodeId: "a", publish: () => ACCEPTED, request: () => Promise.resolve(undefined), dependency: () => Promise.reject(new Error("not used here")) };
  return new Delivery(host, "svc", pino({ level: "silent" }), "hello", Infinity);
}

/** "resolved", "rejected" or "pending" once every queued microtask has run. */
async function stateOf(promise: Promise<unknown>): Promise<string> {
  let state = "pending";
  promise.then(
    () => (state = "resolved"),
    () => (state = "rejected"),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
}

const bytes = (n: number) => new Uint8Array(n).fill(n);

// ── HeldCopies ──────────────────────────────────────────────────────────────────────────────────

test("a held copy is kept by origin and seq with its service and body", () => {
  const held = new HeldCopies();
  assert.equal(held.hold("a", 1, "svc", Uint8Array.of(1, 2)), true);
  assert.equal(held.hold("b", 1, "other", Uint8Array.of(3)), true, "the same seq from another origin is another copy");
  assert.equal(held.count, 2);
  assert.deepStrictEqual(held.of("a")?.get(1), { service: "svc", body: Uint8Array.of(1, 2) });
  assert.deepStrictEqual(held.of("b")?.get(1), { service: "other", body: Uint8Array.of(3) });
  assert.equal(held.of("c"), undefined);
});

test("a held copy is a copy: changing the caller's bytes afterwards changes nothing, and the source buffer is not retained", () => {
  const held = new HeldCopies();
  const socketBuffer = Buffer.from("....body....");
  const view = socketBuffer.subarray(4, 8);
  held.hold("a", 1, "svc", view);
  socketBuffer.fill(0);
  const copy = held.of("a")!.get(1)!.body;
  assert.equal(Buffer.from(copy).toString(), "body");
  assert.notEqual(copy.buffer, socketBuffer.buffer);
});

test("holding a copy again is idempotent: it keeps the first body and counts once", () => {
  const held = new HeldCopies(2, 100);
  held.hold("a", 1, "svc", Uint8Array.of(1));
  assert.equal(held.hold("a", 1, "svc", Uint8Array.of(9, 9)), true);
  assert.equal(held.count, 1);
  assert.deepStrictEqual(held.of("a")?.get(1)?.body, Uint8Array.of(1));
  held.hold("a", 2, "svc", Uint8Array.of(2));
  assert.equal(held.hold("a", 2, "svc", Uint8Array.of(2)), true, "a duplicate is accepted even when the store is full");
});

test("a store full by count refuses a new copy and keeps nothing of it", () => {
  const held = new HeldCopies(2, 1_000);
  assert.equal(held.hold("a", 1, "svc", bytes(1)), true);
  assert.equal(held.hold("b", 1, "svc", bytes(1)), true);
  assert.equal(held.hold("c", 1, "svc", bytes(1)), false);
  assert.equal(held.count, 2);
  assert.equal(held.of("c"), undefined);
  held.release("a", 1);
  assert.equal(held.hold("c", 1, "svc", bytes(1)), true, "a release makes room");
});

test("a store full by bytes refuses a copy that would pass the limit, and takes one that fits exactly", () => {
  const held = new HeldCopies(100, 10);
  assert.equal(held.hold("a", 1, "svc", bytes(6)), true);
  assert.equal(held.hold("a", 2, "svc", bytes(5)), false);
  assert.equal(held.of("a")?.has(2), false);
  assert.equal(held.hold("a", 3, "svc", bytes(4)), true);
  assert.equal(held.hold("a", 4, "svc", bytes(11)), false);
  held.release("a", 1);
  assert.equal(held.hold("a", 2, "svc", bytes(5)), true, "the released bytes are free again");
  assert.equal(held.count, 2);
});

test("release forgets one copy, ignores unknown ones, and forgets an origin with nothing left", () => {
  const held = new HeldCopies();
  held.hold("a", 1, "svc", bytes(3));
  held.hold("a", 2, "svc", bytes(3));
  held.release("a", 1);
  held.release("a", 1);
  held.release("a", 99);
  held.release("zz", 1);
  assert.equal(held.count, 1);
  held.release("a", 2);
  assert.equal(held.count, 0);
  assert.equal(held.of("a"), undefined);
});

test("takeAll hands back an origin's copies oldest first and frees their room", () => {
  const held = new HeldCopies(3, 9);
  held.hold("a", 5, "x", bytes(3));
  held.hold("a", 2, "y", bytes(3));
  held.hold("b", 1, "z", bytes(3));
  assert.deepStrictEqual(held.takeAll("a"), [{ service: "x", body: bytes(3) }, { service: "y", body: bytes(3) }]);
  assert.equal(held.count, 1);
  assert.equal(held.of("a"), undefined);
  assert.deepStrictEqual(held.takeAll("a"), []);
  assert.equal(held.hold("c", 1, "w", bytes(6)), true, "count and bytes both came back");
});

test("count and refusals agree with a model of count and bytes under any holds, releases and takeAlls", () => {
  const origin = fc.constantFrom("a", "b", "c");
  const op = fc.oneof(
    fc.record({ kind: fc.constant("hold" as const), origin, seq: fc.nat(6), size: fc.nat(8) }),
    fc.record({ kind: fc.constant("release" as const), origin, seq: fc.nat(6) }),
    fc.record({ kind: fc.constant("takeAll" as const), origin }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 150 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 30 }), (ops, maxCount, maxBytes) => {
      const held = new HeldCopies(maxCount, maxBytes);
      const model = new Map<string, number>(); // "origin/seq" → size
      const usedBytes = () => [...model.values()].reduce((a, b) => a + b, 0);
      for (const step of ops) {
        if (step.kind === "hold") {
          const id = `${step.origin}/${step.seq}`;
          const fits = model.has(id) || (model.size < maxCount && usedBytes() + step.size <= maxBytes);
          assert.equal(held.hold(step.origin, step.seq, "svc", bytes(step.size)), fits);
          if (fits && !model.has(id)) model.set(id, step.size);
        } else if (step.kind === "release") {
          held.release(step.origin, step.seq);
          model.delete(`${step.origin}/${step.seq}`);
        } else {
          const taken = held.takeAll(step.origin);
          const mine = [...model.keys()].filter((id) => id.startsWith(`${step.origin}/`));
          assert.equal(taken.length, mine.length);
          for (const id of mine) model.delete(id);
        }
        assert.equal(held.count, model.size);
        assert.ok(held.count <= maxCount);
      }
    }),
  );
});

// ── PlacedCopy ──────────────────────────────────────────────────────────────────────────────────

test("a placed copy's acceptance waits until the peer holds it", async () => {
  const copy = new PlacedCopy(delivery(), Uint8Array.of(1), () => {});
  const accepted = copy.accepted();
  assert.equal(await stateOf(accepted), "pending");
  assert.equal(copy.held, false);
  copy.markHeld();
  assert.equal(copy.held, true);
  assert.equal(await stateOf(accepted), "resolved");
});

test("a placed copy whose message became safe first is accepted too, and releases itself once", async () => {
  const safe: PlacedCopy[] = [];
  const copy = new PlacedCopy(delivery(), Uint8Array.of(1), (c) => safe.push(c));
  const accepted = copy.accepted();
  copy.childSafe();
  assert.equal(await stateOf(accepted), "resolved");
  assert.equal(copy.held, true);
  assert.deepStrictEqual(safe, [copy]);
});

test("marking a placed copy held does not release it, and a later childSafe releases it once", () => {
  let safe = 0;
  const copy = new PlacedCopy(delivery(), Uint8Array.of(1), () => safe++);
  void copy.accepted();
  copy.markHeld();
  copy.markHeld();
  assert.equal(safe, 0);
  copy.childSafe();
  assert.equal(safe, 1);
});

test("a placed copy is the custody owner of its delivery: it releases once the handler finished and its children are safe", async () => {
  const message = delivery();
  const safe: PlacedCopy[] = [];
  const copy = new PlacedCopy(message, Uint8Array.of(1), (c) => safe.push(c));
  message.owner = copy;
  const accepted = copy.accepted();
  message.childStarted();
  message.finish(undefined);
  assert.deepStrictEqual(safe, []);
  message.childSafe();
  assert.deepStrictEqual(safe, [copy]);
  assert.equal(await stateOf(accepted), "resolved");
});

test(
  "asking for a placed copy's acceptance after it is already held resolves at once",
  async () => {
    const copy = new PlacedCopy(delivery(), Uint8Array.of(1), () => {});
    const first = copy.accepted();
    const second = copy.accepted();
    copy.markHeld();
    assert.deepStrictEqual([await stateOf(first), await stateOf(second)], ["resolved", "resolved"]);
    assert.equal(await stateOf(copy.accepted()), "resolved");
  },
);
