// The outbox towards one peer: its floor, the per-service outstanding counts, and the credit window.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Outgoing } from "./outgoing.js";
import { DEFAULT_WINDOW, PeerStream } from "./peer-stream.js";

function outgoing(seq: number, service = "svc"): Outgoing {
  const message = new Outgoing(service, { seq }, new Uint8Array(0), undefined, Infinity, false);
  message.seq = seq;
  return message;
}

test("an empty stream's floor is the next seq the node will use", () => {
  const stream = new PeerStream("b");
  assert.equal(stream.floor(42), 42);
  assert.equal(stream.size, 0);
});

test("the floor is the lowest unfinished seq, and moves up as the lowest ones finish", () => {
  const stream = new PeerStream("b");
  for (const seq of [3, 5, 8]) stream.add(outgoing(seq));
  assert.equal(stream.floor(9), 3);
  stream.remove(5);
  assert.equal(stream.floor(9), 3, "a later message finishing does not move the floor");
  stream.remove(3);
  assert.equal(stream.floor(9), 8);
  stream.remove(8);
  assert.equal(stream.floor(9), 9);
});

test("adding a message to a stream records the peer it goes to", () => {
  const stream = new PeerStream("node-b");
  const message = outgoing(1);
  stream.add(message);
  assert.equal(message.nodeId, "node-b");
  assert.equal(stream.entries.get(1), message);
});

test("outstanding counts each service's unfinished messages through add and remove", () => {
  const stream = new PeerStream("b");
  stream.add(outgoing(1, "a"));
  stream.add(outgoing(2, "a"));
  stream.add(outgoing(3, "b"));
  assert.deepStrictEqual([stream.outstanding("a"), stream.outstanding("b"), stream.outstanding("c")], [2, 1, 0]);
  assert.equal(stream.remove(1)?.seq, 1);
  assert.equal(stream.outstanding("a"), 1);
  assert.equal(stream.remove(1), undefined, "removing twice returns nothing");
  assert.equal(stream.remove(99), undefined, "removing an unknown seq returns nothing");
  assert.equal(stream.outstanding("a"), 1);
  stream.remove(2);
  stream.remove(3);
  assert.deepStrictEqual([stream.outstanding("a"), stream.outstanding("b"), stream.size], [0, 0, 0]);
});

test("takeAll hands back every message in seq order and leaves the stream empty", () => {
  const stream = new PeerStream("b");
  const messages = [outgoing(4, "a"), outgoing(6, "b"), outgoing(9, "a")];
  for (const message of messages) stream.add(message);
  stream.remove(6);
  assert.deepStrictEqual(stream.takeAll(), [messages[0], messages[2]]);
  assert.deepStrictEqual([stream.size, stream.outstanding("a"), stream.outstanding("b"), stream.floor(10)], [0, 0, 0, 10]);
  assert.deepStrictEqual(stream.takeAll(), []);
  stream.add(outgoing(11, "a"));
  assert.equal(stream.outstanding("a"), 1, "counting starts afresh after takeAll");
});

test("a stream is saturated exactly when it holds a full window, and has credit again once one finishes", () => {
  const stream = new PeerStream("b", 3);
  assert.equal(stream.window, 3);
  stream.add(outgoing(1));
  stream.add(outgoing(2));
  assert.equal(stream.saturated, false);
  stream.add(outgoing(3));
  assert.equal(stream.saturated, true);
  stream.remove(2);
  assert.equal(stream.saturated, false);
});

test("a stream's window defaults to DEFAULT_WINDOW", () => {
  const stream = new PeerStream("b");
  assert.equal(stream.window, DEFAULT_WINDOW);
  for (let seq = 1; seq < DEFAULT_WINDOW; seq++) stream.add(outgoing(seq));
  assert.equal(stream.saturated, false);
  stream.add(outgoing(DEFAULT_WINDOW));
  assert.equal(stream.saturated, true);
});

test("floor, size, saturation and outstanding agree with a model under any adds and removes", () => {
  const op = fc.oneof(fc.record({ add: fc.constantFrom("a", "b", "c") }), fc.record({ remove: fc.nat(40) }), fc.constant({ takeAll: true }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), fc.integer({ min: 1, max: 10 }), (ops, window) => {
      const stream = new PeerStream("b", window);
      const model = new Map<number, string>();
      let next = 1;
      for (const step of ops) {
        if ("add" in step) {
          stream.add(outgoing(next, step.add));
          model.set(next++, step.add);
        } else if ("remove" in step) {
          assert.equal(stream.remove(step.remove)?.service, model.get(step.remove));
          model.delete(step.remove);
        } else {
          assert.deepStrictEqual(stream.takeAll().map((m) => m.seq), [...model.keys()]);
          model.clear();
        }
        const seqs = [...model.keys()];
        assert.equal(stream.floor(next), seqs.length === 0 ? next : Math.min(...seqs));
        assert.equal(stream.size, model.size);
        assert.equal(stream.saturated, model.size >= window);
        for (const service of ["a", "b", "c"]) assert.equal(stream.outstanding(service), [...model.values()].filter((s) => s === service).length);
      }
    }),
  );
});
