// Nodes of one app in one process over real TLS on 127.0.0.1: --peer links, relinks, and the hello's contract check.

import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { afterEach, test } from "node:test";
import { App, Service, type StartOptions } from "../src/index.js";

const TOKEN = "peer-links-test-token-0123456789abcdef";
const running: App[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.stop({ timeoutMs: 100 })));
});

class Orders extends Service<{ id: string }> {
  onMessage() {}
}

async function node(options: StartOptions = {}, build = () => new App({ name: "shop" }).addService(Orders)): Promise<App> {
  const app = build();
  running.push(app);
  await app.start({ token: TOKEN, host: "127.0.0.1", port: 0, logLevel: "silent", ...options });
  return app;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function eventually(check: () => boolean, what: string, boundMs = 10_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what} within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a node dials its --peer and both list each other with their services", async () => {
  const a = await node();
  const b = await node({ peers: [`127.0.0.1:${a.port}`] });
  await eventually(() => a.cluster().peers.length === 1 && b.cluster().peers.length === 1, "both linked");
  assert.deepEqual(b.cluster().peers[0], {
    id: a.nodeId,
    address: `127.0.0.1:${a.port}`,
    incarnation: b.cluster().peers[0]!.incarnation,
    outbound: true,
    services: ["Orders"],
    mismatched: [],
  });
  assert.equal(a.cluster().peers[0]!.outbound, false);
});

test("a node bound to 0.0.0.0 without --advertise advertises the address its seed sees it at", async () => {
  const a = await node({ host: "0.0.0.0" });
  const b = await node({ host: "0.0.0.0", peers: [`127.0.0.1:${a.port}`] });
  const expected = `127.0.0.1:${b.port}`;
  await eventually(() => b.cluster().self.address === expected, "b advertises what a sees");
  await eventually(() => a.cluster().members.find((m) => m.id === b.nodeId)?.address === expected, "a's view of b has the new address");
  assert.equal(b.cluster().members.find((m) => m.id === b.nodeId)?.address, expected);
});

test("a node given --advertise keeps it, whatever its seed sees", async () => {
  const a = await node({ host: "0.0.0.0" });
  const port = await freePort();
  const b = await node({ host: "0.0.0.0", port, advertise: `localhost:${port}`, peers: [`127.0.0.1:${a.port}`] });
  await eventually(() => a.cluster().members.some((m) => m.id === b.nodeId && m.state === "alive"), "a sees b");
  assert.equal(b.cluster().self.address, `localhost:${port}`);
  assert.equal(a.cluster().members.find((m) => m.id === b.nodeId)?.address, `localhost:${port}`);
});

test("a node restarted on the same address rejoins, and the others see the new node alive", async () => {
  const a = await node();
  const port = a.port;
  const b = await node({ peers: [`127.0.0.1:${port}`] });
  await eventually(() => b.cluster().peers.length === 1, "b linked to a");
  await a.stop();
  await eventually(() => b.cluster().members.find((m) => m.id === a.nodeId)?.state === "left", "b saw a leave");
  const again = await node({ port, peers: [`127.0.0.1:${b.port}`] });
  await eventually(() => b.cluster().members.find((m) => m.id === again.nodeId)?.state === "alive", "b sees the restarted node");
  assert.equal(b.cluster().peers[0]?.id, again.nodeId);
});

test("nodes that join through one seed all see the same members, with region and services", async () => {
  const seed = await node({ region: "eu-west" });
  const others = [await node({ peers: [`127.0.0.1:${seed.port}`], region: "us-east" }), await node({ peers: [`127.0.0.1:${seed.port}`] })];
  const all = [seed, ...others];
  const ids = all.map((app) => app.nodeId).sort();
  await eventually(() => all.every((app) => app.cluster().members.filter((m) => m.state === "alive").map((m) => m.id).join() === ids.join()), "everyone sees all three alive");
  const view = others[1]!.cluster().members.find((m) => m.id === seed.nodeId)!;
  assert.equal(view.region, "eu-west");
  assert.deepEqual(view.services, ["Orders"]);
  assert.ok(view.capacity !== undefined && view.capacity.cores >= 1 && view.capacity.weight === 1);
});

test("each node's load summary spreads through gossip: running services, arrival rate, queue depth", async () => {
  const seed = await node({ weight: 2 });
  const other = await node({ peers: [`127.0.0.1:${seed.port}`] });
  for (let i = 0; i < 50; i++) await seed.publish(Orders, { id: String(i) });
  // The summary refreshes every 5 s by default; a node's own view is read from the same gossiped state.
  await eventually(
    () => (other.cluster().members.find((m) => m.id === seed.nodeId)?.running.Orders?.arrivalPerSec ?? 0) > 0,
    "the other node sees the seed's arrival rate",
    15_000,
  );
  const view = other.cluster().members.find((m) => m.id === seed.nodeId)!;
  assert.equal(view.capacity?.weight, 2);
  assert.equal(view.running.Orders?.queued, 0);
  assert.ok(view.eventLoopLagMs !== undefined);
});

test("membership settings are configurable at start and checked", async () => {
  await assert.rejects(node({ membership: { bogus: 1 } as never }), /unknown membership option "bogus"/);
  await assert.rejects(node({ membership: { probeIntervalMs: 100, probeTimeoutMs: 200 } }), /probeTimeoutMs/);
  const a = await node({ membership: { probeIntervalMs: 200, probeTimeoutMs: 100 } });
  const b = await node({ peers: [`127.0.0.1:${a.port}`], membership: { probeIntervalMs: 200, probeTimeoutMs: 100 } });
  await eventually(() => b.cluster().members.filter((m) => m.state === "alive").length === 2, "b joined");
});

test("a peer given by host name is resolved through DNS", async () => {
  const a = await node();
  const b = await node({ peers: [`localhost:${a.port}`] });
  await eventually(() => b.cluster().members.filter((m) => m.state === "alive").length === 2, "b joined a through localhost");
});

test("a node refuses a peer of another app and never lists it", async () => {
  const a = await node();
  const lines: string[] = [];
  const { pino } = await import("pino");
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
  const other = await node({ peers: [`127.0.0.1:${a.port}`], logger }, () => new App({ name: "billing" }).addService(Orders));
  const messages = () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  await eventually(() => messages().some((msg) => msg.includes('"shop"') && msg.includes('"billing"')), "the dialer logged both app names");
  assert.deepEqual(a.cluster().peers, []);
  assert.deepEqual(other.cluster().peers, []);
});

test("a service whose contract differs on a peer is reported once by name, even across relinks", async () => {
  class OrdersV2 extends Service<{ id: string; total: number }> {
    static id = "Orders";
    static contract = "v2";
    onMessage() {}
  }
  const lines: string[] = [];
  const { pino } = await import("pino");
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
  const a = await node({ logger });
  const port = a.port;
  const b = await node({ peers: [`127.0.0.1:${port}`] }, () => new App({ name: "shop" }).addService(OrdersV2));
  await eventually(() => a.cluster().peers.length === 1, "linked");
  await b.stop();
  const c = await node({ peers: [`127.0.0.1:${port}`] }, () => new App({ name: "shop" }).addService(OrdersV2));
  await eventually(() => a.cluster().peers.some((peer) => peer.id === c.nodeId), "linked to the new node");
  const reports = lines.filter((line) => line.includes("service Orders has another contract"));
  assert.equal(reports.length, 1);
  assert.deepEqual(a.cluster().peers.map((peer) => peer.mismatched), [["Orders"]]);
});
