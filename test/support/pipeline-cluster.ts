// Runs the pipeline fixture as a driver node plus worker nodes on 127.0.0.1, kills and restarts workers, and reads
// back what the driver saw accepted and what the sinks recorded.

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { run, type Spawned } from "./processes.js";

const FIXTURE = "test/fixtures/pipeline-app.ts";
const WORKER_SERVICES = "Ingest,Transform,Sink,Echo";
const DRIVER_SERVICES = "Driver";
const READY = /^pipeline ready node=(\w+) port=(\d+)$/;

export interface DriveOptions {
  mode: "publish" | "request";
  count: number;
  ratePerSec: number;
  /** The publish/request timeoutMs each call is made with. */
  timeoutMs: number;
  /** How far past timeoutMs a call may settle before the driver counts it as hung. */
  slackMs: number;
}

/** The driver's last line (see test/fixtures/pipeline-app.ts), or `error` when it could not start driving. */
export interface DriverSummary {
  error?: string;
  mode: string;
  sent: number;
  ok: number;
  /** Rejections by code; "UNTYPED" for anything that was not a KaffixError with a known code. */
  errors: Record<string, number>;
  hung: number;
  untypedSamples: string[];
  wrongReplies: number;
  replyNodes: Record<string, number>;
  maxLatencyMs: number;
  loopDelayMaxMs: number;
  elapsedMs: number;
  members: { id: string; state: string }[];
}

export interface PipelineNode {
  /** "driver", "w2", "w2#2" (its second life). */
  readonly name: string;
  readonly process: Spawned;
  readonly id: string;
  readonly port: number;
}

/** What the sinks wrote: how many times each id was processed, and the ids each node processed in order. */
export interface SinkRecords {
  readonly byId: Map<string, number>;
  readonly byNode: Map<string, string[]>;
  readonly total: number;
}

export class PipelineCluster {
  readonly dir: string;
  readonly driver: PipelineNode;
  /** The current life of each worker, by slot. */
  readonly workers: PipelineNode[];
  readonly #token: string;
  readonly #lives: PipelineNode[] = [];
  readonly #restarts: Promise<PipelineNode>[] = [];

  private constructor(dir: string, token: string, driver: PipelineNode, workers: PipelineNode[]) {
    this.dir = dir;
    this.#token = token;
    this.driver = driver;
    this.workers = workers;
    this.#lives.push(driver, ...workers);
  }

