// The check that admits membership messages from the network: clean copies of good ones, nothing of bad ones.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MESSAGE_LIMITS, parseMembershipMessage, recordToGossip } from "./membership-messages.js";

const suspect = { type: "suspect", nodeId: "x", incarnation: 3, from: "y" };
const record = { nodeId: "x", address: "x:1", incarnation: 2, state: "dead", meta: { version: 0, data: {} } } as const;

describe("parseMembershipMessage", () => {
  it("admits each message shape, dropping unknown fields", () => {
    assert.deepEqual(parseMembershipMessage({ t: "ping", seq: 1, target: "a", gossip: [suspect], extra: 1 }), { t: "ping", seq: 1, target: "a", gossip: [suspect] });
    assert.deepEqual(parseMembershipMessage({ t: "ack", seq: 1 }), { t: "ack", seq: 1, gossip: [] });
    assert.deepEqual(parseMembershipMessage({ t: "nack", seq: 2 }), { t: "nack", seq: 2 });
    assert.deepEqual(parseMembershipMessage({ t: "ping-req", seq: 1, target: "a", address: "a:1" }), { t: "ping-req", seq: 1, target: "a", address: "a:1", gossip: [] });
    assert.deepEqual(parseMembershipMessage({ t: "push-pull", id: 1, reply: false, join: true, members: [record] }), { t: "push-pull", id: 1, reply: false, join: true, members: [record] });
  });

  it("admits a push-pull answer's observed IP only when it is an IP", () => {
    const reply = { t: "push-pull", id: 1, reply: true, join: false, members: [] };
    for (const ip of ["127.0.0.1", "::1", "fd00::abcd"]) assert.equal((parseMembershipMessage({ ...reply, observed: ip }) as { observed?: string }).observed, ip);
    assert.deepEqual(parseMembershipMessage(reply), reply);
    for (const observed of ["", "localhost", "10.0.0.1:80", "300.1.1.1", 7, null, "1".repeat(65)]) {
      assert.equal(parseMembershipMessage({ ...reply, observed }), undefined, String(observed));
    }
  });

  it("refuses wrong types, bad counts, malformed gossip and too many entries", () => {
    for (const bad of [
      null,
      [],
      "ping",
      { t: "pong", seq: 1 },
      { t: "ping", seq: -1, target: "a" },
      { t: "ping", seq: 1.5, target: "a" },
      { t: "ping", seq: 1, target: "" },
      { t: "ack", seq: 1, gossip: [{ type: "alive", nodeId: "a" }] },
      { t: "gossip", gossip: Array.from({ length: MESSAGE_LIMITS.gossipPerMessage + 1 }, () => suspect) },
      { t: "push-pull", id: 1, reply: "no", join: false, members: [] },
      { t: "push-pull", id: 1, reply: false, join: false, members: [{ ...record, state: "zombie" }] },
    ]) {
      assert.equal(parseMembershipMessage(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
    }
  });
});

describe("recordToGossip", () => {
  it("merges a peer's dead record as a suspicion the accused can still refute", () => {
    assert.deepEqual(recordToGossip(record, "peer"), { type: "suspect", nodeId: "x", incarnation: 2, from: "peer" });
    assert.equal(recordToGossip({ ...record, state: "left" }, "peer").type, "leave");
  });
});
