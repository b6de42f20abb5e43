// Runs the upgrade fixture as a cluster of real processes on 127.0.0.1 with a fixed address per slot, as a
// StatefulSet or a set of servers would: every node is given every slot's address as --peer, and a node replaced
// in a slot comes back at the same address with a new node id and, typically, a new build.

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts } from "./free-ports.js";
import { run, type Spawned } from "./processes.js";

const FIXTURE = "test/fixtures/upgrade-app.ts";
const RUNNING = /^Running Upgrade on port \d+$/;
const ADMIN = /^Admin endpoint: /;

export interface UpgradeNode {
  readonly slot: number;
  readonly build: string;
  readonly id: string;
  readonly process: Spawned;
}

interface Member {
  id: string;
  state: string;
}

/** What the sinks recorded: how many times each id was processed, and how many records each build wrote. */
export interface SinkRecords {
  readonly byId: Map<string, number>;
  readonly byBuild: Map<string, number>;
  readonly total: number;
}

export class UpgradeCluster {
  readonly dir: string;
  /** The admin endpoint of each slot; fixed, so a client may keep the list while nodes are replaced. */
  readonly adminUrls: readonly string[];
  readonly #token: string;
  readonly #clusterPorts: readonly number[];
  readonly #adminPorts: readonly number[];
  /** The node now in each slot; undefined while the slot is empty. */
  readonly #nodes: (UpgradeNode | undefined)[];
  readonly #lives: UpgradeNode[] = [];

  private constructor(dir: string, clusterPorts: number[], adminPorts: number[]) {
    this.dir = dir;
    this.#token = randomBytes(32).toString("base64url");
    this.#clusterPorts = clusterPorts;
    this.#adminPorts = adminPorts;
    this.adminUrls = adminPorts.map((port) => `http://127.0.0.1:${port}`);
    this.#nodes = clusterPorts.map(() => undefined);
  }

  /** Starts slot 0 first (the others' join succeeds at once through it), then the rest together. */
  static async start(size: number, build: string): Promise<UpgradeCluster> {
    const ports = await freePorts(2 * size);
    const cluster = new UpgradeCluster(mkdtempSync(join(tmpdir(), "kaffix-upgrade-")), ports.slice(0, size), ports.slice(size));
    try {
      await cluster.startSlot(0, build);
      await Promise.all(Array.from({ length: size - 1 }, (_, i) => cluster.startSlot(i + 1, build)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  node(slot: number): UpgradeNode {
    const node = this.#nodes[slot];
    if (node === undefined) throw new Error(`slot ${slot} is empty`);
    return node;
  }

  /** Starts `build` in an empty slot through the real command line; resolves once it serves its admin endpoint. */
  async startSlot(slot: number, build: string): Promise<UpgradeNode> {
    if (this.#nodes[slot] !== undefined) throw new Error(`slot ${slot} is taken`);
    const peers = this.#clusterPorts.flatMap((port) => ["--peer", `127.0.0.1:${port}`]);
    const args = ["--host", "127.0.0.1", "--port", String(this.#clusterPorts[slot]), "--http", String(this.#adminPorts[slot]), ...peers];
    // The token comes from the environment, as a Kubernetes Secret or a systemd EnvironmentFile would give it.
    const spawned = run([FIXTURE, ...args, "--log-level", "warn"], { KAFFIX_TOKEN: this.#token, UPGRADE_DIR: this.dir, UPGRADE_BUILD: build });
    await spawned.line(RUNNING);
    await spawned.line(ADMIN);
    const health = (await getJson(`${this.adminUrls[slot]}/health`)) as { node: string; version: string };
    if (health.version !== build) throw new Error(`slot ${slot} reports version ${health.version}, expected ${build}`);
    const node: UpgradeNode = { slot, build, id: health.node, process: spawned };
    this.#nodes[slot] = node;
    this.#lives.push(node);
    return node;
  }

  /** SIGTERM to the node in `slot`, as systemd and the kubelet send it; resolves with its exit code once it is gone. */
  async stopSlot(slot: number): Promise<number | null> {
    const node = this.node(slot);
    node.process.child.kill("SIGTERM");
    const code = await node.process.exited();
    this.#nodes[slot] = undefined;
    return code;
  }

  /**
   * Waits until every current node lists every other current node as alive: the cluster is whole again, which is
   * what a rolling upgrade waits for before it replaces the next node.
   */
  async whole(boundMs: number): Promise<void> {
    const current = this.#nodes.filter((node): node is UpgradeNode => node !== undefined);
    const ids = current.map((node) => node.id);
    const deadline = performance.now() + boundMs;
    let last = "";
    for (;;) {
      const views = await Promise.all(current.map((node) => getJson(`${this.adminUrls[node.slot]}/cluster`).catch(() => undefined)));
      const complete = views.every((view) => {
        const alive = new Set(((view as { members?: Member[] } | undefined)?.members ?? []).filter((m) => m.state === "alive").map((m) => m.id));
        return ids.every((id) => alive.has(id));
      });
      if (complete) return;
      last = JSON.stringify(views.map((view) => (view as { members?: Member[] } | undefined)?.members?.map((m) => `${m.id}=${m.state}`)));
      if (performance.now() > deadline) throw new Error(`the cluster was not whole within ${boundMs} ms: want ${ids.join(", ")}; views ${last}`);
      await sleep(100);
    }
  }

  /** Every node ever started, in order. */
  lives(): readonly UpgradeNode[] {
    return this.#lives;
  }

  sinks(): SinkRecords {
    const byId = new Map<string, number>();
    const byBuild = new Map<string, number>();
    let total = 0;
    for (const file of readdirSync(this.dir).filter((name) => /^sink-\w+\.log$/.test(name))) {
      for (const line of readLines(join(this.dir, file))) {
        const [id, build] = line.split(" ");
        byId.set(id!, (byId.get(id!) ?? 0) + 1);
        byBuild.set(build!, (byBuild.get(build!) ?? 0) + 1);
        total++;
      }
    }
    return { byId, byBuild, total };
  }

  /** Kills whatever is still running and removes the directory. */
  async close(): Promise<void> {
    for (const node of this.#lives) node.process.child.kill("SIGKILL");
    await Promise.allSettled(this.#lives.map((node) => node.process.exited()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Complete lines only: a line being written as the file is read is left for the next read. */
function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((line) => line.length > 0);
}
