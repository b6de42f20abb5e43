// What a receiver remembers of one sender: redelivery classes, the floor, the bounded done memory, and remote custody.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Delivery } from "../core/delivery.js";
import { MAX_REMEMBERED_DONE, RemoteOrigin, SenderState } from "./sender-state.js";

/** RemoteOrigin does not look at the delivery that became safe, only at its own seq. */
const anyDelivery = undefined as unknown as Delivery;

test("a seq never seen is new, one received and open is in progress, one finished is done", () => {
  const state = new SenderState("n1");
  assert.equal(state.classify(7), "new");
  state.open.set(7, true);
  assert.equal(state.classify(7), "in-progress");
  state.finish(7, true);
  assert.equal(state.open.has(7), false);
  assert.equal(state.classify(7), "done");
  assert.equal(state.classify(8), "new");
});

test("a seq finished without being remembered is acked as done but is new again if it comes back", () => {
  const state = new SenderState("n1");
  state.open.set(3, true);
  state.finish(3, false);
  assert.equal(state.classify(3), "new");
  assert.deepStrictEqual(state.finished.take(), [3, 3]);
});

test("every seq below the floor the sender reported is done; a lower floor later changes nothing", () => {
  const state = new SenderState("n1");
  state.advance(100);
  assert.equal(state.floor, 100);
  assert.equal(state.classify(0), "done");
  assert.equal(state.classify(99), "done");
  assert.equal(state.classify(100), "new");
  state.advance(50);
  assert.equal(state.floor, 100);
  assert.equal(state.classify(60), "done");
});

test("raising the floor forgets the finished seqs below it, so they stop taking room from newer ones", () => {
  const state = new SenderState("n1");
  const early = 1_000_000;
  state.finish(early, true); // finished out of order: the oldest entry of the done memory
  for (let seq = 0; seq < 2048; seq++) state.finish(seq, true);
  state.advance(2048);
  // Room for MAX_REMEMBERED_DONE: `early` plus these fill it exactly once the 2048 below the floor are gone.
  for (let seq = 2048; seq < 2048 + MAX_REMEMBERED_DONE - 1; seq++) state.finish(seq, true);
  assert.equal(state.classify(early), "done");
  assert.equal(state.classify(2048), "done");
});

test("the done memory keeps at most MAX_REMEMBERED_DONE seqs above the floor and forgets the oldest first", () => {
  const state = new SenderState("n1");
  for (let seq = 0; seq <= MAX_REMEMBERED_DONE; seq++) state.finish(seq, true);
  assert.equal(state.classify(0), "new", "the oldest was evicted");
  assert.equal(state.classify(1), "done");
  assert.equal(state.classify(MAX_REMEMBERED_DONE), "done");
  state.finish(MAX_REMEMBERED_DONE + 1, true);
  assert.equal(state.classify(1), "new");
  assert.equal(state.classify(2), "done");
});

test("the done memory forgets in the order seqs finished, not in seq order", () => {
  const state = new SenderState("n1");
  const order = [5, ...Array.from({ length: MAX_REMEMBERED_DONE - 1 }, (_, i) => 10 + i), 1];
  for (const seq of order) state.finish(seq, true);
  assert.equal(state.classify(5), "new");
  assert.equal(state.classify(1), "done");
  assert.equal(state.classify(10), "done");
});

test("classify agrees with a model of open, finished and floor", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("open" as const), seq: fc.nat(60) }),
    fc.record({ kind: fc.constant("finish" as const), seq: fc.nat(60) }),
    fc.record({ kind: fc.constant("advance" as const), seq: fc.nat(60) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
      const state = new SenderState("n1");
      const open = new Set<number>();
      const done = new Set<number>();
      let floor = 0;
      for (const { kind, seq } of ops) {
        if (kind === "open") {
          state.open.set(seq, true);
          open.add(seq);
        } else if (kind === "finish") {
          state.finish(seq, true);
          open.delete(seq);
          done.add(seq);
        } else {
          state.advance(seq);
          floor = Math.max(floor, seq);
        }
      }
      for (let seq = 0; seq <= 61; seq++) {
        const expected = seq < floor || done.has(seq) ? "done" : open.has(seq) ? "in-progress" : "new";
        assert.equal(state.classify(seq), expected, `seq ${seq}`);
      }
    }),
  );
});

test("a sender has acks to send once something was received or finished, until they are taken", () => {
  const state = new SenderState("n1");
  assert.equal(state.hasAcks, false);
  state.received.add(1);
  assert.equal(state.hasAcks, true);
  state.received.take();
  assert.equal(state.hasAcks, false);
  state.finish(1, true);
  assert.equal(state.hasAcks, true);
  assert.deepStrictEqual(state.finished.take(), [1, 1]);
  assert.equal(state.hasAcks, false);
});

test("a remote origin told its message is safe marks it finished and calls back with the sender's state", () => {
  const state = new SenderState("n1");
  state.open.set(7, true);
  const calls: SenderState[] = [];
  const origin = new RemoteOrigin(state, 7, (s) => calls.push(s));
  assert.equal(state.classify(7), "in-progress");
  origin.childSafe(anyDelivery);
  assert.deepStrictEqual(calls, [state]);
  assert.equal(state.open.has(7), false);
  assert.equal(state.classify(7), "done");
  assert.deepStrictEqual(state.finished.take(), [7, 7]);
});

test("remote origins finishing in seq order ack as one range", () => {
  const state = new SenderState("n1");
  let calls = 0;
  for (let seq = 10; seq < 20; seq++) {
    state.open.set(seq, true);
    new RemoteOrigin(state, seq, () => calls++).childSafe(anyDelivery);
  }
  assert.equal(calls, 10);
  assert.equal(state.open.size, 0);
  assert.deepStrictEqual(state.finished.take(), [10, 19]);
});
