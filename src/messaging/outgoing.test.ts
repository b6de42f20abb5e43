// One message sent to a peer: the publisher's promise, the custodian told exactly once, and a request settled once.

import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { ACCEPTED, Delivery, type CustodyOwner } from "../core/delivery.js";
import { KaffixError } from "../errors.js";
import { Outgoing } from "./outgoing.js";

/** A handler's message held by someone (`told` counts how often its owner heard it is safe), that published one child. */
function custodian(): { parent: Delivery; told: () => number } {
  const host = { nodeId: "a", publish: () => ACCEPTED, request: () => Promise.resolve(undefined), dependency: () => Promise.reject(new Error("not used here")) };
  const parent = new Delivery(host, "parent", pino({ level: "silent" }), "m", Infinity);
  let told = 0;
  const owner: CustodyOwner = { childSafe: () => told++ };
  parent.owner = owner;
  parent.childStarted();
  parent.finish(undefined);
  return { parent, told: () => told };
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

const body = Uint8Array.of(1, 2, 3);
const refused = new KaffixError("SERVICE_UNAVAILABLE", "no node serves svc");

test("a publish is fixed at construction as a message without deadline, still waiting for acceptance", () => {
  const { outgoing } = Outgoing.publish("svc", { n: 1 }, body, "key-1", undefined);
  assert.deepStrictEqual([outgoing.service, outgoing.message, outgoing.body, outgoing.key], ["svc", { n: 1 }, body, "key-1"]);
  assert.deepStrictEqual([outgoing.deadline, outgoing.isRequest, outgoing.seq, outgoing.held, outgoing.settled], [Infinity, false, 0, false, false]);
  assert.equal(outgoing.awaitingAcceptance, true);
});

test("a publisher's promise resolves once a receiver holds the message", async () => {
  const { outgoing, accepted } = Outgoing.publish("svc", 1, body, undefined, undefined);
  assert.equal(await stateOf(accepted), "pending");
  outgoing.markHeld();
  assert.equal(outgoing.held, true);
  assert.equal(outgoing.awaitingAcceptance, false);
  assert.equal(await stateOf(accepted), "resolved");
});

test("the publishing handler's message becomes safe when its published message is held", () => {
  const { parent, told } = custodian();
  const { outgoing } = Outgoing.publish("svc", 1, body, undefined, parent);
  assert.equal(told(), 0);
  outgoing.markHeld();
  assert.equal(parent.unsafe, 0);
  assert.equal(told(), 1);
});

test("the custodian hears exactly once when a held message is later refused", async () => {
  const { parent, told } = custodian();
  const { outgoing, accepted } = Outgoing.publish("svc", 1, body, undefined, parent);
  outgoing.markHeld();
  outgoing.refuse(refused);
  outgoing.markHeld();
  assert.equal(parent.unsafe, 0);
  assert.equal(told(), 1);
  assert.equal(await stateOf(accepted), "resolved", "the publisher keeps its success");
  assert.equal(outgoing.settled, true);
});

test("the custodian hears exactly once when a refused message is later marked held", () => {
  const { parent, told } = custodian();
  const { outgoing, accepted } = Outgoing.publish("svc", 1, body, undefined, parent);
  accepted.catch(() => {});
  outgoing.refuse(refused);
  outgoing.markHeld();
  outgoing.refuse(refused);
  assert.equal(parent.unsafe, 0);
  assert.equal(told(), 1);
});

test("a refusal rejects the waiting publisher with that error and settles the message", async () => {
  const { outgoing, accepted } = Outgoing.publish("svc", 1, body, undefined, undefined);
  outgoing.refuse(refused);
  await assert.rejects(accepted, (error) => error === refused);
  assert.equal(outgoing.settled, true);
  assert.equal(outgoing.awaitingAcceptance, false);
});

test("a request is fixed at construction with its deadline and waits for its reply", async () => {
  const { outgoing, reply } = Outgoing.request("svc", "q", body, undefined, 5_000);
  assert.deepStrictEqual([outgoing.deadline, outgoing.isRequest, outgoing.awaitingAcceptance], [5_000, true, false]);
  outgoing.markHeld();
  assert.equal(outgoing.held, true);
  assert.equal(await stateOf(reply), "pending", "held is not answered");
});

test("a request's reply resolves once; a later error is dropped", async () => {
  const { outgoing, reply } = Outgoing.request("svc", "q", body, undefined, 5_000);
  outgoing.resolve({ answer: 42 });
  outgoing.reject(new KaffixError("TIMEOUT", "late"));
  outgoing.resolve("again");
  assert.equal(outgoing.settled, true);
  assert.deepStrictEqual(await reply, { answer: 42 });
});

test("a request's error rejects once; a later reply is dropped", async () => {
  const { outgoing, reply } = Outgoing.request("svc", "q", body, undefined, 5_000);
  const timeout = new KaffixError("TIMEOUT", "no reply");
  outgoing.reject(timeout);
  outgoing.resolve("late");
  outgoing.reject(new KaffixError("INTERNAL", "again"));
  assert.equal(outgoing.settled, true);
  await assert.rejects(reply, (error) => error === timeout);
});

test("a refused request rejects its caller with the refusal", async () => {
  const { outgoing, reply } = Outgoing.request("svc", "q", body, undefined, 5_000);
  outgoing.refuse(refused);
  await assert.rejects(reply, (error) => error === refused);
  assert.equal(outgoing.settled, true);
});

test("an answered request lets go of its message and body at once, while a publish keeps both until it is done", async () => {
  const body = new Uint8Array([1, 2, 3]);
  const { outgoing: request, reply } = Outgoing.request("svc", { big: "payload" }, body, undefined, Infinity);
  request.resolve("ok");
  assert.equal(await reply, "ok");
  assert.equal(request.message, undefined);
  assert.equal(request.body.length, 0);

  const { outgoing: published } = Outgoing.publish("svc", { big: "payload" }, body, undefined, undefined);
  published.markHeld();
  assert.deepEqual(published.message, { big: "payload" }, "a held publish may still be rerouted: it keeps its message");
  assert.equal(published.body, body);
});
