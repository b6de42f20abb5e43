// Runs test/fixtures/region-app.ts as real processes in three "regions" on 127.0.0.1, with a delay proxy on every
// path between regions and a database that answers fast only in one of them; reads back what the clients saw.
//
// How regions are made: a node dials the one address a peer advertises, so that address cannot be near for some
// dialers and far for others. Each node therefore gets, per node of another region, a delay proxy of its own
// region's (one proxy per source region and target node) and a `--dial advertised=proxy` map, which the fixture
// applies to its outgoing TLS dials; nodes of one region dial each other directly. Links are one per pair, so a
// link made through a proxy is delayed both ways, whichever side dialed.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PlacementView } from "../../src/placement/placement-loop.js";
import type { ClusterView } from "../../src/index.js";
import { DelayProxy } from "./delay-proxy.js";
import { freePorts } from "./free-ports.js";

const FIXTURE = "test/fixtures/region-app.ts";
const READY = /^region node ready node=(\w+) region=[\w.-]+ port=\d+ http=(\S+)$/;
const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
/** A cold `--import tsx` start on a loaded 2-core machine can take several seconds. */
const START_BOUND_MS = 30_000;

export interface RegionClusterOptions {
  /** Nodes per region, e.g. `{ r1: 2, r2: 2, r3: 1 }`; the first node of the first region is the seed. */
  readonly layout: Readonly<Record<string, number>>;
  /** The region whose nodes reach the database directly; the others go through a delay proxy. */
  readonly dbRegion: string;
  /** Added in each direction between regions (and to the database from elsewhere), ms. */
  readonly oneWayDelayMs: number;
  readonly placement: boolean;
  /** Requests per second each node's client sends to its own gateway. */
  readonly ratePerSec: number;
  readonly routing?: "cost" | "random";
  readonly intervalMs?: number;
  readonly minMoveIntervalMs?: number;
  readonly hysteresis?: number;
}

export interface RegionNode {
  /** "r1-1", "r2-2", …: region and ordinal. */
  readonly name: string;
  readonly region: string;
  readonly id: string;
  readonly port: number;
  readonly adminUrl: string;
  readonly process: NodeProcess;
}

/** A placement every node agreed on for a while, and the window (Date.now() times) it held. */
export interface Settled {
  readonly view: PlacementView;
  readonly fromMs: number;
  readonly toMs: number;
}

/** One request of a node's client: when it began, how long it took, and where each stage ran. */
export interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly code?: string;
  readonly client: string;
  readonly orders?: string;
  readonly pricing?: string;
  readonly inventory?: readonly string[];
  readonly ledger?: string;
}

export class RegionCluster {
  readonly dir: string;
  readonly nodes: readonly RegionNode[];
  /** Date.now() when the last node printed its ready line: every client was running from then on. */
  readyAt = 0;
  readonly #proxies: readonly DelayProxy[];
  readonly #database: Server;
  readonly #killed = new Set<string>();

  private constructor(dir: string, nodes: RegionNode[], proxies: DelayProxy[], database: Server) {
    this.dir = dir;
    this.nodes = nodes;
    this.#proxies = proxies;
    this.#database = database;
  }

