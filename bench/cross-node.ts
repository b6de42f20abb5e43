// `node --import tsx bench/cross-node.ts`: publish and request throughput, latency and time to first message between two Kaffix nodes, next to the bare transport.

import { randomBytes } from "node:crypto";
import { relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { App } from "../src/index.js";
import { benchApp, Echo, KaffixPeer, Sink, stderrLogger } from "./cross-node-peer.js";
import { calibrate, collectGarbage, exitWhenHung, loadAverage, machine, markdownTable, measuredBy, printTable, resultsPath, runMain, spread, type Machine, type Spread, writeResults } from "./harness.js";
import { requestRun, windowed } from "./loops.js";
import { Kind, PeerProcess, tcpSystem, tlsSystem, u32, within, type SinkReport, type System } from "./transport-peer.js";

const QUICK = process.argv.includes("--quick");
/** Timed runs per system and case, fresh node B starts timed, how long one run should last once warm, and the bounds that stop a hang. */
const PLAN = QUICK
  ? { runs: 3, startupRuns: 2, targetMs: 40, runTimeoutMs: 10_000, watchdogMs: 60_000 }
  : { runs: 5, startupRuns: 5, targetMs: 500, runTimeoutMs: 15_000, watchdogMs: 240_000 };
/** Publishes node A keeps un-resolved at once. */
const WINDOW = 1000;
const IN_FLIGHT = 100;
/** Payload of the bare baseline's messages, as in bench/transport.ts's small case. */
const PAYLOAD_BYTES = 100;
/** How long one attempt to reach a node that is still starting may take. */
const ATTEMPT_TIMEOUT_MS = 1000;
/** From the issue. */
const AIMS = { publish: 500_000, request: 200_000, requestP99Ms: 2 } as const;
/** Moleculer's measured reference, from the issue: events/s, and req/s with its p99, between two nodes. */
const MOLECULER = { events: 77_000, requests: 42_000, requestP99Ms: 8.5 } as const;
const OUT = resultsPath("cross-node", QUICK);
const MARK = { start: "<!-- bench:cross-node:start -->", end: "<!-- bench:cross-node:end -->" } as const;

// ── What is measured ────────────────────────────────────────────────────────────────────────────

const SYSTEMS = ["kaffix", "tls", "tcp"] as const;
type SystemId = (typeof SYSTEMS)[number];
const SYSTEM_LABELS: Record<SystemId, string> = {
  kaffix: "Kaffix: node A (Driver) → node B (Sink, Echo)",
  tls: `TlsTransport link, DATA lane, ${PAYLOAD_BYTES} B payloads (bench/transport-peer.ts)`,
  tcp: `bare framed TCP, ${PAYLOAD_BYTES} B payloads (bench/transport-peer.ts)`,
};

interface Case {
  id: "publish" | "request-sequential" | "request-concurrent";
  label: string;
  unit: "msg/s" | "req/s";
  /** Requests in flight; 0 for the publish stream. */
  loops: number;
  step: number;
}

const CASES: Case[] = [
  { id: "publish", label: `publish, ${WINDOW} un-resolved at once`, unit: "msg/s", loops: 0, step: WINDOW },
  { id: "request-sequential", label: "request/reply, 1 in flight", unit: "req/s", loops: 1, step: 100 },
  { id: "request-concurrent", label: `request/reply, ${IN_FLIGHT} in flight`, unit: "req/s", loops: IN_FLIGHT, step: IN_FLIGHT },
];

/** Everything the runs share: node A, node B, and the baseline's peer with its two links. */
interface Bench {
  app: App;
  b: KaffixPeer;
  bare: PeerProcess;
  tls: System;
  tcp: System;
  /** Sink messages B handled more than once, over all runs. */
  duplicates: number;
}

interface Run {
  seconds: number;
  /** Round trips in milliseconds, sorted (requests only). */
  latencies?: Float64Array;
  /** Kaffix publish only: until every publish resolved. */
  ackSeconds?: number;
}

// ── The runs ────────────────────────────────────────────────────────────────────────────────────

/** Publishes 0 … n − 1 to Sink; the clock stops when B reports the n-th distinct one handled. */
async function kaffixPublish(bench: Bench, n: number): Promise<Run> {
  const { stray, count } = await bench.b.armSink(n);
  bench.duplicates += stray;
  const started = performance.now();
  const acked = windowed(n, WINDOW, (i) => bench.app.publish(Sink, { n: i })).then(({ rejected }) => {
    if (rejected.length > 0) throw new Error(`${rejected.length} publishes failed, the first with ${rejected[0]!.code}`);
  });
  acked.catch(() => {}); // awaited below; a failure also ends the race at once
  const received = await Promise.race([count, acked.then(() => count)]);
  const seconds = (performance.now() - started) / 1000;
  await acked;
  bench.duplicates += received.received - received.distinct;
  return { seconds, ackSeconds: (performance.now() - started) / 1000 };
}

/** The baseline of a publish: n payloads one way as fast as back-pressure allows, then an END; the clock stops at the REPORT. */
async function bareStream(system: System, n: number): Promise<Run> {
  const { channel } = system;
  const reported = new Promise<SinkReport>((resolve) => {
    system.receive = (payload) => {
      if (payload[0] === Kind.REPORT) resolve(JSON.parse(Buffer.from(payload.buffer, payload.byteOffset + 1, payload.length - 1).toString()));
    };
  });
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x2a);
  payload[0] = Kind.SINK;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    payload.writeUInt32BE(i, 1); // both channels copy on send
    while (!channel.send(payload)) await channel.whenWritable();
  }
  while (!channel.send(Uint8Array.of(Kind.END))) await channel.whenWritable();
  const report = await reported;
  const seconds = (performance.now() - started) / 1000;
  if (report.count !== n || report.outOfOrder !== 0) throw new Error(`${system.id}: sent ${n}, the peer reported ${JSON.stringify(report)}`);
  return { seconds };
}

