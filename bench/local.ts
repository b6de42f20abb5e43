// `npm run bench`: one node's local publish and request throughput, as ratios to a bare in-process call timed in the same run.

import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { App, Service, type Context } from "../src/index.js";

const QUICK = process.argv.includes("--quick");
/** Timed runs per side of a case, and how long one run should last once warm. */
const PLAN = QUICK ? { runs: 3, targetMs: 40, watchdogMs: 60_000 } : { runs: 5, targetMs: 500, watchdogMs: 300_000 };
const BATCH = 1000; // publishes in flight per Promise.all in the pipelined cases
const IN_FLIGHT = 100; // concurrent request loops
const AIMS = { publish: 3_000_000, request: 1_000_000 } as const;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "bench", "results", QUICK ? "local-quick.json" : "local.json");
const MARK = { start: "<!-- bench:local:start -->", end: "<!-- bench:local:end -->" } as const;

// ── The work: the same handlers back the Kaffix services and the bare baseline ─────────────────

interface Num {
  number: number;
}
let handled = 0; // handler calls that did their work; checked after every run

function save(message: Num): void {
  if (message.number >= 0) handled++;
}
function echo(message: Num): number {
  return message.number + 1;
}

class Sink extends Service<Num> {
  onMessage(message: Num): void {
    save(message);
  }
}
class Echo extends Service<Num, number> {
  onMessage(message: Num): number {
    return echo(message);
  }
}
class Save extends Service<Num> {
  onMessage(message: Num): void {
    save(message);
  }
}
// As in the design notes' example: a synchronous handler that publishes onward without awaiting.
class Double extends Service<Num> {
  onMessage(message: Num, ctx: Context): void {
    void ctx.publish(Save, { number: message.number * 2 });
  }
}

const app = new App({ name: "kaffix-bench" }).addService(Sink).addService(Echo).addService(Double).addService(Save);

// ── Cases: each pairs a Kaffix run with the bare dispatch of the same work ──────────────────────

/** Does `size` operations; resolves once every one has been handled. */
type Run = (size: number) => Promise<void>;

interface Case {
  id: string;
  label: string;
  unit: "msg/s" | "req/s";
  aim: number | undefined;
  /** Sizes are multiples of this, so batches and loops divide evenly. */
  step: number;
  kaffix: Run;
  bare: { label: string; run: Run };
}

/** `size` messages, pushed through `send` in batches of BATCH that are awaited together. */
async function pipelined(size: number, send: (message: Num) => Promise<unknown>): Promise<void> {
  const batch = new Array<Promise<unknown>>(BATCH);
  for (let i = 0; i < size; i += BATCH) {
    for (let j = 0; j < BATCH; j++) batch[j] = send({ number: i + j });
    await Promise.all(batch);
  }
}

/** `size` requests from `loops` concurrent loops that each await one reply at a time. */
async function requests(size: number, loops: number, call: (message: Num) => Promise<number>): Promise<void> {
  const per = size / loops;
  let replies = 0;
  const loop = async (from: number) => {
    for (let i = from; i < from + per; i++) if ((await call({ number: i })) === i + 1) replies++;
  };
  const all: Promise<void>[] = [];
  for (let k = 0; k < loops; k++) all.push(loop(k * per));
  await Promise.all(all);
  handled += replies;
}

const bareEcho = async (message: Num): Promise<number> => echo(message);
const bareSave = (message: Num): Promise<void> => Promise.resolve(message).then(save);
const bareDouble = (message: Num): Promise<void> => bareSave({ number: message.number * 2 });

