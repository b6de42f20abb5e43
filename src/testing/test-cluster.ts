// Starts Kaffix nodes inside one test process so users can test their own services end to end.

import type { App } from "../app.js";
import type { StartOptions } from "../core/start-options.js";
import { KaffixError } from "../errors.js";

export interface TestClusterOptions {
  /** Builds one node's app; called once per node so nodes never share service instances. */
  app: () => App;
  /** Nodes to start. Only 1 until membership and cross-node messaging land. Default 1. */
  nodes?: number;
  /** Extra start options for every node (port 0, no admin endpoint and silent logs are the defaults). */
  start?: StartOptions;
}

export interface TestCluster {
  readonly nodes: readonly App[];
  /** The first node, for the common one-node case. */
  readonly app: App;
  /** Resolves once no node has queued or in-flight work. */
  whenIdle(): Promise<void>;
  /** Stops every node; safe to call twice. */
  stop(): Promise<void>;
}

export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const count = options.nodes ?? 1;
  if (!Number.isInteger(count) || count < 1) {
    throw new KaffixError("INVALID_ARGUMENT", `nodes must be a positive integer, got ${count}`);
  }
  if (count > 1) {
    throw new KaffixError(
      "INVALID_ARGUMENT",
      "a test cluster has one node until membership and cross-node messaging exist; start one node per test for now",
    );
  }
  const nodes: App[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const app = options.app();
      nodes.push(app);
      await app.start({ port: 0, host: "127.0.0.1", logLevel: "silent", ...options.start });
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    nodes,
    app: nodes[0]!,
    whenIdle: async () => {
      await Promise.all(nodes.map((node) => node.whenIdle()));
    },
    stop: stopAll,
  };
}
