// Delivery at its edges, on real links in one process: messages too big for a peer, long requests, a
// target that dies before it holds a message, and a stop with messages still in flight.

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { App, KaffixError, Service } from "../index.js";
import { startTestCluster } from "../testing/index.js";
import { DeliverySimulation } from "./delivery-simulation.test-support.js";

class Small extends Service<{ data: string }> {
  static id = "Small";
  onMessage() {}
}
class BigReply extends Service<unknown, string> {
  static id = "BigReply";
  onMessage() {
    return "x".repeat(100_000);
  }
}
class Slow extends Service<{ n: number }, number> {
  static id = "Slow";
  static runs = 0;
  async onMessage(message: { n: number }) {
    Slow.runs++;
    await sleep(1500);
    return message.n;
  }
}
class Jam extends Service<{ n: number }> {
  static id = "Jam";
  async onMessage() {
    await sleep(1000);
  }
}
class Driver extends Service<unknown> {
  static id = "Driver";
  onMessage() {}
}
const build = () => new App({ name: "edges" }).addService(Small).addService(BigReply).addService(Slow).addService(Driver);
/** Node 0 runs only Driver; node 1 runs the rest and accepts frames of at most 64 KiB. */
const split = (index: number) => (index === 0 ? { services: ["Driver"] } : { services: ["Small", "BigReply", "Slow"], maxFrameBytes: 65_536 });

const code = (promise: Promise<unknown>) => promise.then(() => "ok", (error: unknown) => (error instanceof KaffixError ? error.code : "UNTYPED"));

test("a message over the receiver's frame limit fails at once with INVALID_ARGUMENT, and a reply over it comes back as one", async () => {
  const cluster = await startTestCluster({ app: build, nodes: 2, start: split });
  try {
    const [a] = cluster.nodes as [App, App];
    assert.equal(await code(a.publish(Small, { data: "x".repeat(100_000) })), "INVALID_ARGUMENT");
    assert.equal(await code(a.request(BigReply, {}, { timeoutMs: 5000 })), "INVALID_ARGUMENT");
    assert.equal(await code(a.publish(Small, { data: "fits" })), "ok");
    await cluster.whenIdle();
    assert.equal(a.cluster().self.delivery.outbox, 0, "nothing is left in the outbox");
  } finally {
    await cluster.stop();
  }
});

test("a request that runs for a while is neither resent nor run twice", async () => {
  Slow.runs = 0;
  const cluster = await startTestCluster({ app: build, nodes: 2, start: split });
  try {
    const [a, b] = cluster.nodes as [App, App];
    assert.equal(await a.request(Slow, { n: 7 }, { timeoutMs: 5000 }), 7);
    assert.equal(Slow.runs, 1);
    assert.equal(b.cluster().self.delivery.duplicates, 0);
  } finally {
    await cluster.stop();
  }
});

test("a publish whose only target dies before holding it fails with SERVICE_UNAVAILABLE after its timeout", async () => {
  const sim = await DeliverySimulation.start({ seed: 3, workers: 1 });
  try {
    let outcome = "pending";
    sim.driver.runtime.publish("Echo", { id: "m1" }, { timeoutMs: 1000 }).then(
      () => (outcome = "resolved"),
      (error: unknown) => (outcome = error instanceof KaffixError ? error.code : "UNTYPED"),
    );
    sim.kill(sim.worker(0).id);
    await sim.run(15_000);
    assert.equal(outcome, "SERVICE_UNAVAILABLE");
    assert.equal(sim.driver.messaging.stats.parked, 0);
  } finally {
    sim.stopAll();
  }
});

test("a node that stops with a publish not yet held by its receiver rejects it with STOPPING instead of leaving it pending", async () => {
  const jammed = (index: number) => (index === 0 ? { services: ["Driver"] } : { services: ["Jam"] });
  const cluster = await startTestCluster({ app: () => build().addService(Jam, { concurrency: 1, queueLimit: 2 }), nodes: 2, start: jammed });
  const [a] = cluster.nodes as [App, App];
  try {
    // One runs, two wait in the queue, the fourth waits for room there: node 1 does not hold it yet.
    const outcomes = [1, 2, 3, 4].map((n) => code(a.publish(Jam, { n })));
    assert.deepEqual(await Promise.all(outcomes.slice(0, 3)), ["ok", "ok", "ok"]);
    assert.equal(a.cluster().self.delivery.parked, 0, "the fourth is in the outbox, not parked");
    await a.stop({ timeoutMs: 100 });
    assert.equal(await outcomes[3], "STOPPING");
  } finally {
    await cluster.stop();
  }
});