/** One round trip: resolves when the reply to message `n` from loop `slot` is back and checked. */
type Call = (slot: number, n: number) => Promise<void>;

function kaffixCall(app: App): Call {
  return async (_slot, n) => {
    const reply = await app.request(Echo, { n });
    if (reply.n !== n) throw new Error(`Echo answered ${JSON.stringify(reply)} to ${n}`);
  };
}

function bareCall(system: System): Call {
  const waiting: (((payload: Uint8Array) => void) | undefined)[] = [];
  const payloads: Buffer[] = [];
  system.receive = (payload) => {
    const slot = u32(payload, 1);
    const resolve = waiting[slot];
    if (payload[0] !== Kind.REQUEST || resolve === undefined) throw new Error(`${system.id}: an echo nobody waits for`);
    waiting[slot] = undefined;
    resolve(payload);
  };
  return async (slot, n) => {
    const payload = (payloads[slot] ??= Buffer.alloc(PAYLOAD_BYTES, 0x2a));
    payload[0] = Kind.REQUEST;
    payload.writeUInt32BE(slot, 1);
    payload.writeUInt32BE(n, 5);
    const echoed = new Promise<Uint8Array>((resolve) => (waiting[slot] = resolve));
    while (!system.channel.send(payload)) await system.channel.whenWritable();
    if (u32(await echoed, 5) !== n) throw new Error(`${system.id}: slot ${slot} got a wrong echo`);
  };
}


function timed(c: Case, id: SystemId, size: number, bench: Bench): Promise<Run> {
  let work: Promise<Run>;
  if (c.id === "publish") work = id === "kaffix" ? kaffixPublish(bench, size) : bareStream(bench[id], size);
  else work = requestRun(size, c.loops, id === "kaffix" ? kaffixCall(bench.app) : bareCall(bench[id]));
  const peerGone = id === "kaffix" ? bench.b.exited : bench.bare.exited;
  return within(work, PLAN.runTimeoutMs, `${c.id} over ${id}, ${size} messages`, peerGone);
}

