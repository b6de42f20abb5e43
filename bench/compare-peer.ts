// A child process of bench/compare.ts: one Kaffix or Moleculer node (bench/compare-nodes.ts), driven by lines on stdin.
//
// The node's configuration comes in COMPARE_NODE (JSON, with Kaffix's token: never on the command
// line). With COMPARE_RECEIPTS set to a file path, a receiver also appends every Sink number it
// handles to that file (u32 big-endian, one synchronous write each), so what it handled survives a
// `kill -9`. Commands, one a line, and what comes back on stdout, one JSON object a line, by `type`:
//
//   (none: sent once started)         started      { port, startMs }
//   gc | rss | stats | pending        gc {} | rss { maxRssKiB, rssKiB } | stats { firstServedMs } | pending { count }
//   ready <k> <boundMs>               ready        { ms }: k receivers are linked and run Sink and Echo
//   first-reply <boundMs>             first-reply  { attempts }: Echo answered (retried every 1 ms until then)
//   sink <n>                          armed        { stray }, then sink { received, distinct } once 0 … n − 1 all arrived
//   local-publish <size>              run          { seconds }: publish to Sink here until all were handled
//   publish <size> <window>           run          { seconds }: until every publish resolved (the count is the receiver's)
//   request <size> <loops> <timeoutMs>         run { seconds, p50Us, p99Us } (timeoutMs 0: the system's default)
//   local-request <size> <loops> <timeoutMs>   run { seconds }: to Echo on this node, calls not timed one by one
//   kill-publish <n> <window> <at> <pid>
//                                     killed {} once <at> publishes resolved and it sent SIGKILL to <pid>,
//                                     then streamed { rejected: [{ n, code }] }
//   kill-request <n> <loops> <at> <timeoutMs> <graceMs> <pid>
//                                     killed {} likewise once <at> requests settled, then settled { ok, failed, lost }
//   any that fails                    error        { command, message }
//
// Logs go to stderr. The child stops its node and exits when its stdin ends (also when the parent
// dies), and after 10 minutes in any case.

