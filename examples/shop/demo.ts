// What `npm start` runs: a three-node shop cluster on 127.0.0.1 in three regions, a trickle of orders, a clean stop on Ctrl-C.

import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DemoNode, type Narrator, type Started } from "./demo-process.js";
import { Traffic, type TrafficReport } from "./traffic.js";

// The (simulated) database lives in eu-west: see database.ts.
const NODES = [{ region: "eu-west" }, { region: "us-east" }, { region: "ap-south" }] as const;
const START_BOUND_MS = 60_000;
const STOP_BOUND_MS = 20_000;
const REPORT_EVERY_MS = 15_000;

const { values } = parseArgs({
  options: {
    "base-port": { type: "string", default: "12345" },
    "http-base-port": { type: "string", default: "8080" },
    rate: { type: "string", default: "30" },
    logs: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(`Usage: npm start -- [options]

Starts three nodes of the shop example (examples/shop/) on 127.0.0.1, in regions ${NODES.map((n) => n.region).join(", ")},
sends them orders, and stops them cleanly on Ctrl-C.

  --base-port N        cluster ports N, N+1, N+2 (default 12345; 0 picks free ones)
  --http-base-port N   admin endpoints (and the dashboard) on N, N+1, N+2 (default 8080; 0 picks free ones)
  --rate N             orders per second (default 30; 0 for none)
  --logs               print the nodes' whole logs, not only joins, moves and warnings
`);
  process.exit(0);
}
const basePort = portFlag("--base-port", values["base-port"]);
const httpBasePort = portFlag("--http-base-port", values["http-base-port"]);
const rate = Number(values.rate);
if (!(rate >= 0 && rate <= 1000)) fail(`--rate must be a number of orders per second from 0 to 1000, got ${JSON.stringify(values.rate)}`);

const began = performance.now();
const regionById = new Map<string, string>();
const narrator: Narrator = {
  // While stopping, the nodes' goodbyes to each other are noise; errors still show.
  say: (region, text) => void ((stopping === undefined || text.startsWith("error")) && print(`${stamp()} ${region.padEnd(8)}  ${text}`)),
  regionOf: (id) => regionById.get(id) ?? id,
};

// A token made for this run (or yours, from KAFFIX_TOKEN): the nodes listen on 127.0.0.1 only.
const token = process.env.KAFFIX_TOKEN?.split(",")[0]?.trim() || randomBytes(32).toString("base64url");
print("");
print("  DEVELOPMENT MODE: a demo cluster on 127.0.0.1 with a token made for this run.");
print("  In production, make one with `kaffix token` and give it to every node with KAFFIX_TOKEN or --token-file.");
print("");

const nodes: DemoNode[] = [];
let traffic: Traffic | undefined;
let stopping: Promise<void> | undefined;
/** Set once the three nodes see each other; before that, a node that exits fails the start below. */
let up = false;
let firstSignalAt = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => onSignal());

const spec = (i: number, peers: readonly string[]) => ({
  region: NODES[i]!.region,
  port: basePort === 0 ? 0 : basePort + i,
  httpPort: httpBasePort === 0 ? 0 : httpBasePort + i,
  peers,
  token,
  logs: values.logs,
});

let started: Started[];
try {
  const seed = launch(spec(0, []));
  const first = await seed.started(START_BOUND_MS);
  const rest = [1, 2].map((i) => launch(spec(i, [`127.0.0.1:${first.port}`])));
  started = [first, ...(await Promise.all(rest.map((node) => node.started(START_BOUND_MS))))];
  started.forEach((s, i) => regionById.set(s.id, NODES[i]!.region));
  await allAlive(first.adminUrl, START_BOUND_MS);
  up = true;
} catch (error) {
  if (stopping !== undefined) await stopping; // Ctrl-C during the start: not an error
  print(`error: ${error instanceof Error ? error.message : String(error)}`);
  if (basePort !== 0 || httpBasePort !== 0) print("  If a port is taken, choose others: npm start -- --base-port 22345 --http-base-port 9080");
  await shutdown(1);
  throw error; // not reached: shutdown exits
}

const admin = started[0]!.adminUrl;
print("");
print(`  The cluster is up: three nodes of the shop, placement rounds every 2 s (demo settings), ${rate} orders/s.`);
for (const [i, s] of started.entries()) print(`    ${NODES[i]!.region.padEnd(8)}  node ${s.id}  pid ${nodes[i]!.child.pid}  admin ${s.adminUrl}`);
print("");
print(`  Dashboard:     ${admin}/`);
print(`  In a terminal: node --import tsx src/cli/kaffix.ts status ${admin} --watch`);
print(`  Placement:     curl -s ${admin}/placement`);
print(`  A 4th node:    KAFFIX_TOKEN=${token} KAFFIX_REGION=sa-east node --import tsx examples/shop/demo-node.ts --peer 127.0.0.1:${started[0]!.port}`);
print("  Press Ctrl-C to stop all three.");
print("");

if (rate > 0) {
  traffic = new Traffic(started.map((s) => s.adminUrl), rate);
  traffic.start();
  const reporter = setInterval(() => print(`${stamp()} traffic   ${describe(traffic!.report())}`), REPORT_EVERY_MS);
  reporter.unref();
}

function launch(nodeSpec: ReturnType<typeof spec>): DemoNode {
  const node = new DemoNode(nodeSpec, narrator);
  nodes.push(node);
  void node.exited.then((code) => {
    if (stopping !== undefined || !up) return;
    print(`${stamp()} ${node.region.padEnd(8)}  exited unexpectedly (${code}); stopping the others`);
    void shutdown(1);
  });
  return node;
}

/** Waits until the seed sees all three nodes alive. */
async function allAlive(url: string, boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  for (;;) {
    try {
      const view = (await (await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(2_000) })).json()) as { members: { state: string }[] };
      if (view.members.filter((m) => m.state === "alive").length >= NODES.length) return;
    } catch {
      // Not answering yet.
    }
    if (performance.now() > deadline) throw new Error(`the three nodes did not see each other within ${boundMs / 1000} s`);
    await sleep(200);
  }
}

