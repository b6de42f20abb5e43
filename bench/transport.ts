// `node --import tsx bench/transport.ts`: messages/s and round trips to a second process, TlsTransport next to a bare framed TCP socket.

import { randomBytes } from "node:crypto";
import { relative } from "node:path";
import { calibrate, collectGarbage, exitWhenHung, loadAverage, machine, markdownTable, measuredBy, printTable, resultsPath, runMain, spread, writeResults, type Machine, type Spread } from "./harness.js";
import { Kind, PeerProcess, tcpSystem, tlsSystem, u32, within, type Channel, type SinkReport, type System } from "./transport-peer.js";

const QUICK = process.argv.includes("--quick");
/** `--only <case id>` runs one case, e.g. under `node --cpu-prof`. */
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
/** Timed runs per system and case, how long one run should last once warm, and the bounds that stop a hang. */
const PLAN = QUICK
  ? { runs: 3, targetMs: 40, runTimeoutMs: 10_000, watchdogMs: 60_000 }
  : { runs: 5, targetMs: 600, runTimeoutMs: 15_000, watchdogMs: 180_000 };
const PAYLOAD_BYTES = { small: 100, medium: 4096 } as const;
const IN_FLIGHT = 100;
/** From the issue: small messages over TLS at ≥ 500,000 msg/s and at ≥ 50% of the bare TCP rate. */
const AIMS = { smallRate: 500_000, smallVsBare: 0.5 } as const;
const OUT = resultsPath("transport", QUICK);
const MARK = { start: "<!-- bench:transport:start -->", end: "<!-- bench:transport:end -->" } as const;

// ── Cases ───────────────────────────────────────────────────────────────────────────────────────

interface Case {
  id: string;
  label: string;
  kind: "stream" | "requests";
  payloadBytes: number;
  /** Requests in flight (requests only). */
  loops: number;
  /** Run sizes are multiples of this. */
  step: number;
}

const CASES: Case[] = [
  { id: "stream-small", label: `one-way, ${PAYLOAD_BYTES.small} B payloads`, kind: "stream", payloadBytes: PAYLOAD_BYTES.small, loops: 0, step: 1000 },
  { id: "stream-medium", label: `one-way, ${PAYLOAD_BYTES.medium} B payloads`, kind: "stream", payloadBytes: PAYLOAD_BYTES.medium, loops: 0, step: 100 },
  { id: "request-sequential", label: `request/reply, 1 in flight, ${PAYLOAD_BYTES.small} B`, kind: "requests", payloadBytes: PAYLOAD_BYTES.small, loops: 1, step: 100 },
  {
    id: "request-concurrent",
    label: `request/reply, ${IN_FLIGHT} in flight, ${PAYLOAD_BYTES.small} B`,
    kind: "requests",
    payloadBytes: PAYLOAD_BYTES.small,
    loops: IN_FLIGHT,
    step: IN_FLIGHT,
  },
];

/** Sends while the channel takes them, waits when it says no. */
async function sendWithBackPressure(channel: Channel, payload: Uint8Array): Promise<void> {
  while (!channel.send(payload)) await channel.whenWritable();
}

/** `n` SINKs as fast as the channel takes them, then an END; done when the peer's REPORT is back. */
async function stream(system: System, n: number, payloadBytes: number): Promise<void> {
  const { channel } = system;
  const reported = new Promise<SinkReport>((resolve) => {
    system.receive = (payload) => {
      if (payload[0] === Kind.REPORT) resolve(JSON.parse(Buffer.from(payload.buffer, payload.byteOffset + 1, payload.length - 1).toString()));
    };
  });
  const payload = Buffer.alloc(payloadBytes, 0x2a);
  payload[0] = Kind.SINK;
  for (let i = 0; i < n; i++) {
    payload.writeUInt32BE(i, 1); // safe to reuse: both channels copy on send
    if (!channel.send(payload)) await sendWithBackPressure(channel, payload);
  }
  await sendWithBackPressure(channel, Uint8Array.of(Kind.END));
  const report = await reported;
  if (report.count !== n || report.bytes !== n * payloadBytes || report.outOfOrder !== 0) {
    throw new Error(`${system.id}: sent ${n} messages, the peer reported ${JSON.stringify(report)}: the benchmark measured lost work`);
  }
}