async function collectEverywhere(bench: Bench): Promise<void> {
  collectGarbage();
  await Promise.all([bench.b.gc(), bench.bare.gc()]);
}

// ── Measuring ───────────────────────────────────────────────────────────────────────────────────

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: Float64Array, q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
const tenths = (n: number) => Math.round(n * 10) / 10;

interface Side {
  label: string;
  size: number;
  rates: number[];
  rate: Spread;
  /** Per run, then the median over runs, in µs (requests only). */
  p50Micros?: number[];
  p99Micros?: number[];
  p50?: number;
  p99?: number;
  /** Kaffix publish only: messages per second until the last publish resolved. */
  ackRate?: Spread;
}

interface Result {
  id: Case["id"];
  label: string;
  unit: Case["unit"];
  kaffix: Side;
  tls: Side;
  tcp: Side;
  /** Kaffix median rate over the baseline's. */
  vsTls: number;
  vsTcp: number;
}

function side(id: SystemId, size: number, runs: Run[]): Side {
  const rates = runs.map((r) => size / r.seconds);
  const result: Side = { label: SYSTEM_LABELS[id], size, rates: rates.map(Math.round), rate: spread(rates) };
  if (runs[0]?.latencies !== undefined) {
    result.p50Micros = runs.map((r) => tenths(percentile(r.latencies!, 0.5) * 1000));
    result.p99Micros = runs.map((r) => tenths(percentile(r.latencies!, 0.99) * 1000));
    result.p50 = spread(result.p50Micros, tenths).median;
    result.p99 = spread(result.p99Micros, tenths).median;
  }
  if (runs[0]?.ackSeconds !== undefined) result.ackRate = spread(runs.map((r) => size / r.ackSeconds!));
  return result;
}

/** Sizes each system on its own, then rotates the order of their timed runs, so drift on a shared machine hits all alike. */
async function measure(c: Case, bench: Bench): Promise<Result> {
  const sizes = { kaffix: 0, tls: 0, tcp: 0 };
  for (const id of SYSTEMS) sizes[id] = await calibrate(async (size) => (await timed(c, id, size, bench)).seconds, c.step, PLAN.targetMs);
  const runs: Record<SystemId, Run[]> = { kaffix: [], tls: [], tcp: [] };
  for (let r = 0; r < PLAN.runs; r++) {
    for (let k = 0; k < SYSTEMS.length; k++) {
      const id = SYSTEMS[(r + k) % SYSTEMS.length]!;
      await collectEverywhere(bench);
      runs[id].push(await timed(c, id, sizes[id], bench));
    }
  }
  const [kaffix, tls, tcp] = SYSTEMS.map((id) => side(id, sizes[id], runs[id])) as [Side, Side, Side];
  return { id: c.id, label: c.label, unit: c.unit, kaffix, tls, tcp, vsTls: kaffix.rate.median / tls.rate.median, vsTcp: kaffix.rate.median / tcp.rate.median };
}

// ── Time to the first message ───────────────────────────────────────────────────────────────────

/** Requests Echo until a reply comes back; resolves with the attempts it took. */
async function firstReply(app: App, b: KaffixPeer): Promise<number> {
  const deadline = performance.now() + PLAN.runTimeoutMs;
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      if ((await app.request(Echo, { n: attempt }, { timeoutMs: ATTEMPT_TIMEOUT_MS })).n === attempt) return attempt;
      last = new Error("Echo answered with the wrong number");
    } catch (error) {
      last = error;
    }
    if (b.hasExited || performance.now() > deadline) {
      const others = app.cluster().members.filter((m) => m.id !== app.nodeId);
      const seen = others.map((m) => `${m.address} ${m.state}, running [${Object.keys(m.running).join(", ")}]`).join("; ");
      const why = b.hasExited ? "before it exited" : `within ${PLAN.runTimeoutMs} ms (node A sees ${seen || "no other member"})`;
      throw new Error(`no message reached node B ${why}`, { cause: last });
    }
    await sleep(1);
  }
}

