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

test("a test cluster refuses more than one node until cross-node messaging exists", async () => {
  await assert.rejects(startTestCluster({ app: build, nodes: 2 }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
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
