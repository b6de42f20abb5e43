// Node B of bench/cross-node.ts: the bench app both nodes build, and the child process that runs its Sink and Echo.
//
// Both processes build the same program (`benchApp`); which services run where is the only difference.
// The parent starts this file as a child with `KaffixPeer`. The child starts the app with
// `services: ["Sink", "Echo"]`, joins the parent's node (host:port in KAFFIX_BENCH_JOIN; the token is in
// KAFFIX_BENCH_TOKEN, never on the command line), and then talks in lines:
//
//   stdin, one command a line       stdout, one JSON object a line, by `type`
//   ─────────────────────────────   ──────────────────────────────────────────────────────────────────────
//   (none: sent once started)       started  { port, startMs }: app.start() resolved after startMs
//   sink <n>                        armed    { stray }: Sink messages handled since the last report
//                                   sink     { received, distinct, receiverMs }: once n distinct numbers
//                                            0 … n − 1 reached Sink (receiverMs: first to n-th, B's clock)
//   gc                              gc       {}: after a full garbage collection
//   stats                           stats    { firstServedMs }: app.start() call → first Echo handled
//
// Logs go to stderr, so stdout carries nothing but these lines. The child stops its app and exits
// when its stdin ends, which is also what happens when the parent dies, and after 10 minutes in any case.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { pino, type Logger } from "pino";
import { App, Service } from "../src/index.js";
import { collectGarbage, endChild } from "./harness.js";
import { within } from "./transport-peer.js";

const TOKEN_ENV = "KAFFIX_BENCH_TOKEN";
const JOIN_ENV = "KAFFIX_BENCH_JOIN";
/** The peer gives up on its own after this long, whatever its parent does. */
const LIFETIME_MS = 10 * 60_000;
/** How long the child's app may drain when told to stop, and how long the parent waits before SIGKILL. */
const STOP_DRAIN_MS = 1000;
const STOP_KILL_MS = 5000;

// ── The bench app: the same program on both nodes ──────────────────────────────────────────────

export interface Num {
  n: number;
}

export interface SinkCount {
  /** Sink messages handled in the run, duplicates included. */
  received: number;
  distinct: number;
  /** First to last message handled, on the receiver's clock. */
  receiverMs: number;
}

/** Counts Sink messages against the numbers 0 … n − 1 of a run: done at the n-th distinct one, so a duplicate cannot stand in for a lost message. */
export class SinkTally {
  #seen = new Uint8Array(0);
  #received = 0;
  #distinct = 0;
  #firstAt = 0;
  #done: ((count: SinkCount) => void) | undefined;

  /** Starts a run of `n`; returns the messages handled since the last run completed (late duplicates). */
  arm(n: number, done: (count: SinkCount) => void): number {
    const stray = this.#received;
    this.#seen = new Uint8Array(n);
    this.#received = 0;
    this.#distinct = 0;
    this.#done = done;
    return stray;
  }

  record(n: number): void {
    if (++this.#received === 1) this.#firstAt = performance.now();
    if (n >= 0 && n < this.#seen.length && this.#seen[n] === 0) {
      this.#seen[n] = 1;
      if (++this.#distinct === this.#seen.length) this.#complete();
    }
  }

  #complete(): void {
    const count = { received: this.#received, distinct: this.#distinct, receiverMs: performance.now() - this.#firstAt };
    const done = this.#done;
    this.#seen = new Uint8Array(0); // anything more counts as stray, reported by the next arm
    this.#received = 0;
    this.#done = undefined;
    done?.(count);
  }
}

/** The Sink of whichever node runs it in this process. */
export const tally = new SinkTally();
/** When this process first handled an Echo (performance.now()); for the startup case. */
let firstEchoAt: number | undefined;

export class Sink extends Service<Num> {
  onMessage(message: Num): void {
    tally.record(message.n);
  }
}
export class Echo extends Service<Num, Num> {
  onMessage(message: Num): Num {
    firstEchoAt ??= performance.now();
    return message;
  }
}
/** The only service node A runs, so that every message to Sink or Echo has to cross the wire. */
export class Driver extends Service<Num> {
  onMessage(): void {}
}

export function benchApp(): App {
  return new App({ name: "kaffix-bench-cross-node" }).addService(Sink).addService(Echo).addService(Driver);
}

/** Warnings and errors to stderr: stdout carries the bench's own lines. */
export function stderrLogger(): Logger {
  return pino({ level: "warn" }, pino.destination({ fd: 2, sync: true }));
}

// ── The parent's handle on node B ──────────────────────────────────────────────────────────────

/** Node B as a child process: its stdout lines sorted by type, bounded waits, stopped by closing its stdin. */
export class KaffixPeer {
  readonly #child: ChildProcess;
  readonly #timeoutMs: number;
  readonly #lines = new Map<string, Record<string, unknown>[]>();
  #wake: (() => void)[] = [];
  /** Rejects when the child exits; every wait races against it. */
  readonly exited: Promise<never>;