interface StartupRun {
  /** Node A's clock: spawning B's process → first reply back. */
  spawnToReplyMs: number;
  attempts: number;
  /** Node B's clock: how long app.start() took, and from calling it to the first Echo handled (null if B never handled one). */
  startMs: number;
  startToServedMs: number | null;
}

async function kaffixStartup(app: App, token: string): Promise<StartupRun> {
  const spawned = performance.now();
  const b = new KaffixPeer(token, `127.0.0.1:${app.port}`, PLAN.runTimeoutMs);
  try {
    const attempts = await firstReply(app, b);
    const spawnToReplyMs = performance.now() - spawned;
    const { startMs } = await b.next<{ startMs: number }>("started");
    const { firstServedMs } = await b.stats();
    return { spawnToReplyMs, attempts, startMs, startToServedMs: firstServedMs };
  } finally {
    await b.stop();
  }
}

/** The baseline: spawning bench/transport-peer.ts → connected over bare TCP → its first echo back. */
async function bareStartup(token: string): Promise<number> {
  const spawned = performance.now();
  const peer = new PeerProcess(token, PLAN.runTimeoutMs);
  let system: System | undefined;
  try {
    const { tcpPort } = JSON.parse(await peer.nextLine()) as { tcpPort: number };
    system = await within(tcpSystem(tcpPort), PLAN.runTimeoutMs, "bare TCP connection", peer.exited);
    await within(bareCall(system)(0, 0), PLAN.runTimeoutMs, "first bare echo", peer.exited);
    return performance.now() - spawned;
  } finally {
    await system?.close();
    await peer.stop();
  }
}

interface Startup {
  runs: StartupRun[];
  bareRuns: number[];
  spawnToReplyMs: Spread;
  startMs: Spread;
  startToServedMs: Spread | undefined;
  bareSpawnToEchoMs: Spread;
}

async function measureStartup(app: App, token: string): Promise<Startup> {
  const runs: StartupRun[] = [];
  const bareRuns: number[] = [];
  for (let r = 0; r < PLAN.startupRuns; r++) {
    runs.push(await kaffixStartup(app, token));
    bareRuns.push(await bareStartup(token));
  }
  const served = runs.map((r) => r.startToServedMs).filter((ms): ms is number => ms !== null);
  return {
    runs,
    bareRuns: bareRuns.map(tenths),
    spawnToReplyMs: spread(runs.map((r) => r.spawnToReplyMs), tenths),
    startMs: spread(runs.map((r) => r.startMs), tenths),
    startToServedMs: served.length === runs.length ? spread(served, tenths) : undefined,
    bareSpawnToEchoMs: spread(bareRuns, tenths),
  };
}

// ── Reporting ───────────────────────────────────────────────────────────────────────────────────

const rate = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)} k`);
const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const latency = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us >= 10 ? Math.round(us) : us.toFixed(1)} µs`);
const millis = (s: Spread) => `${s.median} ms (${s.min} – ${s.max})`;
const mark = (ok: boolean) => (ok ? "✓" : "✗");

function aimCell(r: Result): string {
  if (r.id === "publish") return `≥ ${rate(AIMS.publish)}/s ${mark(r.kaffix.rate.median >= AIMS.publish)}`;
  if (r.id === "request-sequential") return "—";
  const p99Ok = r.kaffix.p99! < AIMS.requestP99Ms * 1000;
  return `≥ ${rate(AIMS.request)}/s ${mark(r.kaffix.rate.median >= AIMS.request)}, p99 < ${AIMS.requestP99Ms} ms ${mark(p99Ok)}`;
}