  /** The driver first (the seed; it waits for the workers before driving), then the workers joining through it. */
  static async start(workers: number, drive: DriveOptions): Promise<PipelineCluster> {
    const dir = mkdtempSync(join(tmpdir(), "kaffix-delivery-"));
    const token = randomBytes(32).toString("base64url");
    const driveArgs = ["--drive", drive.mode, "--workers", String(workers), "--count", String(drive.count), "--rate", String(drive.ratePerSec)];
    driveArgs.push("--timeout-ms", String(drive.timeoutMs), "--slack-ms", String(drive.slackMs));
    const driver = await startNode("driver", dir, token, ["--services", DRIVER_SERVICES, ...driveArgs]);
    const names = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
    const started = await Promise.allSettled(names.map((name) => startNode(name, dir, token, workerArgs(driver))));
    const cluster = new PipelineCluster(dir, token, driver, started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : [])));
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) {
      await cluster.close();
      throw failed.reason;
    }
    return cluster;
  }

  /** Node id → its name, for readable reports. */
  nameOf(id: string): string {
    return this.#lives.find((node) => node.id === id)?.name ?? id;
  }

  /** kill -9 of the worker in `slot` (once any restart of it has finished); resolves when it is gone. */
  async kill(slot: number): Promise<PipelineNode> {
    await this.#restarts[slot];
    const node = this.workers[slot]!;
    node.process.child.kill("SIGKILL");
    await node.process.exited();
    return node;
  }

  /** Starts a new life of the worker in `slot`, joining through the driver (always alive); it gets a new node id. */
  restart(slot: number): Promise<PipelineNode> {
    const worker = `w${slot + 1}`;
    const life = this.#lives.filter((node) => node.name === worker || node.name.startsWith(`${worker}#`)).length + 1;
    const restarting = startNode(`${worker}#${life}`, this.dir, this.#token, workerArgs(this.driver)).then((node) => {
      this.workers[slot] = node;
      this.#lives.push(node);
      return node;
    });
    restarting.catch(() => {}); // surfaced by restarted()
    this.#restarts[slot] = restarting;
    return restarting;
  }

  /** Resolves once every restart begun has finished; rejects if one failed to start. */
  async restarted(): Promise<void> {
    await Promise.all(this.#restarts);
  }

  /** The driver's wall-clock time (Date.now()) when it began driving. */
  async drivingStarted(): Promise<number> {
    // The driver first waits for the workers (bounded to 30 s inside it).
    const line = await this.driver.process.line(/^(driving \w+ at=\d+|summary .*)$/, 40_000);
    if (line.startsWith("summary ")) throw new Error(`the driver gave up before driving: ${line}`);
    return Number(line.split("at=")[1]);
  }

  /** The driver's summary, once it is done. */
  summary(boundMs: number): Promise<DriverSummary> {
    const summary = this.driver.process.line(/^summary /, boundMs).then((line) => JSON.parse(line.slice("summary ".length)) as DriverSummary);
    summary.catch(() => {}); // a caller awaits it after its own schedule; it still sees the rejection
    return summary;
  }

  /**
   * The number of calls the driver had begun when it printed its first progress line after `epochMs`:
   * every id numbered at or above it was sent after that moment.
   */
  async startedAfter(epochMs: number, boundMs: number): Promise<number> {
    const deadline = performance.now() + boundMs;
    for (;;) {
      for (const line of this.driver.process.stdout().split("\n")) {
        const match = /^progress at=(\d+) started=(\d+)/.exec(line);
        if (match !== null && Number(match[1]) > epochMs) return Number(match[2]);
      }
      if (performance.now() > deadline) throw new Error(`no driver progress line after ${epochMs} within ${boundMs} ms`);
      await sleep(50);
    }
  }

  /** Ids whose publish the driver saw resolve. */
  accepted(): string[] {
    return readLines(join(this.dir, "accepted.log"));
  }

  /** Ids whose publish the driver saw reject. */
  rejected(): Set<string> {
    return new Set(readLines(join(this.dir, "rejected.log")).map((line) => line.split(" ")[0]!));
  }

  sinks(): SinkRecords {
    const byId = new Map<string, number>();
    const byNode = new Map<string, string[]>();
    let total = 0;
    for (const file of readdirSync(this.dir).filter((name) => /^sink-\w+\.log$/.test(name))) {
      const ids: string[] = [];
      for (const line of readLines(join(this.dir, file))) {
        const [id] = line.split(" ");
        ids.push(id!);
        byId.set(id!, (byId.get(id!) ?? 0) + 1);
        total++;
      }
      byNode.set(file.slice("sink-".length, -".log".length), ids);
    }
    return { byId, byNode, total };
  }

  /** Kills every process this cluster started and removes its directory. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#restarts);
    for (const node of this.#lives) node.process.child.kill("SIGKILL");
    await Promise.allSettled(this.#lives.map((node) => node.process.exited()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function workerArgs(driver: PipelineNode): string[] {
  return ["--services", WORKER_SERVICES, "--peer", `127.0.0.1:${driver.port}`];
}

async function startNode(name: string, dir: string, token: string, args: readonly string[]): Promise<PipelineNode> {
  const spawned = run([FIXTURE, `--token=${token}`, "--dir", dir, "--port", "0", ...args]);
  const [, id, port] = READY.exec(await spawned.line(READY))!;
  return { name, process: spawned, id: id!, port: Number(port) };
}

/** Complete lines only: a line being written as the file is read is left for the next read. */
function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((line) => line.length > 0);
}

/** Polls `check` until it returns true; fails with what `describe` says after `boundMs`. Resolves with the ms it took. */
export async function waitUntil(what: string, check: () => boolean, boundMs: number, describe: () => string): Promise<number> {
  const begin = performance.now();
  for (;;) {
    if (check()) return performance.now() - begin;
    if (performance.now() - begin > boundMs) throw new Error(`${what}: not within ${boundMs} ms; ${describe()}`);
    await sleep(250);
  }
}
