// Nodes started together can form two clusters; their --peer seeds bring them together again.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { App, Service } from "../src/index.js";
import { FAST_MEMBERSHIP } from "../src/testing/fast-membership.js";

class Noop extends Service<number> {
  onMessage(): void {}
}

test("two clusters that formed apart merge through a seed that is not a member", async () => {
  const token = randomBytes(32).toString("base64url");
  const nodes: App[] = [];
  const start = async (peers: string[]) => {
    const app = new App({ name: "merge" }).addService(Noop);
    nodes.push(app);
    const membership = { ...FAST_MEMBERSHIP, reconnectIntervalMs: 300 };
    await app.start({ token, host: "127.0.0.1", port: 0, peers, logLevel: "silent", placement: false, membership });
    return app;
  };
  const at = (app: App) => `127.0.0.1:${app.port}`;
  try {
    const a = await start([]);
    const c = await start([]);
    await start([at(c)]); // d joins c: {c, d}
    // b lists both a and c but joins through one of them only: {a, b} and {c, d} until the seed helps.
    await start([at(a), at(c)]);
    const deadline = Date.now() + 15_000;
    const sizes = () => nodes.map((node) => node.cluster().members.filter((m) => m.state === "alive").length);
    while (!sizes().every((n) => n === 4)) {
      assert.ok(Date.now() < deadline, `every node sees all four alive; sizes now ${sizes().join(", ")}`);
      await sleep(50);
    }
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