function moleculerCell(r: Result): string {
  if (r.id === "publish") return `~${MOLECULER.events / 1000} k/s`;
  if (r.id === "request-concurrent") return `~${MOLECULER.requests / 1000} k/s, p99 ${MOLECULER.requestP99Ms} ms`;
  return "—";
}

interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

function tables(results: Result[], startup: Startup | undefined): Table[] {
  const span = (s: Side) => `${rate(s.rate.min)} – ${rate(s.rate.max)}`;
  const round = (s: Side) => `${latency(s.p50!)} / ${latency(s.p99!)}`;
  const publishes = results.filter((r) => r.unit === "msg/s");
  const requests = results.filter((r) => r.unit === "req/s");
  const out: Table[] = [];
  if (publishes.length > 0) {
    out.push({
      title: "Publish, node A → Sink on node B (rate: messages handled at B; baselines: one-way payloads, no acks)",
      header: ["Case", "Kaffix (median)", "Min – max", "All resolved at A", "TLS link", "Bare TCP", "Kaffix / TLS", "Kaffix / bare", "Aim", "Moleculer"],
      rows: publishes.map((r) => [
        r.label,
        `${rate(r.kaffix.rate.median)} ${r.unit}`,
        span(r.kaffix),
        `${rate(r.kaffix.ackRate!.median)} ${r.unit}`,
        `${rate(r.tls.rate.median)} ${r.unit}`,
        `${rate(r.tcp.rate.median)} ${r.unit}`,
        percent(r.vsTls),
        percent(r.vsTcp),
        aimCell(r),
        moleculerCell(r),
      ]),
    });
  }
  if (requests.length > 0) {
    out.push({
      title: "Request/reply, node A → Echo on node B (latency: median over runs of each run's p50 / p99; baselines: the peer echoes)",
      header: ["Case", "Kaffix (median)", "Min – max", "p50 / p99", "TLS link", "p50 / p99", "Bare TCP", "p50 / p99", "Kaffix / TLS", "Kaffix / bare", "Aim", "Moleculer"],
      rows: requests.map((r) => [
        r.label,
        `${rate(r.kaffix.rate.median)} ${r.unit}`,
        span(r.kaffix),
        round(r.kaffix),
        `${rate(r.tls.rate.median)} ${r.unit}`,
        round(r.tls),
        `${rate(r.tcp.rate.median)} ${r.unit}`,
        round(r.tcp),
        percent(r.vsTls),
        percent(r.vsTcp),
        aimCell(r),
        moleculerCell(r),
      ]),
    });
  }
  if (startup !== undefined) {
    out.push({
      title: `A fresh node B: time to its first routed message (median, min – max of ${startup.runs.length}; baseline: spawn bench/transport-peer.ts → first echo over bare TCP)`,
      header: ["Measure", "Kaffix", "Bare baseline"],
      rows: [
        ["spawn node B → first reply at node A (A's clock)", millis(startup.spawnToReplyMs), millis(startup.bareSpawnToEchoMs)],
        ["node B: app.start() called → first Echo handled", startup.startToServedMs === undefined ? "B handled none" : millis(startup.startToServedMs), "—"],
        ["node B: app.start() called → resolved", millis(startup.startMs), "—"],
      ],
    });
  }
  return out;
}

const AIMS_LINE =
  `Aims (issue): publish ≥ ${rate(AIMS.publish)} msg/s; request/reply ≥ ${rate(AIMS.request)} req/s with p99 < ${AIMS.requestP99Ms} ms at ${IN_FLIGHT} in flight. ` +
  `Moleculer, measured reference: ~${MOLECULER.events / 1000} k events/s; ~${MOLECULER.requests / 1000} k req/s, p99 ${MOLECULER.requestP99Ms} ms.`;

