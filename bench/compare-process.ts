// The bench process's handle on one node of bench/compare.ts: a child running bench/compare-peer.ts, with bounded waits.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { NodeConfig, Serializer, SystemId } from "./compare-nodes.js";
import { NODE_ENV, RECEIPTS_ENV } from "./compare-peer.js";
import { endChild } from "./harness.js";
import { within } from "./transport-peer.js";

const PEER_FILE = fileURLToPath(new URL("./compare-peer.ts", import.meta.url));
/** How long a node may take to stop once its stdin closed, before SIGKILL. */
const STOP_KILL_MS = 5000;

/** Every child still running: killed when the bench process exits, however it exits. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

type Line = Record<string, unknown>;

export class NodeProcess {
  readonly config: NodeConfig;
  /** performance.now() when the process was spawned. */
  readonly spawnedAt: number;
  /** Rejects when the child exits; every wait races against it. */
  readonly exited: Promise<never>;
  readonly #child: ChildProcess;
  readonly #timeoutMs: number;
  readonly #lines = new Map<string, Line[]>();
  #wake: (() => void)[] = [];
  #port = 0;

  /** `timeoutMs` bounds each wait for one of its lines; `receiptsPath`, for a receiver, logs every Sink number it handles. */
  constructor(config: NodeConfig, timeoutMs: number, receiptsPath?: string) {
    this.config = config;
    this.#timeoutMs = timeoutMs;
    const execArgv = process.execArgv.some((arg) => arg.includes("tsx")) ? process.execArgv : ["--import", "tsx", ...process.execArgv];
    this.spawnedAt = performance.now();
    this.#child = spawn(process.execPath, [...execArgv, PEER_FILE, config.name], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, [NODE_ENV]: JSON.stringify(config), [RECEIPTS_ENV]: receiptsPath ?? "" },
    });
    running.add(this.#child);
    this.exited = new Promise<never>((_, reject) => {
      this.#child.once("exit", (code, signal) => {
        running.delete(this.#child);
        reject(new Error(`${this.label} exited (code ${code}, signal ${signal})`));
      });
      this.#child.once("error", reject);
    });
    this.exited.catch(() => {});
    this.#child.stdin!.on("error", () => {}); // writing to a node that just died: its exit is what reports it
    createInterface({ input: this.#child.stdout! }).on("line", (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        console.error(`${this.label} said: ${text}`); // not one of ours: show it, never act on it
        return;
      }
      const type = String(line.type);
      if (type === "started") this.#port = Number(line.port);
      this.#lines.set(type, [...(this.#lines.get(type) ?? []), line]);
      const wake = this.#wake;
      this.#wake = [];
      for (const resolve of wake) resolve();
    });
  }

  get label(): string {
    return `${this.config.system} ${this.config.part} ${this.config.name}`;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** The port peers reach the node on, once it said "started". */
  get port(): number {
    return this.#port;
  }

  get hasExited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** The next line of `type`, whether it came before this call or comes within the bound; an `error` line rejects. */
  async next<T = Line>(type: string, timeoutMs = this.#timeoutMs): Promise<T> {
    for (;;) {
      const error = this.#lines.get("error")?.shift();
      if (error !== undefined) throw new Error(`${this.label}: ${String(error.command)}: ${String(error.message)}`);
      const queued = this.#lines.get(type);
      if (queued !== undefined && queued.length > 0) return queued.shift() as T;
      const line = new Promise<void>((resolve) => this.#wake.push(resolve));
      await within(line, timeoutMs, `waiting for ${this.label}'s "${type}" line`, this.exited);
    }
  }

  send(command: string): void {
    this.#child.stdin!.write(`${command}\n`);
  }

  /** Sends `command` and waits for its answer of `type`. */
  ask<T = Line>(command: string, type: string, timeoutMs = this.#timeoutMs): Promise<T> {
    this.send(command);
    return this.next<T>(type, timeoutMs);
  }

  async gc(): Promise<void> {
    await this.ask("gc", "gc");
  }

  /** Peak and current resident set size, in MiB. */
  async rss(): Promise<{ peakMiB: number; nowMiB: number }> {
    const { maxRssKiB, rssKiB } = await this.ask<{ maxRssKiB: number; rssKiB: number }>("rss", "rss");
    return { peakMiB: Math.round(maxRssKiB / 102.4) / 10, nowMiB: Math.round(rssKiB / 102.4) / 10 };
  }

  /** Closes its stdin (it stops its node and exits), then kills it if it lingers. */
  stop(): Promise<void> {
    return endChild(this.#child, STOP_KILL_MS);
  }
}

/** `count` distinct TCP ports free on 127.0.0.1 a moment ago, for Moleculer nodes whose static urls must name them in advance. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once("error", reject);
            server.listen({ host: "127.0.0.1", port: 0 }, () => resolve((server.address() as AddressInfo).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

/** Stops every given node at once. */
export async function stopAll(nodes: readonly (NodeProcess | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((node) => node?.stop()));
}

/**
 * A sender and `receivers` receivers of `system`, started, linked, and past a first round trip. Kaffix
 * receivers join the sender; every Moleculer node gets the same static urls, every node's included.
 * With `receiptsDir`, receiver i logs the Sink numbers it handles to `<receiptsDir>/<i>.u32`.
 */
export async function startCluster(system: SystemId, serializer: Serializer, token: string, receivers: number, tag: string, timeoutMs: number, receiptsDir?: string): Promise<NodeProcess[]> {
  const names = Array.from({ length: receivers + 1 }, (_, i) => `${system}-${tag}-${i === 0 ? "sender" : `receiver-${i}`}`);
  const receipts = (i: number) => (receiptsDir === undefined ? undefined : join(receiptsDir, `${i}.u32`));
  const nodes: NodeProcess[] = [];
  try {
    if (system === "kaffix") {
      nodes.push(new NodeProcess({ system, part: "sender", name: names[0]!, port: 0, peers: [], serializer, token }, timeoutMs));
      const { port } = await nodes[0]!.next<{ port: number }>("started");
      for (let i = 1; i <= receivers; i++) {
        nodes.push(new NodeProcess({ system, part: "receiver", name: names[i]!, port: 0, peers: [`127.0.0.1:${port}`], serializer, token }, timeoutMs, receipts(i)));
      }
    } else {
      const ports = await freePorts(names.length);
      const urls = names.map((name, i) => `127.0.0.1:${ports[i]}/${name}`);
      names.forEach((name, i) => nodes.push(new NodeProcess({ system, part: i === 0 ? "sender" : "receiver", name, port: ports[i]!, peers: urls, serializer, token }, timeoutMs, receipts(i))));
      await nodes[0]!.next("started");
    }
    await Promise.all(nodes.slice(1).map((node) => node.next("started")));
    await nodes[0]!.ask(`ready ${receivers} ${timeoutMs}`, "ready");
    await nodes[0]!.ask(`first-reply ${timeoutMs}`, "first-reply");
    return nodes;
  } catch (error) {
    await stopAll(nodes);
    throw error;
  }
}