  /** Spawns node B joining `join` (host:port); `timeoutMs` bounds each wait for one of its lines. */
  constructor(token: string, join: string, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    const execArgv = process.execArgv.some((arg) => arg.includes("tsx")) ? process.execArgv : ["--import", "tsx", ...process.execArgv];
    this.#child = spawn(process.execPath, [...execArgv, fileURLToPath(import.meta.url)], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, [TOKEN_ENV]: token, [JOIN_ENV]: join },
    });
    this.exited = new Promise<never>((_, reject) => {
      this.#child.once("exit", (code, signal) => reject(new Error(`node B exited (code ${code}, signal ${signal})`)));
      this.#child.once("error", reject);
    });
    this.exited.catch(() => {});
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        console.error(`node B said: ${line}`); // not one of ours: show it, never act on it
        return;
      }
      const type = String(parsed.type);
      this.#lines.set(type, [...(this.#lines.get(type) ?? []), parsed]);
      const wake = this.#wake;
      this.#wake = [];
      for (const resolve of wake) resolve();
    });
  }

  get hasExited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** The next line of `type`, whether it came before this call or comes within the bound. */
  async next<T>(type: string): Promise<T> {
    for (;;) {
      const queued = this.#lines.get(type);
      if (queued !== undefined && queued.length > 0) return queued.shift() as T;
      const line = new Promise<void>((resolve) => this.#wake.push(resolve));
      await within(line, this.#timeoutMs, `waiting for node B's "${type}" line`, this.exited);
    }
  }

  #send(command: string): void {
    this.#child.stdin!.write(`${command}\n`);
  }

  async gc(): Promise<void> {
    this.#send("gc");
    await this.next("gc");
  }

  /** Arms B's Sink for a run of `n`; returns the stray messages since the last run, and the run's count to come. */
  async armSink(n: number): Promise<{ stray: number; count: Promise<SinkCount> }> {
    this.#send(`sink ${n}`);
    const { stray } = await this.next<{ stray: number }>("armed");
    const count = this.next<SinkCount>("sink");
    count.catch(() => {}); // the caller races it; a timeout surfaces there
    return { stray, count };
  }

  async stats(): Promise<{ firstServedMs: number | null }> {
    this.#send("stats");
    return this.next("stats");
  }

  /** Closes its stdin (it stops its app and exits), then kills it if it lingers. */
  stop(): Promise<void> {
    return endChild(this.#child, STOP_KILL_MS);
  }
}

// ── The child ───────────────────────────────────────────────────────────────────────────────────

const say = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  setTimeout(() => {
    console.error(`node B: still alive after ${LIFETIME_MS / 1000} s; exiting`);
    process.exit(1);
  }, LIFETIME_MS).unref();
  const token = process.env[TOKEN_ENV];
  const join = process.env[JOIN_ENV];
  if (!token || !join) throw new Error(`node B: ${TOKEN_ENV} and ${JOIN_ENV} must be set`);

  const app = benchApp();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    app
      .stop({ timeoutMs: STOP_DRAIN_MS })
      .catch((error: unknown) => console.error("node B: stop failed:", error))
      .finally(() => process.exit(0));
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  const startCalledAt = performance.now();
  // Reading stdin from the start, so its end is seen even while the app is starting.
  createInterface({ input: process.stdin }).on("line", (line) => {
    const [command, argument] = line.split(" ");
    if (command === "gc") {
      collectGarbage();
      say({ type: "gc" });
    } else if (command === "stats") {
      say({ type: "stats", firstServedMs: firstEchoAt === undefined ? null : firstEchoAt - startCalledAt });
    } else if (command === "sink") {
      const stray = tally.arm(Number(argument), (count) => say({ type: "sink", ...count }));
      say({ type: "armed", stray });
    } else {
      console.error(`node B: unknown command ${JSON.stringify(line)}`);
    }
  });
  await app.start({ token, port: 0, host: "127.0.0.1", peers: [join], services: ["Sink", "Echo"], logger: stderrLogger() });
  say({ type: "started", port: app.port, startMs: performance.now() - startCalledAt });
}

// bench/cross-node.ts imports this file for the app and KaffixPeer; only the child process runs main().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error("node B crashed:", error);
    process.exit(1);
  });
}
