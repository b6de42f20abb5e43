// `npm run bench`: one node's local publish and request throughput, as ratios to a bare in-process call timed in the same run.

import { relative } from "node:path";
import { App, Service, type Context } from "../src/index.js";
import { calibrate, collectGarbage, exitWhenHung, machine, markdownTable, measuredBy, printTable, resultsPath, runMain, stats, writeResults, type Machine, type Stats } from "./harness.js";

const QUICK = process.argv.includes("--quick");
/** Timed runs per side of a case, and how long one run should last once warm. */
const PLAN = QUICK ? { runs: 3, targetMs: 40, watchdogMs: 60_000 } : { runs: 5, targetMs: 500, watchdogMs: 300_000 };
const BATCH = 1000; // publishes in flight per Promise.all in the pipelined cases
const IN_FLIGHT = 100; // concurrent request loops
const AIMS = { publish: 3_000_000, request: 1_000_000 } as const;
const OUT = resultsPath("local", QUICK);
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

/** Seconds one run of `size` took; throws when not every operation reached its handler. */
async function timed(run: Run, size: number): Promise<number> {
  handled = 0;
  const started = performance.now();
  await run(size);
  const seconds = (performance.now() - started) / 1000;
  if (handled !== size) throw new Error(`a run of ${size} handled ${handled}: the benchmark measured lost work`);
  return seconds;
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
  const kaffixSize = await calibrate((size) => timed(c.kaffix, size), c.step, PLAN.targetMs);
  const bareSize = await calibrate((size) => timed(c.bare.run, size), c.step, PLAN.targetMs);
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

/** One row per case: the cells of both the console and the markdown table. */
function rows(results: Result[]): string[][] {
  return results.map((r) => [
    r.label,
    `${rate(r.kaffix.median)} ${r.unit}`,
    `${rate(r.kaffix.min)} – ${rate(r.kaffix.max)}`,
    `${rate(r.bare.median)} ${r.unit}`,
    percent(r.vsBare),
    aimCell(r),
  ]);
}

function print(results: Result[], info: Machine): void {
  console.log(`\nKaffix local benchmark${QUICK ? " (--quick: smoke test, numbers are rough)" : ""}`);
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date}; median of ${PLAN.runs} runs per case\n`);
  const widths = printTable(["case", "Kaffix median", "min – max", "bare median", "vs bare", "vs aim"], rows(results));
  console.log("\nbare baselines (same handler, no runtime):");
  for (const r of results) console.log(`  ${r.label.padEnd(widths[0]!)}   ${r.bare.label}`);
}

function markdown(results: Result[], info: Machine): string {
  const header = ["Case", "Kaffix (median)", "Min – max", "Bare baseline (median)", "vs bare", "vs aim"];
  return [MARK.start, `${measuredBy("npm run bench", info)}; median of ${PLAN.runs} runs.`, "", ...markdownTable(header, rows(results)), MARK.end].join("\n");
}

// ── Main ──────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  exitWhenHung(PLAN.watchdogMs);
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
  print(results, info);
  console.log(`\n${markdown(results, info)}\n`);
  writeResults(OUT, { benchmark: "local", quick: QUICK, machine: info, plan: { ...PLAN, batch: BATCH, inFlight: IN_FLIGHT }, aims: AIMS, results });
  console.log(`wrote ${relative(process.cwd(), OUT)}`);
}

await runMain(main);