function print(results: Result[], startup: Startup | undefined, duplicates: number, info: Machine): void {
  console.log(`\nKaffix cross-node benchmark${QUICK ? " (--quick: smoke test, numbers are rough)" : ""}: two processes on 127.0.0.1`);
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date}; median of ${PLAN.runs} runs per system and case`);
  for (const { title, header, rows } of tables(results, startup)) {
    console.log(`\n${title}\n`);
    printTable(header, rows);
  }
  console.log(`\n${AIMS_LINE}`);
  if (duplicates > 0) console.log(`Sink handled ${duplicates} messages more than once (at-least-once redelivery).`);
  console.log("\nsystems:");
  for (const id of SYSTEMS) console.log(`  ${id.padEnd(6)}   ${SYSTEM_LABELS[id]}`);
}

function markdown(results: Result[], startup: Startup | undefined, info: Machine): string {
  const lines = [MARK.start, `${measuredBy("node --import tsx bench/cross-node.ts", info)}; two processes on 127.0.0.1, median of ${PLAN.runs} runs.`];
  for (const { title, header, rows } of tables(results, startup)) lines.push("", `${title}:`, "", ...markdownTable(header, rows));
  lines.push("", AIMS_LINE, MARK.end);
  return lines.join("\n");
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  exitWhenHung(PLAN.watchdogMs); // both children see their stdin close and exit too
  const info = machine();
  const token = randomBytes(24).toString("base64url");
  const app = benchApp();
  const results: Result[] = [];
  let startup: Startup | undefined;
  let duplicates = 0;
  await app.start({ token, port: 0, host: "127.0.0.1", peers: [], services: ["Driver"], logger: stderrLogger() });
  let b: KaffixPeer | undefined;
  let bare: PeerProcess | undefined;
  const links: System[] = [];
  try {
    b = new KaffixPeer(token, `127.0.0.1:${app.port}`, PLAN.runTimeoutMs);
    bare = new PeerProcess(token, PLAN.runTimeoutMs);
    await b.next("started");
    await firstReply(app, b);
    const ports = JSON.parse(await bare.nextLine()) as { tlsPort: number; tcpPort: number };
    links.push(await within(tlsSystem(token, ports.tlsPort), PLAN.runTimeoutMs, "TLS link", bare.exited));
    links.push(await within(tcpSystem(ports.tcpPort), PLAN.runTimeoutMs, "bare TCP connection", bare.exited));
    const bench: Bench = { app, b, bare, tls: links[0]!, tcp: links[1]!, duplicates: 0 };
    for (const c of CASES) {
      const started = performance.now();
      const result = await measure(c, bench);
      results.push(result);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.error(`  ${c.label}: Kaffix ${rate(result.kaffix.rate.median)} ${c.unit}, ${percent(result.vsTls)} of the TLS link [${seconds} s]`);
    }
    duplicates = bench.duplicates;
    await Promise.all([...links.splice(0).map((link) => link.close()), b.stop(), bare.stop()]); // fresh B's from here on
    const started = performance.now();
    startup = await measureStartup(app, token);
    console.error(`  time to first message: ${millis(startup.spawnToReplyMs)} from spawn [${((performance.now() - started) / 1000).toFixed(1)} s]`);
  } finally {
    await Promise.all([...links.map((link) => link.close()), b?.stop(), bare?.stop()]);
    await app.stop({ timeoutMs: 2000 });
  }
  print(results, startup, duplicates, info);
  console.log(`\n${markdown(results, startup, info)}\n`);
  writeResults(OUT, {
    benchmark: "cross-node",
    quick: QUICK,
    machine: { ...info, loadAverageAtEnd: loadAverage() },
    plan: { ...PLAN, window: WINDOW, inFlight: IN_FLIGHT, payloadBytes: PAYLOAD_BYTES, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
    aims: AIMS,
    moleculer: MOLECULER,
    duplicates,
    results,
    startup,
  });
  console.log(`wrote ${relative(process.cwd(), OUT)}`);
}

await runMain(main);