  static async start(options: RegionClusterOptions): Promise<RegionCluster> {
    const dir = mkdtempSync(join(tmpdir(), "kaffix-regions-"));
    const token = randomBytes(32).toString("base64url");
    const slots = Object.entries(options.layout).flatMap(([region, count]) => Array.from({ length: count }, (_, i) => ({ name: `${region}-${i + 1}`, region })));
    const regions = Object.keys(options.layout);
    // Every port at once, proxies' included: a proxy bound to port 0 could take a port just found free for a node.
    const proxyCount = (regions.length - 1) * (slots.length + 1);
    const ports = await freePorts(2 * slots.length + proxyCount);
    const planned = slots.map((slot, i) => ({ ...slot, port: ports[i]!, http: ports[slots.length + i]! }));
    const proxyPorts = ports.slice(2 * slots.length);
    const proxies: DelayProxy[] = [];
    const database = await startDatabase();
    const nodes: RegionNode[] = [];
    const cluster = new RegionCluster(dir, nodes, proxies, database);
    try {
      const databaseAddress = `127.0.0.1:${(database.address() as AddressInfo).port}`;
      const databaseVia = new Map<string, string>();
      for (const region of regions) {
        if (region === options.dbRegion) databaseVia.set(region, databaseAddress);
        else databaseVia.set(region, await startProxy(proxies, databaseAddress, options.oneWayDelayMs, proxyPorts.pop()!));
      }
      // One proxy per (region, node of another region): a node dials peers of its own region directly, the rest through these.
      const dials = new Map<string, string[]>(regions.map((region) => [region, []]));
      for (const target of planned) {
        for (const region of regions) {
          if (region === target.region) continue;
          const via = await startProxy(proxies, `127.0.0.1:${target.port}`, options.oneWayDelayMs, proxyPorts.pop()!);
          dials.get(region)!.push("--dial", `127.0.0.1:${target.port}=${via}`);
        }
      }
      const seed = planned[0]!;
      const common = [`--token=${token}`, "--dir", dir, "--rate", String(options.ratePerSec), "--placement", options.placement ? "on" : "off"];
      common.push("--routing", options.routing ?? "cost", "--peer", `127.0.0.1:${seed.port}`);
      if (options.intervalMs !== undefined) common.push("--interval-ms", String(options.intervalMs));
      if (options.minMoveIntervalMs !== undefined) common.push("--min-move-ms", String(options.minMoveIntervalMs));
      if (options.hysteresis !== undefined) common.push("--hysteresis", String(options.hysteresis));
      const launch = async (slot: (typeof planned)[number]): Promise<RegionNode> => {
        const args = [FIXTURE, ...common, "--region", slot.region, "--port", String(slot.port), "--http", String(slot.http)];
        args.push("--db", databaseVia.get(slot.region)!, ...dials.get(slot.region)!);
        const spawned = new NodeProcess(args);
        const node = { ...slot, process: spawned, id: "", adminUrl: "" };
        nodes.push(node); // before it is ready, so that close() kills it whatever happens
        const [, id, adminUrl] = READY.exec(await spawned.line(READY, START_BOUND_MS))!;
        return Object.assign(node, { id: id!, adminUrl: adminUrl! });
      };
      await launch(seed);
      await Promise.all(planned.slice(1).map(launch));
      nodes.sort((a, b) => planned.findIndex((p) => p.name === a.name) - planned.findIndex((p) => p.name === b.name));
      cluster.readyAt = Date.now();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** The nodes not killed. */
  get live(): RegionNode[] {
    return this.nodes.filter((node) => !this.#killed.has(node.name));
  }

  node(name: string): RegionNode {
    const node = this.nodes.find((n) => n.name === name || n.id === name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  /** Node id → "r1-1" etc., for readable messages; unknown ids are returned as they are. */
  nameOf(id: string): string {
    return this.nodes.find((node) => node.id === id)?.name ?? id;
  }

  regionOf(id: string): string | undefined {
    return this.nodes.find((node) => node.id === id)?.region;
  }

  async placement(node: RegionNode): Promise<PlacementView> {
    const view = await getJson<PlacementView | { enabled: false }>(node, "/placement");
    if (!view.enabled) throw new Error(`placement is off on ${node.name}`);
    return view;
  }

  cluster(node: RegionNode): Promise<ClusterView> {
    return getJson<ClusterView>(node, "/cluster");
  }

  /** True when every live node sees every other live node alive. */
  async whole(): Promise<boolean> {
    const live = this.live;
    const views = await Promise.all(live.map((node) => this.cluster(node)));
    return views.every((view) => live.every((node) => view.members.some((m) => m.id === node.id && m.state === "alive")));
  }

  /**
   * Polls GET /placement on every live node once a second until all show the same running set, `shaped`
   * holds for it, and it stays so for `polls` polls in a row (moves may still be pending). Throws with
   * `describe(last view)` after `boundMs`.
   */
  async settled(shaped: (view: PlacementView) => boolean, polls: number, boundMs: number, describe: (view: PlacementView | undefined) => string): Promise<Settled> {
    const deadline = performance.now() + boundMs;
    let view: PlacementView | undefined;
    let streak = 0;
    let since = Date.now();
    let last = "";
    for (;;) {
      const views = await Promise.all(this.live.map((node) => this.placement(node)));
      view = views[0]!;
      const running = JSON.stringify(sortedRunning(view));
      const good = views.every((v) => JSON.stringify(sortedRunning(v)) === running) && shaped(view);
      if (!good || running !== last) {
        streak = good ? 1 : 0;
        since = Date.now();
        last = running;
      } else {
        streak++;
      }
      if (streak >= polls) return { view, fromMs: since, toMs: Date.now() };
      if (performance.now() > deadline) throw new Error(`placement did not settle within ${boundMs} ms; ${describe(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  /** Every request the clients logged that began at or after `fromMs` (Date.now() time) and before `toMs`. */
  samples(fromMs = 0, toMs = Infinity): Sample[] {
    const out: Sample[] = [];
    for (const file of readdirSync(this.dir).filter((name) => /^latency-\w+\.log$/.test(name))) {
      const client = file.slice("latency-".length, -".log".length);
      for (const line of readLines(join(this.dir, file))) {
        const [at, ms, outcome, ...rest] = line.split(" ");
        const sample = { at: Number(at), ms: Number(ms), client };
        if (sample.at < fromMs || sample.at >= toMs) continue;
        if (outcome !== "ok") {
          out.push({ ...sample, ok: false, code: rest[0]! });
          continue;
        }
        const [orders, pricing, inventory, ledger] = rest;
        out.push({ ...sample, ok: true, orders: orders!, pricing: pricing!, inventory: inventory!.split(","), ...(ledger === undefined ? {} : { ledger }) });
      }
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** How many times the ledger recorded each published id. */
  ledgerRecords(): Map<string, number> {
    const byId = new Map<string, number>();
    for (const file of readdirSync(this.dir).filter((name) => /^ledger-\w+\.log$/.test(name))) {
      for (const line of readLines(join(this.dir, file))) {
        const id = line.split(" ")[0]!;
        byId.set(id, (byId.get(id) ?? 0) + 1);
      }
    }
    return byId;
  }

  /** kill -9; resolves once the process is gone. */
  async kill(node: RegionNode): Promise<void> {
    this.#killed.add(node.name);
    await node.process.kill();
  }

  /** Kills every node, closes the proxies and the database, removes the directory. */
  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.process.kill()));
    await Promise.allSettled(this.#proxies.map((proxy) => proxy.close()));
    await closeDatabase(this.#database);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every node process still running, killed when this process exits however it exits (tests and the bench alike). */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** One node: a child process with its output kept, for waiting on a line and for error messages. */
export class NodeProcess {
  readonly #child: ChildProcess;
  readonly #exit: Promise<void>;
  #out = "";
  #err = "";

  constructor(args: readonly string[]) {
    const env = { ...process.env };
    delete env.KAFFIX_TOKEN;
    this.#child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    running.add(this.#child);
    this.#child.stdout!.setEncoding("utf8").on("data", (text: string) => (this.#out += text));
    this.#child.stderr!.setEncoding("utf8").on("data", (text: string) => (this.#err += text));
    this.#exit = new Promise((resolve) => this.#child.once("exit", () => resolve()));
    void this.#exit.then(() => running.delete(this.#child));
  }

  get output(): string {
    return `--- stdout ---\n${this.#out.slice(-4000)}\n--- stderr ---\n${this.#err.slice(-4000)}`;
  }

  get exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** The first stdout line matching `pattern`; rejects when the process exits first or the bound passes. */
  async line(pattern: RegExp, boundMs: number): Promise<string> {
    const deadline = performance.now() + boundMs;
    for (;;) {
      const found = this.#out.split("\n").find((line) => pattern.test(line));
      if (found !== undefined) return found;
      if (this.exited) throw new Error(`the node exited before printing ${pattern}\n${this.output}`);
      if (performance.now() > deadline) throw new Error(`no line matched ${pattern} within ${boundMs} ms\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** kill -9; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.exited) this.#child.kill("SIGKILL");
    await this.#exit;
  }
}

/** The p-th percentile (0–100) of `values`, nearest rank; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function sortedRunning(view: PlacementView): Record<string, string[]> {
  return Object.fromEntries(Object.entries(view.running).map(([service, nodes]) => [service, [...nodes].sort()]));
}

async function getJson<T>(node: RegionNode, path: string): Promise<T> {
  const response = await fetch(`${node.adminUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${path} on ${node.name}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

async function startProxy(proxies: DelayProxy[], target: string, delayMs: number, port: number): Promise<string> {
  const proxy = await DelayProxy.start({ target, delayMs, port });
  proxies.push(proxy);
  return proxy.address;
}

const databaseSockets = new WeakMap<Server, Set<Socket>>();

/** The "database": echoes each line back after about a millisecond of work. */
async function startDatabase(): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let rest = "";
    socket.setEncoding("utf8").on("data", (text: string) => {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) setTimeout(() => socket.destroyed || socket.write(`${line}\n`), 1);
    });
  });
  databaseSockets.set(server, sockets);
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  return server;
}

async function closeDatabase(server: Server): Promise<void> {
  for (const socket of databaseSockets.get(server) ?? []) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Complete lines only: a line being written as the file is read is left for the next read. */
function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((line) => line.length > 0);
}