import { closeSync, openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { SinkTally, type SinkCount } from "./cross-node-peer.js";
import { startNode, type BenchNode, type NodeConfig, type Receipts } from "./compare-nodes.js";
import { report, requestRun, settleAll, windowed, type RunReport } from "./loops.js";
import { collectGarbage } from "./harness.js";
import { within } from "./transport-peer.js";

export const NODE_ENV = "COMPARE_NODE";
export const RECEIPTS_ENV = "COMPARE_RECEIPTS";
/** The child gives up on its own after this long, whatever its parent does. */
const LIFETIME_MS = 10 * 60_000;
/** How long one attempt of first-reply may take. */
const ATTEMPT_TIMEOUT_MS = 1000;
/** Bound of one timed run inside the child; the parent's own bound is tighter. */
const RUN_BOUND_MS = 60_000;

const say = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const never = new Promise<never>(() => {});

/** What this process's Sink and Echo handled: counted per run, logged to a file in the kill scenario. */
class ReceiverLog implements Receipts {
  readonly tally = new SinkTally();
  firstEchoAt: number | undefined;
  readonly #fd: number | undefined;
  readonly #word = Buffer.alloc(4);

  constructor(path: string | undefined) {
    this.#fd = path === undefined ? undefined : openSync(path, "w");
  }

  sink(n: number): void {
    if (this.#fd !== undefined) {
      this.#word.writeUInt32BE(n);
      writeSync(this.#fd, this.#word); // before the handler returns: a kill -9 cannot lose it
    }
    this.tally.record(n);
  }

  echo(): void {
    this.firstEchoAt ??= performance.now();
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }
}

/** Polls `ready` every millisecond until it holds; rejects after `boundMs`. */
async function until(ready: () => boolean, boundMs: number, what: string): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms`);
    await sleep(1);
  }
}

async function firstReply(node: BenchNode, boundMs: number): Promise<number> {
  const deadline = performance.now() + boundMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await node.request(attempt, ATTEMPT_TIMEOUT_MS);
      return attempt;
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`no reply from Echo within ${boundMs} ms`, { cause: error });
    }
    await sleep(1);
  }
}

/** Publishes 0 … size − 1 to Sink on this node; resolves when Sink handled them all. */
async function localPublish(node: BenchNode, log: ReceiverLog, size: number, window: number): Promise<RunReport> {
  const all = new Promise<SinkCount>((resolve) => log.tally.arm(size, resolve));
  const started = performance.now();
  const { rejected } = await windowed(size, window, (i) => node.publish(i));
  if (rejected.length > 0) throw new Error(`${rejected.length} local publishes rejected, the first with ${rejected[0]!.code}`);
  await within(all, RUN_BOUND_MS, `Sink handling ${size} messages`, never);
  return { seconds: (performance.now() - started) / 1000 };
}

async function timedRequests(node: BenchNode, size: number, loops: number, timeoutMs: number, timeEach: boolean): Promise<RunReport> {
  return report(await requestRun(size, loops, (_slot, n) => node.request(n, timeoutMs), timeEach));
}

async function run(node: BenchNode, log: ReceiverLog, command: string, args: number[]): Promise<void> {
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = args;
  // The sender kills the victim itself, at the very moment the count is reached: messages are surely in flight.
  const killAt = (at: number, pid: number) => (done: number) => {
    if (done !== at) return;
    process.kill(pid, "SIGKILL");
    say({ type: "killed" });
  };
  switch (command) {
    case "gc":
      collectGarbage();
      return say({ type: "gc" });
    case "rss": {
      const { maxRSS } = process.resourceUsage();
      return say({ type: "rss", maxRssKiB: maxRSS, rssKiB: Math.round(process.memoryUsage.rss() / 1024) });
    }
    case "stats":
      return say({ type: "stats", firstServedMs: log.firstEchoAt === undefined ? null : log.firstEchoAt - startCalledAt });
    case "pending":
      return say({ type: "pending", count: node.pending() });
    case "ready": {
      const started = performance.now();
      await until(() => node.receiversReady() >= a, b, `${a} receivers ready`);
      return say({ type: "ready", ms: performance.now() - started });
    }
    case "first-reply":
      return say({ type: "first-reply", attempts: await firstReply(node, a) });
    case "sink": {
      const stray = log.tally.arm(a, (count) => say({ type: "sink", ...count }));
      return say({ type: "armed", stray });
    }
    case "local-publish":
      return say({ type: "run", ...(await localPublish(node, log, a, 1000)) });
    case "publish": {
      const started = performance.now();
      const { rejected } = await windowed(a, b, (i) => node.publish(i));
      if (rejected.length > 0) throw new Error(`${rejected.length} publishes rejected, the first with ${rejected[0]!.code}`);
      return say({ type: "run", seconds: (performance.now() - started) / 1000 });
    }
    case "local-request":
      return say({ type: "run", ...(await timedRequests(node, a, b, c, false)) });
    case "request":
      return say({ type: "run", ...(await timedRequests(node, a, b, c, true)) });
    case "kill-publish": {
      const { rejected } = await windowed(a, b, (i) => node.publish(i), killAt(c, d));
      return say({ type: "streamed", rejected });
    }
    case "kill-request": {
      const settled = await settleAll(a, b, d + e, (i) => node.request(i, d), killAt(c, f));
      return say({ type: "settled", ...settled });
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}`);
  }
}

let startCalledAt = 0;

async function main(): Promise<void> {
  setTimeout(() => {
    console.error(`compare peer: still alive after ${LIFETIME_MS / 1000} s; exiting`);
    process.exit(1);
  }, LIFETIME_MS).unref();
  const config = JSON.parse(process.env[NODE_ENV] ?? "null") as NodeConfig | null;
  if (config === null) throw new Error(`compare peer: ${NODE_ENV} is not set`);
  const log = new ReceiverLog(process.env[RECEIPTS_ENV] || undefined);

  let node: BenchNode | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void within(node?.stop() ?? Promise.resolve(), 3000, "stopping the node", never)
      .catch((error: unknown) => console.error(`compare peer ${config.name}: stop failed:`, error))
      .finally(() => {
        log.close();
        process.exit(0);
      });
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  // Commands run one after the other, in order; stdin is read from the start so its end is seen while starting.
  let queue = Promise.resolve();
  createInterface({ input: process.stdin }).on("line", (line) => {
    const [command = "", ...args] = line.trim().split(/\s+/);
    queue = queue.then(async () => {
      try {
        await run(node!, log, command, args.map(Number));
      } catch (error) {
        say({ type: "error", command: line, message: error instanceof Error ? `${error.message}${error.cause ? ` (${String(error.cause)})` : ""}` : String(error) });
      }
    });
  });
  startCalledAt = performance.now();
  queue = queue.then(async () => {
    node = await startNode(config, log);
    say({ type: "started", port: node.port, startMs: performance.now() - startCalledAt });
  });
  await queue;
}

// bench/compare.ts imports this file for its constants; only the child process runs main().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error("compare peer crashed:", error);
    process.exit(1);
  });
}
