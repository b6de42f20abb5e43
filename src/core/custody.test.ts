// Custody on a Delivery: with an owner, the outcome waits until every child is safe and is reported once; without one, at once.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import pino from "pino";
import { KaffixError } from "../errors.js";
import { ACCEPTED, Delivery, REPLY_ONLY, type CustodyOwner } from "./delivery.js";

interface Scene {
  delivery: Delivery;
  /** What happened, in order: "reply:<value>", "error:<code>", "owner". */
  events: string[];
}

/** A request delivery whose reply and owner's news are recorded; `owned: false` is the single-node fast path. */
function scene(owned = true): Scene {
  const host = { nodeId: "a", publish: () => ACCEPTED, request: () => Promise.resolve(undefined), dependency: () => Promise.reject(new Error("not used here")) };
  const delivery = new Delivery(host, "svc", pino({ level: "silent" }), "m", Infinity);
  const events: string[] = [];
  delivery.expectReply({
    resolve: (value) => events.push(`reply:${String(value)}`),
    reject: (error) => events.push(`error:${error.code}`),
  });
  if (owned) {
    const owner: CustodyOwner = {
      childSafe: (child) => {
        assert.equal(child, delivery);
        events.push("owner");
      },
    };
    delivery.owner = owner;
  }
  return { delivery, events };
}

const failure = new KaffixError("HANDLER_ERROR", "boom");

test("without an owner, finish replies at once even while children are unsafe (the single-node fast path)", () => {
  const { delivery, events } = scene(false);
  delivery.childStarted();
  delivery.finish(7);
  assert.deepStrictEqual(events, ["reply:7"]);
  assert.equal(delivery.settled, true);
  delivery.childSafe();
  assert.deepStrictEqual(events, ["reply:7"]);
});

test("without an owner, fail rejects at once and a later finish is dropped", () => {
  const { delivery, events } = scene(false);
  delivery.fail(failure);
  delivery.finish(1);
  assert.deepStrictEqual(events, ["error:HANDLER_ERROR"]);
});

test("with an owner and no children, finish replies and tells the owner at once", () => {
  const { delivery, events } = scene();
  delivery.finish("v");
  assert.deepStrictEqual(events, ["reply:v", "owner"]);
});

test("with an owner, finish waits until every child reported safe, then replies and tells the owner once", () => {
  const { delivery, events } = scene();
  delivery.childStarted();
  delivery.childStarted();
  delivery.childStarted();
  delivery.finish("v");
  assert.deepStrictEqual(events, []);
  assert.equal(delivery.settled, false);
  delivery.childSafe();
  delivery.childSafe();
  assert.deepStrictEqual(events, []);
  delivery.childSafe();
  assert.deepStrictEqual(events, ["reply:v", "owner"]);
  assert.equal(delivery.unsafe, 0);
});

test("with an owner, fail waits for the children likewise, then rejects and tells the owner once", () => {
  const { delivery, events } = scene();
  delivery.childStarted();
  delivery.fail(failure);
  assert.deepStrictEqual(events, []);
  delivery.childSafe();
  assert.deepStrictEqual(events, ["error:HANDLER_ERROR", "owner"]);
});

test("children that became safe before the handler finished do not hold the outcome back", () => {
  const { delivery, events } = scene();
  delivery.childStarted();
  delivery.childSafe();
  delivery.childStarted();
  delivery.childSafe();
  assert.deepStrictEqual(events, []);
  delivery.finish(1);
  assert.deepStrictEqual(events, ["reply:1", "owner"]);
});

test("the first outcome wins: a second finish or a fail after it changes nothing", () => {
  const { delivery, events } = scene();
  delivery.childStarted();
  delivery.finish("first");
  delivery.fail(failure);
  delivery.finish("second");
  delivery.childSafe();
  assert.deepStrictEqual(events, ["reply:first", "owner"]);
});

