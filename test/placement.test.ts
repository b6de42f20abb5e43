// Placement in a running cluster: replicas trimmed, moved towards labels, dependencies and partners, replaced, and nothing lost meanwhile.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { App, Service, type Context } from "../src/index.js";
import { startTestCluster, type TestCluster } from "../src/testing/index.js";
import { FAST_MEMBERSHIP } from "../src/testing/fast-membership.js";
import type { PlacementView } from "../src/placement/placement-loop.js";

/** Fast rounds so that the tests settle in a few seconds. */
const FAST_PLACEMENT = { intervalMs: 100, minMoveIntervalMs: 300 };
const SETTLE_BOUND_MS = 20_000;

function view(app: App): PlacementView {
  const placement = app.placement();
  assert.ok(placement.enabled, "placement is on");
  return placement;
}

/** Where each service runs, as node indexes, read from the first node's gossip view. */
function running(cluster: TestCluster, from = 0): Record<string, number[]> {
  const ids = cluster.nodes.map((node) => node.nodeId);
  const out: Record<string, number[]> = {};
  for (const [service, nodes] of Object.entries(view(cluster.nodes[from]!).running)) {
    out[service] = nodes.map((id) => ids.indexOf(id)).sort();
  }
  return out;
}

/** Polls until `done` holds, failing with the last placement seen when it does not within the bound. */
async function until(cluster: TestCluster, what: string, done: (r: Record<string, number[]>) => boolean, from = 0): Promise<void> {
  const deadline = Date.now() + SETTLE_BOUND_MS;
  while (!done(running(cluster, from))) {
    if (Date.now() > deadline) assert.fail(`${what}: not reached; running = ${JSON.stringify(running(cluster, from))}`);
    await sleep(50);
  }
}

const processed = new Map<number, number>();

class Front extends Service<number> {
  async onMessage(n: number, ctx: Context): Promise<void> {
    await ctx.publish(Back, n);
  }
}

class Back extends Service<number> {
  onMessage(n: number): void {
    processed.set(n, (processed.get(n) ?? 0) + 1);
  }
}

class Reporting extends Service<number> {
  onMessage(): void {}
}

/** The node index whose `db` answers fast; the others pay 15 ms per call. */
let fastDbNode = "";

class Ledger extends Service<number> {
  async onMessage(_n: number, ctx: Context): Promise<void> {
    await ctx.dependency("db", () => sleep(ctx.node === fastDbNode ? 1 : 15));
  }
}

describe("placement in a running cluster", () => {
  test("every service starts everywhere, then idle services are trimmed to two replicas on different nodes", async () => {
    const cluster = await startTestCluster({
      nodes: 3,
      app: () => new App({ name: "trim" }).addService(Front).addService(Back).addService(Reporting),
      start: { placement: FAST_PLACEMENT },
    });
    try {
      const everywhere = (r: Record<string, number[]>) => ["Front", "Back", "Reporting"].every((id) => r[id]?.join() === "0,1,2");
      await until(cluster, "every service on every node at first", everywhere);
      await until(cluster, "two replicas each", (r) => Object.values(r).every((nodes) => nodes.length === 2));
      // And it stays there: steady load, no further moves.
      const settled = JSON.stringify(running(cluster));
      await sleep(1000);
      assert.equal(JSON.stringify(running(cluster)), settled);
      // /metrics says the same: two replicas each, and the nodes together stopped three replicas.
      const texts = await Promise.all(cluster.nodes.map(async (node) => (await node.metrics()).body));
      assert.match(texts[0]!, /kaffix_placement_replicas\{service="Front"[^}]*\} 2/);
      const stopped = texts.map((text) => Number(/kaffix_placement_changes_total\{outcome="stopped"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0));
      assert.equal(stopped.reduce((a, b) => a + b, 0), 3);
    } finally {
      await cluster.stop();
    }
  });

  test("a service near a label runs on the node started with it", async () => {
    const cluster = await startTestCluster({
      nodes: 3,
      app: () => new App({ name: "near" }).addService(Reporting, { near: "warehouse", minReplicas: 1, maxReplicas: 1 }),
      start: (i) => ({ placement: FAST_PLACEMENT, labels: i === 2 ? ["warehouse"] : [] }),
    });
    try {
      await until(cluster, "Reporting on node 2 only", (r) => JSON.stringify(r.Reporting) === "[2]");
    } finally {
      await cluster.stop();
    }
  });

  test("a service moves to the node where its measured dependency answers fastest", async () => {
    const cluster = await startTestCluster({
      nodes: 3,
      app: () => new App({ name: "dependency" }).addService(Ledger, { minReplicas: 1, maxReplicas: 1 }),
      start: { placement: FAST_PLACEMENT },
    });
    try {
      fastDbNode = cluster.nodes[1]!.nodeId;
      let n = 0;
      const load = setInterval(() => {
        for (const node of cluster.nodes) void node.publish(Ledger, n++).catch(() => {});
      }, 20);
      try {
        await until(cluster, "Ledger on node 1", (r) => JSON.stringify(r.Ledger) === "[1]");
      } finally {
        clearInterval(load);
      }
      const explained = view(cluster.nodes[0]!).services.Ledger!.nodes.find((score) => score.node === fastDbNode);
      assert.equal(explained?.chosen, true);
      assert.equal(explained?.dependencyLatency, "measured");
    } finally {
      await cluster.stop();
    }
  });

  test("nothing published is lost while replicas are trimmed and moved, and a departed node's replicas are replaced", async () => {
    processed.clear();
    const cluster = await startTestCluster({
      nodes: 4,
      app: () => new App({ name: "moves" }).addService(Front).addService(Back).addService(Reporting),
      start: { placement: FAST_PLACEMENT, membership: FAST_MEMBERSHIP },
    });
    let sent = 0;
    const failures: unknown[] = [];
    const publishing = (async () => {
      // Bounded: 6,000 messages over about 3 s, through the first three nodes (the fourth leaves).
      for (let round = 0; round < 300; round++) {
        const batch: Promise<void>[] = [];
        for (let i = 0; i < 20; i++) batch.push(cluster.nodes[i % 3]!.publish(Front, sent++).catch((error: unknown) => void failures.push(error)));
        await Promise.all(batch);
        await sleep(10);
      }
    })();
    try {
      await until(cluster, "two replicas each", (r) => Object.values(r).every((nodes) => nodes.length === 2));
      const leaving = cluster.nodes[3]!;
      const hadReplicas = Object.values(running(cluster)).some((nodes) => nodes.includes(3));
      await leaving.stop();
      if (hadReplicas) {
        await until(cluster, "replicas replaced", (r) => Object.values(r).every((nodes) => nodes.length === 2 && !nodes.includes(3)));
      }
      await publishing;
      assert.deepEqual(failures, []);
      await cluster.whenIdle();
      const missing = [];
      for (let n = 0; n < sent; n++) if (!processed.has(n)) missing.push(n);
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${sent} messages were never processed`);
    } finally {
      await publishing.catch(() => {});
      await cluster.stop();
    }
  });

  test("with placement off every service stays active on every node", async () => {
    const cluster = await startTestCluster({
      nodes: 3,
      app: () => new App({ name: "off" }).addService(Front).addService(Back),
      start: { placement: false },
    });
    try {
      await sleep(300);
      assert.deepEqual(cluster.app.placement(), { enabled: false, node: cluster.app.nodeId });
      for (const node of cluster.nodes) {
        assert.deepEqual(node.cluster().self.services.active.map((s) => s.id).sort(), ["Back", "Front"]);
      }
    } finally {
      await cluster.stop();
    }
  });
});