/** The first signal stops everything in order; a repeat within a second is the same Ctrl-C (npm forwards it); a later one forces. */
function onSignal(): void {
  const now = performance.now();
  if (stopping === undefined) {
    firstSignalAt = now;
    print("");
    print("Stopping the three nodes (each finishes the work it holds)...");
    void shutdown(0);
  } else if (now - firstSignalAt > 1_000) {
    print("Forced: killing the nodes without waiting.");
    for (const node of nodes) node.child.kill("SIGKILL");
    process.exit(1);
  }
}

/** Stops the traffic, then every node (SIGTERM, drain, exit), then this process: `code` if all stopped cleanly, 1 otherwise. */
function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    await traffic?.stop(2_000);
    const ends = await Promise.all(nodes.map((node) => node.stop(STOP_BOUND_MS)));
    // SIGTERM as the end: a node still loading when it came, with nothing to drain yet.
    const clean = ends.every((end) => end === 0 || end === "SIGTERM");
    print(clean ? "Stopped: all three nodes exited cleanly." : `Stopped; the nodes ended with ${ends.join(", ")}.`);
    process.exit(clean ? code : 1);
  })();
  return stopping;
}

function describe(r: TrafficReport): string {
  const perSec = r.seconds > 0 ? (r.answered / r.seconds).toFixed(1) : "0";
  const ledger = Object.entries(r.ledgerNodes)
    .sort((a, b) => b[1] - a[1])
    .map(([id, n]) => `${narrator.regionOf(id)} ${percent(n, r.answered - r.outOfStock)}`)
    .join(", ");
  const failed = r.failed === 0 ? "none failed" : `${r.failed} failed (last: ${r.lastError})`;
  const median = r.medianMs === undefined ? "" : `, median ${r.medianMs.toFixed(0)} ms`;
  return `${perSec} orders/s answered${median}, ${failed}${ledger === "" ? "" : `; ledger rows written in ${ledger}`}`;
}

function percent(part: number, whole: number): string {
  const value = (100 * part) / Math.max(1, whole);
  return value > 0 && value < 1 ? "<1%" : `${Math.round(value)}%`;
}

function stamp(): string {
  return `[${String(Math.round((performance.now() - began) / 1000)).padStart(3)} s]`;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function portFlag(flag: string, raw: string): number {
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 0 && port <= 65533)) fail(`${flag} must be a port from 0 to 65533, got ${JSON.stringify(raw)}`);
  return port;
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}