test("a request that timed out still tells its owner once its handler and children are done", () => {
  const { delivery, events } = scene();
  delivery.childStarted();
  delivery.reject(new KaffixError("TIMEOUT", "too slow"));
  delivery.finish("late");
  delivery.childSafe();
  assert.deepStrictEqual(events, ["error:TIMEOUT", "owner"]);
});

test("a nested request in a held chain replies only once its children are safe, with nobody else to tell", () => {
  const { delivery, events } = scene(false);
  delivery.owner = REPLY_ONLY;
  delivery.childStarted();
  delivery.finish("v");
  assert.deepStrictEqual(events, []);
  delivery.childSafe();
  assert.deepStrictEqual(events, ["reply:v"]);
});

test("a chain of custody completes from the leaves up: the root's owner hears once, after the last grandchild", () => {
  const { delivery: root, events } = scene();
  const host = { nodeId: "a", publish: () => ACCEPTED, request: () => Promise.resolve(undefined), dependency: () => Promise.reject(new Error("not used here")) };
  const child = new Delivery(host, "child", pino({ level: "silent" }), "c", Infinity);
  root.childStarted();
  child.owner = root;
  root.finish("done");
  child.childStarted();
  child.finish(undefined);
  assert.deepStrictEqual(events, []);
  child.childSafe();
  assert.deepStrictEqual(events, ["reply:done", "owner"]);
});

test("in any order of children reporting safe around the handler's end, the owner hears exactly once, when the last is safe", () => {
  fc.assert(
    fc.property(fc.nat(8), fc.nat(8), fc.boolean(), (children, finishAfter, fails) => {
      const { delivery, events } = scene();
      for (let i = 0; i < children; i++) delivery.childStarted();
      const at = Math.min(finishAfter, children);
      for (let i = 0; i <= children; i++) {
        if (i === at) fails ? delivery.fail(failure) : delivery.finish("v");
        if (i < children) {
          const before = events.length;
          delivery.childSafe();
          if (i < children - 1 || at === children) assert.equal(events.length, before, "nothing before the last child is safe");
        }
      }
      assert.deepStrictEqual(events, [fails ? "error:HANDLER_ERROR" : "reply:v", "owner"]);
    }),
  );
});

test(
  "a child published after the owner was told does not tell the owner a second time",
  () => {
    const { delivery, events } = scene();
    delivery.finish("v");
    assert.deepStrictEqual(events, ["reply:v", "owner"]);
    delivery.childStarted(); // e.g. a timer in the handler publishing through its ctx after it returned
    delivery.childSafe();
    assert.deepStrictEqual(events, ["reply:v", "owner"]);
  },
);

test(
  "a late child of one message does not complete its parent while the parent's other child is still unsafe",
  () => {
    const { delivery: parent, events } = scene();
    const host = { nodeId: "a", publish: () => ACCEPTED, request: () => Promise.resolve(undefined), dependency: () => Promise.reject(new Error("not used here")) };
    const early = new Delivery(host, "early", pino({ level: "silent" }), 1, Infinity);
    const other = new Delivery(host, "other", pino({ level: "silent" }), 2, Infinity);
    for (const child of [early, other]) {
      parent.childStarted();
      child.owner = parent;
    }
    parent.finish("v");
    early.finish(undefined); // parent.unsafe 2 → 1
    early.childStarted(); // `early`'s handler publishes after it returned…
    early.childSafe(); // …and that message is held: `early` must not report to its parent again
    assert.deepStrictEqual(events, [], "`other` has not finished yet");
    assert.equal(parent.unsafe, 1);
  },
);

test("an answered request's delivery lets go of its message, so a deadline sweep keeps only a small shell", () => {
  const host = { nodeId: "a", publish: () => ACCEPTED, request: () => Promise.resolve(undefined), dependency: () => Promise.reject(new Error("not used here")) };
  const delivery = new Delivery(host, "svc", pino({ level: "silent" }), { big: "payload" }, Infinity);
  let replied: unknown;
  delivery.expectReply({ resolve: (value) => (replied = value), reject: () => {} });
  delivery.finish("done");
  assert.equal(replied, "done");
  assert.equal(delivery.message, undefined);
});