/** `n` requests from `loops` concurrent loops that each await their echo; resolves with every round trip's milliseconds. */
async function requests(system: System, n: number, loops: number, payloadBytes: number): Promise<Float64Array> {
  const per = n / loops;
  const latencies = new Float64Array(n);
  const waiting = new Array<((payload: Uint8Array) => void) | undefined>(loops);
  system.receive = (payload) => {
    const resolve = waiting[u32(payload, 1)];
    if (payload[0] !== Kind.REQUEST || resolve === undefined) throw new Error(`${system.id}: an echo nobody waits for`);
    resolve(payload);
  };
  const loop = async (slot: number): Promise<void> => {
    const payload = Buffer.alloc(payloadBytes, 0x2a);
    payload[0] = Kind.REQUEST;
    payload.writeUInt32BE(slot, 1);
    for (let i = 0; i < per; i++) {
      payload.writeUInt32BE(i, 5);
      const echoed = new Promise<Uint8Array>((resolve) => (waiting[slot] = resolve));
      const started = performance.now();
      if (!system.channel.send(payload)) await sendWithBackPressure(system.channel, payload);
      const echo = await echoed;
      latencies[slot * per + i] = performance.now() - started;
      if (echo.length !== payloadBytes || u32(echo, 5) !== i) throw new Error(`${system.id}: slot ${slot} got a wrong echo`);
    }
    waiting[slot] = undefined;
  };
  const all: Promise<void>[] = [];
  for (let slot = 0; slot < loops; slot++) all.push(loop(slot));
  await Promise.all(all);
  return latencies;
}

// ── Measuring ───────────────────────────────────────────────────────────────────────────────────

interface Run {
  seconds: number;
  /** Round trips, sorted, in milliseconds (requests only). */
  latencies: Float64Array | undefined;
}

async function timed(c: Case, system: System, size: number, peer: PeerProcess): Promise<Run> {
  const started = performance.now();
  let latencies: Float64Array | undefined;
  const work = c.kind === "stream" ? stream(system, size, c.payloadBytes) : requests(system, size, c.loops, c.payloadBytes).then((l) => void (latencies = l));
  await within(work, PLAN.runTimeoutMs, `${c.id} over ${system.id}, ${size} messages`, peer.exited);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, latencies: latencies?.sort() };
}

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: Float64Array, q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
const tenths = (n: number) => Math.round(n * 10) / 10;
const micros = (ms: number) => tenths(ms * 1000);

interface Side {
  label: string;
  size: number;
  rates: number[];
  rate: Spread;
  /** Payload bytes per second, in MB (10^6 bytes). */
  megabytesPerSecond: Spread;
  /** Per run, then the median over runs (requests only). */
  p50Micros: number[] | undefined;
  p99Micros: number[] | undefined;
  p50: number | undefined;
  p99: number | undefined;
}

interface Result {
  id: string;
  label: string;
  unit: "msg/s" | "req/s";
  payloadBytes: number;
  tls: Side;
  tcp: Side;
  /** TLS median rate over bare TCP median rate. */
  tlsVsTcp: number;
  aims: { rate: boolean; vsBare: boolean } | undefined;
}

function side(c: Case, system: System, size: number, runs: Run[]): Side {
  const rates = runs.map((r) => size / r.seconds);
  const lat = c.kind === "requests" ? runs.map((r) => r.latencies!) : undefined;
  const p50Micros = lat?.map((l) => micros(percentile(l, 0.5)));
  const p99Micros = lat?.map((l) => micros(percentile(l, 0.99)));
  return {
    label: system.label,
    size,
    rates: rates.map(Math.round),
    rate: spread(rates),
    megabytesPerSecond: spread(rates.map((r) => (r * c.payloadBytes) / 1e6), tenths),
    p50Micros,
    p99Micros,
    p50: p50Micros && spread(p50Micros, tenths).median,
    p99: p99Micros && spread(p99Micros, tenths).median,
  };
}

/** Sizes each system on its own, then alternates their timed runs, so drift on a shared machine hits both alike. */
async function measure(c: Case, systems: { tls: System; tcp: System }, peer: PeerProcess): Promise<Result> {
  const calibrated = (system: System) => calibrate(async (size) => (await timed(c, system, size, peer)).seconds, c.step, PLAN.targetMs);
  const sizes = { tls: await calibrated(systems.tls), tcp: await calibrated(systems.tcp) };
  const runs: { tls: Run[]; tcp: Run[] } = { tls: [], tcp: [] };
  for (let r = 0; r < PLAN.runs; r++) {
    for (const id of r % 2 === 0 ? (["tls", "tcp"] as const) : (["tcp", "tls"] as const)) {
      collectGarbage();
      await peer.gc();
      runs[id].push(await timed(c, systems[id], sizes[id], peer));
    }
  }
  const tls = side(c, systems.tls, sizes.tls, runs.tls);
  const tcp = side(c, systems.tcp, sizes.tcp, runs.tcp);
  const tlsVsTcp = tls.rate.median / tcp.rate.median;
  const aims = c.id === "stream-small" ? { rate: tls.rate.median >= AIMS.smallRate, vsBare: tlsVsTcp >= AIMS.smallVsBare } : undefined;
  const unit = c.kind === "stream" ? "msg/s" : "req/s";
  return { id: c.id, label: c.label, unit, payloadBytes: c.payloadBytes, tls, tcp, tlsVsTcp, aims };
}

// ── Reporting ───────────────────────────────────────────────────────────────────────────────────

const rate = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)} k`);
const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const latency = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`);
const mark = (ok: boolean) => (ok ? "✓" : "✗");