const CASES: Case[] = [
  {
    id: "publish-awaited",
    label: "publish, each awaited",
    unit: "msg/s",
    aim: AIMS.publish,
    step: 1,
    async kaffix(size) {
      for (let i = 0; i < size; i++) await app.publish(Sink, { number: i });
      await app.whenIdle();
    },
    bare: {
      label: "await Promise.resolve(); handler(msg)",
      async run(size) {
        for (let i = 0; i < size; i++) {
          const message = { number: i };
          await Promise.resolve();
          save(message);
        }
      },
    },
  },
  {
    id: "publish-pipelined",
    label: `publish, batches of ${BATCH}`,
    unit: "msg/s",
    aim: AIMS.publish,
    step: BATCH,
    async kaffix(size) {
      await pipelined(size, (message) => app.publish(Sink, message));
      await app.whenIdle();
    },
    bare: { label: `Promise.all of ${BATCH} Promise.resolve(msg).then(handler)`, run: (size) => pipelined(size, bareSave) },
  },
  {
    id: "request-sequential",
    label: "request, one at a time",
    unit: "req/s",
    aim: AIMS.request,
    step: 1,
    kaffix: (size) => requests(size, 1, (message) => app.request(Echo, message)),
    bare: { label: "await asyncHandler(msg)", run: (size) => requests(size, 1, bareEcho) },
  },
  {
    id: "request-concurrent",
    label: `request, ${IN_FLIGHT} in flight`,
    unit: "req/s",
    aim: AIMS.request,
    step: IN_FLIGHT,
    kaffix: (size) => requests(size, IN_FLIGHT, (message) => app.request(Echo, message)),
    bare: { label: `${IN_FLIGHT} loops of await asyncHandler(msg)`, run: (size) => requests(size, IN_FLIGHT, bareEcho) },
  },
  {
    id: "chain",
    label: `Double → Save chain, batches of ${BATCH}`,
    unit: "msg/s",
    aim: undefined,
    step: BATCH,
    async kaffix(size) {
      await pipelined(size, (message) => app.publish(Double, message));
      await app.whenIdle();
    },
    bare: { label: "two chained Promise.resolve(msg).then(handler)", run: (size) => pipelined(size, bareDouble) },
  },
];

// ── Measuring ─────────────────────────────────────────────────────────────────────────────────

setFlagsFromString("--expose-gc");
const gcFromFlag: unknown = runInNewContext("gc");
/** A full collection between runs, so one run's garbage is not billed to the next. */
const collectGarbage = typeof gcFromFlag === "function" ? (gcFromFlag as () => void) : () => {};

/** Seconds one run of `size` took; throws when not every operation reached its handler. */
async function timed(run: Run, size: number): Promise<number> {
  handled = 0;
  const started = performance.now();
  await run(size);
  const seconds = (performance.now() - started) / 1000;
  if (handled !== size) throw new Error(`a run of ${size} handled ${handled}: the benchmark measured lost work`);
  return seconds;
}

/** The size that would take the target time at this run's rate: two significant digits, a multiple of `step` (a power of ten). */
function sizeFor(size: number, seconds: number, step: number): number {
  const wanted = (size * PLAN.targetMs) / 1000 / Math.max(seconds, 1e-6);
  const unit = Math.max(step, 10 ** Math.floor(Math.log10(Math.max(wanted, 1)) - 1));
  return Math.max(unit, Math.round(wanted / unit) * unit);
}

/** Grows a run until it takes a quarter of the target, then runs once at full size (the warm-up) and sizes from that. */
async function calibrate(run: Run, step: number): Promise<number> {
  let size = step;
  let seconds = await timed(run, size);
  while (seconds * 1000 < PLAN.targetMs / 4) {
    size = seconds * 1000 < PLAN.targetMs / 40 ? size * 10 : sizeFor(size, seconds, step);
    seconds = await timed(run, size);
  }
  size = sizeFor(size, seconds, step);
  return sizeFor(size, await timed(run, size), step);
}

interface Stats {
  size: number;
  rates: number[];
  median: number;
  min: number;
  max: number;
}

function stats(size: number, rates: number[]): Stats {
  const sorted = [...rates].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { size, rates: rates.map(Math.round), median: Math.round(median), min: Math.round(sorted[0]!), max: Math.round(sorted.at(-1)!) };
}

interface Result {
  id: string;
  label: string;
  unit: string;
  aim: number | undefined;
  kaffix: Stats;
  bare: Stats & { label: string };
  /** Kaffix median over bare median. */
  vsBare: number;
  vsAim: number | undefined;
}

/** Alternates Kaffix and bare runs, so drift on a shared machine hits both sides alike. */
async function measure(c: Case): Promise<Result> {
  const kaffixSize = await calibrate(c.kaffix, c.step);
  const bareSize = await calibrate(c.bare.run, c.step);
  const kaffixRates: number[] = [];
  const bareRates: number[] = [];
  for (let r = 0; r < PLAN.runs; r++) {
    collectGarbage();
    kaffixRates.push(kaffixSize / (await timed(c.kaffix, kaffixSize)));
    collectGarbage();
    bareRates.push(bareSize / (await timed(c.bare.run, bareSize)));
  }
  const kaffix = stats(kaffixSize, kaffixRates);
  const bare = { label: c.bare.label, ...stats(bareSize, bareRates) };
  const vsAim = c.aim === undefined ? undefined : kaffix.median / c.aim;
  return { id: c.id, label: c.label, unit: c.unit, aim: c.aim, kaffix, bare, vsBare: kaffix.median / bare.median, vsAim };
}

