// The broadcast queue: bounded, each piece of news sent a limited number of times, newest news per node wins.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GossipMessage } from "./gossip-message.js";
import { GossipQueue, retransmitLimit } from "./gossip-queue.js";

const alive = (nodeId: string, incarnation = 1): GossipMessage => ({ type: "alive", nodeId, incarnation, address: `${nodeId}:1`, meta: { version: 0, data: {} } });

describe("GossipQueue", () => {
  it("hands each piece of news out `limit` times, then forgets it", () => {
    const queue = new GossipQueue(10);
    queue.push(alive("a"));
    for (let i = 0; i < 3; i++) assert.deepEqual(queue.take(1000, 3, 10).map((m) => m.nodeId), ["a"]);
    assert.deepEqual(queue.take(1000, 3, 10), []);
  });

  it("keeps only the newest news about a node", () => {
    const queue = new GossipQueue(10);
    queue.push(alive("a", 1));
    queue.push({ type: "suspect", nodeId: "a", incarnation: 1, from: "b" });
    assert.deepEqual(queue.take(1000, 3, 10).map((m) => m.type), ["suspect"]);
  });

  it("sends the least sent news first, within the byte budget and count", () => {
    const queue = new GossipQueue(10);
    queue.push(alive("a"));
    queue.take(1000, 5, 10);
    queue.push(alive("b"));
    queue.push(alive("c"));
    assert.deepEqual(queue.take(1000, 5, 2).map((m) => m.nodeId), ["c", "b"]);
    assert.deepEqual(queue.take(1, 5, 10), []);
  });

  it("drops the most sent news beyond its bound", () => {
    const queue = new GossipQueue(2);
    queue.push(alive("a"));
    queue.take(1000, 5, 10);
    queue.push(alive("b"));
    queue.push(alive("c"));
    assert.equal(queue.size, 2);
    assert.deepEqual(queue.take(1000, 5, 10).map((m) => m.nodeId).sort(), ["b", "c"]);
  });

  it("retransmits more in larger clusters, as memberlist does", () => {
    assert.equal(retransmitLimit(4, 5), 4);
    assert.equal(retransmitLimit(4, 50), 8);
    assert.equal(retransmitLimit(4, 1000), 16);
  });
});
