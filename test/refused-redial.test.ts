// A node killed with SIGKILL refuses the sender's redial: its messages are rerouted at once, not when the failure detector declares it dead.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { App } from "../src/index.js";
import { Probe, Sink, SINK_APP } from "./fixtures/sink-services.js";
import { run } from "./support/processes.js";

test("messages held by a killed node are rerouted before the node is declared dead, and none is lost", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kaffix-refused-"));
  const file = join(dir, "killed.txt");
  const token = randomBytes(32).toString("base64url");
  const here = new Set<number>();
  Sink.record = (id) => here.add(id);
  // Default membership: a kill -9 takes the failure detector 5–8 s to confirm.
  const start = (services: string[], peers: string[]) => {
    const app = new App({ name: SINK_APP }).addService(Sink).addService(Probe);
    return app.start({ token, host: "127.0.0.1", port: 0, peers, services, placement: false, logLevel: "silent" }).then(() => app);
  };
  const driver = await start(["Probe"], []);
  const survivor = await start(["Sink"], [`127.0.0.1:${driver.port}`]).catch(async (error: unknown) => {
    await driver.stop();
    throw error;
  });
  const victim = run(["test/fixtures/sink-node.ts", `--token=${token}`, `--peer=127.0.0.1:${driver.port}`, `--file=${file}`]);
  try {
    const victimId = /node=(\w+)/.exec(await victim.line(/^sink ready/))![1]!;
    const serving = () => driver.cluster().members.filter((m) => m.state === "alive" && m.running.Sink !== undefined).length;
    for (let waited = 0; serving() < 2 || driver.cluster().peers.length < 2; waited += 20) {
      assert.ok(waited < 15_000, "the driver sees both sinks");
      await sleep(20);
    }
    const sent: Promise<void>[] = [];
    const COUNT = 4000;
    for (let id = 0; id < COUNT; id++) {
      sent.push(driver.publish(Sink, { id }));
      if (id === COUNT / 2) victim.child.kill("SIGKILL");
      if (id % 200 === 199) await sleep(5);
    }
    await Promise.all(sent);
    const recorded = () => {
      const there = new Set(readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map(Number));
      return Array.from({ length: COUNT }, (_, id) => id).filter((id) => !here.has(id) && !there.has(id));
    };
    for (let waited = 0; recorded().length > 0; waited += 20) {
      assert.ok(waited < 20_000, `${recorded().length} messages never processed`);
      await sleep(20);
    }
    const view = driver.cluster().members.find((m) => m.id === victimId);
    assert.ok(view?.state === "alive" || view?.state === "suspect", `every message was processed while the killed node was still ${view?.state}, not yet declared dead`);
  } finally {
    victim.child.kill("SIGKILL");
    await Promise.all([survivor.stop({ timeoutMs: 2000 }), driver.stop({ timeoutMs: 2000 })]);
    rmSync(dir, { recursive: true, force: true });
  }
});
