// Two real nodes of the example app on 127.0.0.1: they link with the same token and refuse each other without it.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { run, type Spawned } from "./support/processes.js";

const MAIN = "examples/double-number/main.ts";
const token = () => randomBytes(32).toString("base64url");

async function startNode(args: readonly string[]): Promise<{ node: Spawned; port: number; admin: string }> {
  const node = run([MAIN, "--host", "127.0.0.1", "--port", "0", "--http", "0", ...args]);
  const port = Number((await node.line(/^Running Double Number on port \d+$/)).split(" ").at(-1));
  const admin = (await node.line(/^Admin endpoint: /)).slice("Admin endpoint: ".length);
  return { node, port, admin };
}

async function peersOf(admin: string): Promise<{ id: string; address: string }[]> {
  const response = await fetch(`${admin}/cluster`, { signal: AbortSignal.timeout(5_000) });
  return ((await response.json()) as { peers: { id: string; address: string }[] }).peers;
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, boundMs = 15_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`condition not met within ${boundMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("two nodes", () => {
  test("with the same token they link and each lists the other as a peer", async () => {
    const shared = token();
    const a = await startNode([`--token=${shared}`]);
    const b = await startNode([`--token=${shared}`, "--peer", `127.0.0.1:${a.port}`]);
    try {
      const seenByA = await eventually(() => peersOf(a.admin), (peers) => peers.length === 1);
      const seenByB = await eventually(() => peersOf(b.admin), (peers) => peers.length === 1);
      assert.equal(seenByB[0]!.address, `127.0.0.1:${a.port}`);
      assert.equal(seenByA[0]!.address, `127.0.0.1:${b.port}`);
    } finally {
      b.node.child.kill("SIGTERM");
      a.node.child.kill("SIGTERM");
      assert.equal(await b.node.exited(), 0);
      assert.equal(await a.node.exited(), 0);
    }
  });

  test("with different tokens they never link, and both log why", async () => {
    const a = await startNode([`--token=${token()}`]);
    const b = await startNode([`--token=${token()}`, "--peer", `127.0.0.1:${a.port}`]);
    try {
      await eventually(async () => a.node.stdout() + a.node.stderr(), (log) => /PSK|token/i.test(log));
      await eventually(async () => b.node.stdout() + b.node.stderr(), (log) => /could not join the cluster/.test(log));
      assert.deepEqual(await peersOf(a.admin), []);
      assert.deepEqual(await peersOf(b.admin), []);
    } finally {
      b.node.child.kill("SIGTERM");
      a.node.child.kill("SIGTERM");
      await Promise.all([a.node.exited(), b.node.exited()]);
    }
  });
});