function aimCell(r: Result): string {
  if (r.aims === undefined) return "—";
  return `≥ ${rate(AIMS.smallRate)}/s ${mark(r.aims.rate)}, ≥ ${percent(AIMS.smallVsBare)} of bare ${mark(r.aims.vsBare)}`;
}

interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

function tables(results: Result[]): Table[] {
  const streams = results.filter((r) => r.unit === "msg/s");
  const calls = results.filter((r) => r.unit === "req/s");
  const span = (s: Side) => `${rate(s.rate.min)} – ${rate(s.rate.max)}`;
  const out: Table[] = [];
  if (streams.length > 0) {
    out.push({
      title: "One-way messages, parent → peer (MB/s counts payload bytes)",
      header: ["Case", "TLS (median)", "Min – max", "TLS MB/s", "Bare TCP (median)", "Min – max", "Bare MB/s", "TLS / bare", "Aim"],
      rows: streams.map((r) => [
        r.label,
        `${rate(r.tls.rate.median)} ${r.unit}`,
        span(r.tls),
        r.tls.megabytesPerSecond.median.toFixed(0),
        `${rate(r.tcp.rate.median)} ${r.unit}`,
        span(r.tcp),
        r.tcp.megabytesPerSecond.median.toFixed(0),
        percent(r.tlsVsTcp),
        aimCell(r),
      ]),
    });
  }
  if (calls.length > 0) {
    out.push({
      title: "Request/reply, the peer echoes (latency: median over runs of each run's p50 / p99)",
      header: ["Case", "TLS (median)", "Min – max", "TLS p50 / p99", "Bare TCP (median)", "Min – max", "Bare p50 / p99", "TLS / bare"],
      rows: calls.map((r) => [
        r.label,
        `${rate(r.tls.rate.median)} ${r.unit}`,
        span(r.tls),
        `${latency(r.tls.p50!)} / ${latency(r.tls.p99!)}`,
        `${rate(r.tcp.rate.median)} ${r.unit}`,
        span(r.tcp),
        `${latency(r.tcp.p50!)} / ${latency(r.tcp.p99!)}`,
        percent(r.tlsVsTcp),
      ]),
    });
  }
  return out;
}

function printTables(results: Result[], info: Machine): void {
  console.log(`\nKaffix transport benchmark${QUICK ? " (--quick: smoke test, numbers are rough)" : ""}: two processes on 127.0.0.1`);
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date}; median of ${PLAN.runs} runs per system and case`);
  for (const { title, header, rows } of tables(results)) {
    console.log(`\n${title}\n`);
    printTable(header, rows);
  }
}

function markdown(results: Result[], info: Machine): string {
  const lines = [
    MARK.start,
    `${measuredBy("node --import tsx bench/transport.ts", info)}; two processes on 127.0.0.1, median of ${PLAN.runs} runs.`,
  ];
  for (const { title, header, rows } of tables(results)) lines.push("", `${title}:`, "", ...markdownTable(header, rows));
  lines.push(MARK.end);
  return lines.join("\n");
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const cases = CASES.filter((c) => ONLY === undefined || c.id === ONLY);
  if (cases.length === 0) throw new Error(`--only ${ONLY}: no such case; the cases are ${CASES.map((c) => c.id).join(", ")}`);
  exitWhenHung(PLAN.watchdogMs); // the peer sees its stdin close and exits too
  const info = machine();
  const token = randomBytes(24).toString("base64url");
  const peer = new PeerProcess(token, PLAN.runTimeoutMs);
  const systems: { tls?: System; tcp?: System } = {};
  const results: Result[] = [];
  try {
    const ports = JSON.parse(await peer.nextLine()) as { tlsPort: number; tcpPort: number };
    systems.tls = await within(tlsSystem(token, ports.tlsPort), PLAN.runTimeoutMs, "TLS link", peer.exited);
    systems.tcp = await within(tcpSystem(ports.tcpPort), PLAN.runTimeoutMs, "bare TCP connection", peer.exited);
    for (const c of cases) {
      const started = performance.now();
      const result = await measure(c, { tls: systems.tls, tcp: systems.tcp }, peer);
      results.push(result);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.error(`  ${c.label}: TLS ${rate(result.tls.rate.median)} ${result.unit}, ${percent(result.tlsVsTcp)} of bare TCP [${seconds} s]`);
    }
  } finally {
    await Promise.all([systems.tls?.close(), systems.tcp?.close()]);
    await peer.stop();
  }
  printTables(results, info);
  console.log(`\n${markdown(results, info)}\n`);
  if (ONLY === undefined) {
    writeResults(OUT, {
      benchmark: "transport",
      quick: QUICK,
      only: ONLY,
      machine: { ...info, loadAverageAtEnd: loadAverage() },
      plan: { ...PLAN, inFlight: IN_FLIGHT, payloadBytes: PAYLOAD_BYTES },
      aims: AIMS,
      results,
    });
    console.log(`wrote ${relative(process.cwd(), OUT)}`);
  }
}

await runMain(main);