// ── Reporting ─────────────────────────────────────────────────────────────────────────────────

const rate = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);
const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const aimCell = (r: Result) => (r.vsAim === undefined ? "—" : `${percent(r.vsAim)} of ${rate(r.aim!)} ${r.vsAim >= 1 ? "✓" : "✗"}`);

function machine() {
  let commit: string | undefined;
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
    commit = dirty === "" ? head : `${head} (src modified)`;
  } catch {
    commit = undefined; // not a git checkout: the report just lacks the commit
  }
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? "unknown",
    cores: cores.length,
    node: process.version,
    platform: `${platform()} ${arch()}`,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    commit,
    date: new Date().toISOString(),
  };
}

function printTable(results: Result[], info: ReturnType<typeof machine>): void {
  const header = ["case", "Kaffix median", "min – max", "bare median", "vs bare", "vs aim"];
  const rows = results.map((r) => [
    r.label,
    `${rate(r.kaffix.median)} ${r.unit}`,
    `${rate(r.kaffix.min)} – ${rate(r.kaffix.max)}`,
    `${rate(r.bare.median)} ${r.unit}`,
    percent(r.vsBare),
    aimCell(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("   ");
  console.log(`\nKaffix local benchmark${QUICK ? " (--quick: smoke test, numbers are rough)" : ""}`);
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date}; median of ${PLAN.runs} runs per case\n`);
  console.log(line(header));
  console.log(widths.map((w) => "─".repeat(w)).join("   "));
  for (const row of rows) console.log(line(row));
  console.log("\nbare baselines (same handler, no runtime):");
  for (const r of results) console.log(`  ${r.label.padEnd(widths[0]!)}   ${r.bare.label}`);
}

function markdown(results: Result[], info: ReturnType<typeof machine>): string {
  const lines = [
    MARK.start,
    `Measured by \`npm run bench\` on ${info.cpu} (${info.cores} cores), Node ${info.node}, ${info.date.slice(0, 10)}` +
      `${info.commit === undefined ? "" : `, commit ${info.commit}`}; median of ${PLAN.runs} runs.`,
    "",
    "| Case | Kaffix (median) | Min – max | Bare baseline (median) | vs bare | vs aim |",
    "|---|---:|---:|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.label} | ${rate(r.kaffix.median)} ${r.unit} | ${rate(r.kaffix.min)} – ${rate(r.kaffix.max)} | ` +
        `${rate(r.bare.median)} ${r.unit} | ${percent(r.vsBare)} | ${aimCell(r)} |`,
    ),
    MARK.end,
  ];
  return lines.join("\n");
}

function writeJson(results: Result[], info: ReturnType<typeof machine>): void {
  const body = { benchmark: "local", quick: QUICK, machine: info, plan: { ...PLAN, batch: BATCH, inFlight: IN_FLIGHT }, aims: AIMS, results };
  mkdirSync(dirname(OUT), { recursive: true });
  const tmp = `${OUT}.tmp`; // written whole, then renamed: a crash never leaves half a file
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(tmp, OUT);
}

// ── Main ──────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${PLAN.watchdogMs / 1000} s; something hangs`);
    process.exit(1);
  }, PLAN.watchdogMs);
  watchdog.unref();
  const info = machine();
  const results: Result[] = [];
  await app.start({ port: 0, logLevel: "silent" });
  try {
    for (const c of CASES) {
      const started = performance.now();
      const result = await measure(c);
      results.push(result);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.error(`  ${c.label}: ${rate(result.kaffix.median)} ${c.unit} (${percent(result.vsBare)} of bare) [${seconds} s]`);
    }
  } finally {
    await app.stop();
  }
  printTable(results, info);
  console.log(`\n${markdown(results, info)}\n`);
  writeJson(results, info);
  console.log(`wrote ${relative(process.cwd(), OUT)}`);
}

try {
  await main();
} catch (error) {
  console.error("bench crashed:", error);
  process.exitCode = 1;
}
