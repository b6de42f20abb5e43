// Starts Kaffix nodes inside one test process so users can test their own services end to end.

import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { App } from "../app.js";
import type { StartOptions } from "../core/start-options.js";
import { KaffixError } from "../errors.js";

export interface TestClusterOptions {
  /** Builds one node's app; called once per node so nodes never share service instances. */
  app: () => App;
  /** Nodes to start, all in this process on 127.0.0.1, joined into one cluster. Default 1. */
  nodes?: number;
  /**
   * Extra start options for every node (port 0, no admin endpoint and silent logs are the defaults),
   * or a function of the node's index, e.g. to give each node its own `services`.
   */
  start?: StartOptions | ((index: number) => StartOptions);
  /** How long the nodes may take to see each other. Default 10 000 ms. */
  joinTimeoutMs?: number;
}

export interface TestCluster {
  readonly nodes: readonly App[];
  /** The first node, for the common one-node case. */
  readonly app: App;
  /** Resolves once no node has queued, in-flight or unacknowledged work. */
  whenIdle(): Promise<void>;
  /** Stops every node; safe to call twice. */
  stop(): Promise<void>;
}

const POLL_MS = 10;

export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const count = options.nodes ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new KaffixError("INVALID_ARGUMENT", `nodes must be an integer from 1 to 64, got ${count}`);
  }
  const token = randomBytes(32).toString("base64url");
  const nodes: App[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const app = options.app();
      nodes.push(app);
      const extra = typeof options.start === "function" ? options.start(i) : options.start;
      const peers = i === 0 ? [] : [`127.0.0.1:${nodes[0]!.port}`];
      await app.start({ port: 0, host: "127.0.0.1", logLevel: "silent", token, peers, ...extra });
    }
    if (count > 1) await joined(nodes, options.joinTimeoutMs ?? 10_000);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    nodes,
    app: nodes[0]!,
    whenIdle: () => whenIdle(nodes),
    stop: stopAll,
  };
}

/** Waits until every node sees every other one alive and linked, so the first message has somewhere to go. */
async function joined(nodes: readonly App[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = nodes.every((node) => {
      const view = node.cluster();
      const alive = view.members.filter((member) => member.state === "alive").length;
      return alive === nodes.length && view.peers.length === nodes.length - 1;
    });
    if (ready) return;
    if (Date.now() > deadline) throw new KaffixError("TIMEOUT", `the ${nodes.length} test nodes did not all see each other within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

/** Idle twice in a row with nothing held for peers: a message between nodes is in someone's outbox. */
async function whenIdle(nodes: readonly App[]): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    await Promise.all(nodes.map((node) => node.whenIdle()));
    const held = nodes.reduce((sum, node) => sum + (node.state === "running" ? node.cluster().self.delivery.outbox + node.cluster().self.delivery.parked : 0), 0);
    quiet = held === 0 ? quiet + 1 : 0;
    if (quiet < 2) await sleep(held === 0 ? 1 : POLL_MS);
  }
}
