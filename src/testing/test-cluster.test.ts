import assert from "node:assert/strict";
import { test } from "node:test";
import { App, KaffixError, Service, type Context } from "../index.js";
import { ManualClock, startTestCluster } from "./index.js";

class Store extends Service<{ value: string }> {
  static values: string[] = [];
  onMessage(message: { value: string }) {
    Store.values.push(message.value);
  }
}
class Upper extends Service<{ value: string }, string> {
  onMessage(message: { value: string }, ctx: Context) {
    const value = message.value.toUpperCase();
    ctx.publish(Store, { value });
    return value;
  }
}
const build = () => new App({ name: "harness" }).addService(Upper).addService(Store);

test("a test cluster runs a user's services and waits until their work is done", async () => {
  Store.values = [];
  const cluster = await startTestCluster({ app: build });
  try {
    assert.equal(await cluster.app.request(Upper, { value: "hi" }), "HI");
    await cluster.app.publish(Upper, { value: "there" });
    await cluster.whenIdle();
    assert.deepEqual(Store.values, ["HI", "THERE"]);
  } finally {
    await cluster.stop();
  }
  assert.equal(cluster.app.state, "stopped");
});

test("a test cluster of three nodes carries requests and publishes between nodes", async () => {
  Store.values = [];
  // Upper runs only on the first node, Store only on the last: every message crosses a node.
  const services = [["Upper"], ["Upper", "Store"], ["Store"]];
  const cluster = await startTestCluster({ app: build, nodes: 3, start: (index) => ({ services: services[index] }) });
  try {
    assert.equal(await cluster.nodes[2]!.request(Upper, { value: "far" }), "FAR");
    await cluster.nodes[2]!.publish(Upper, { value: "away" });
    await cluster.whenIdle();
    assert.deepEqual(Store.values.sort(), ["AWAY", "FAR"]);
    const sent = cluster.nodes.map((node) => node.cluster().self.delivery.sent);
    assert.ok(sent[2]! >= 2, `node 2 sent its request and publish to node 0 or 1, stats: ${sent}`);
  } finally {
    await cluster.stop();
  }
});

test("a test cluster refuses a node count it cannot start", async () => {
  await assert.rejects(startTestCluster({ app: build, nodes: 0 }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
  await assert.rejects(startTestCluster({ app: build, nodes: 1.5 }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
});

test("the manual clock fires timers in time order and only when advanced", async () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b"), 20);
  clock.setTimeout(() => fired.push("a"), 10);
  const cancelled = clock.setTimeout(() => fired.push("never"), 15);
  clock.clearTimeout(cancelled);
  await clock.advance(9);
  assert.deepEqual(fired, []);
  await clock.advance(11);
  assert.deepEqual(fired, ["a", "b"]);
  assert.equal(clock.now(), 20);
  assert.equal(clock.pendingTimers, 0);
});
