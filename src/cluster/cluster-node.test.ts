import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { ManualClock } from "../testing/manual-clock.js";
import { ClusterNode } from "./cluster-node.js";

const TOKEN = "cluster-node-test-token-0123456789abcdef";

async function start(nodeId: string, services: Record<string, string>, peers: string[] = []): Promise<ClusterNode> {
  return ClusterNode.start({
    app: "shop",
    nodeId,
    incarnation: 1,
    services,
    runnable: Object.keys(services),
    region: "default",
    weight: 1,
    load: () => [],
    advertise: undefined,
    tokens: [TOKEN],
    host: "127.0.0.1",
    port: 0,
    peers,
    maxFrameBytes: 1024 * 1024,
    logger: pino({ level: "silent" }),
    clock: new ManualClock(),
    random: () => 0.5,
  });
}

test("only peers that run a service under the same contract are offered for it", async () => {
  const a = await start("a", { orders: "v1", mail: "m1" });
  const b = await start("b", { orders: "v2", mail: "m1" }, [`127.0.0.1:${a.port}`]);
  const c = await start("c", { orders: "v1" }, [`127.0.0.1:${a.port}`]);
  try {
    const deadline = Date.now() + 5000;
    while (a.peers().length < 2) {
      assert.ok(Date.now() < deadline, "a links to b and c");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(a.linksServing("orders").map((link) => link.remote.nodeId), ["c"]);
    assert.deepEqual(a.linksServing("mail").map((link) => link.remote.nodeId), ["b"]);
    assert.deepEqual(a.linksServing("toString"), []);
    assert.deepEqual(a.peers().find((peer) => peer.id === "b")?.mismatched, ["orders"]);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});
