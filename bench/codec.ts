// `node --import tsx bench/codec.ts`: encode and decode throughput of the payload codec, next to @msgpack/msgpack and JSON.

import { relative } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Packr, Unpackr } from "msgpackr";
import { Codec, DEFAULT_CODEC_LIMITS, MSGPACKR_OPTIONS } from "../src/wire/codec.js";
import { collectGarbage, machine, markdownTable, measuredBy, printTable, resultsPath, runMain, stats, writeResults, type Machine, type Stats } from "./harness.js";

const QUICK = process.argv.includes("--quick");
/** Timed runs per contender and case, and how long one run should last once warm. */
const PLAN = QUICK ? { runs: 3, targetMs: 15 } : { runs: 5, targetMs: 100 };
const OUT = resultsPath("codec", QUICK);
const MARK = { start: "<!-- bench:codec:start -->", end: "<!-- bench:codec:end -->" } as const;

// ── Messages ────────────────────────────────────────────────────────────────────────────────────

const MESSAGES = {
  small: { service: "SaveNumberService", id: 123456, body: { number: 42, user: "u-1234" } },
  medium: {
    service: "ReportService",
    id: 987654,
    items: Array.from({ length: 50 }, (_, i) => ({
      id: 100000 + i,
      name: `user-${i}`,
      email: `user${i}@example.com`,
      active: i % 2 === 0,
      score: i * 1.25 + 0.5,
      tags: ["a", "b"],
    })),
  },
} as const;
type MessageId = keyof typeof MESSAGES;

// ── Contenders ──────────────────────────────────────────────────────────────────────────────────

interface Contender {
  id: string;
  label: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Buffer): unknown;
}

const kaffix = new Codec();
const packr = new Packr({ ...MSGPACKR_OPTIONS });
const unpackr = new Unpackr({ ...MSGPACKR_OPTIONS });
const limits = DEFAULT_CODEC_LIMITS;
const encoder = new Encoder();
const decoder = new Decoder({
  maxStrLength: limits.maxStringBytes,
  maxBinLength: limits.maxBinaryBytes,
  maxArrayLength: limits.maxArrayLength,
  maxMapLength: limits.maxMapSize,
  maxExtLength: limits.maxBytes,
});

const CONTENDERS: Contender[] = [
  { id: "kaffix", label: "Kaffix codec (msgpackr + scan)", encode: (v) => kaffix.encode(v), decode: (b) => kaffix.decode(b) },
  { id: "msgpackr", label: "msgpackr, same options, no scan", encode: (v) => packr.pack(v), decode: (b) => unpackr.unpack(b) },
  { id: "msgpack", label: "@msgpack/msgpack with limits", encode: (v) => encoder.encode(v), decode: (b) => decoder.decode(b) },
  { id: "json", label: "JSON (baseline)", encode: (v) => Buffer.from(JSON.stringify(v)), decode: (b) => JSON.parse(b.toString()) },
];

// ── Measuring ───────────────────────────────────────────────────────────────────────────────────

type Op = "encode" | "decode";
/** Does one operation `size` times. */
type Run = (size: number) => void;

let sink = 0; // every run feeds it, so no work can be optimised away

function runFor(contender: Contender, op: Op, message: unknown): Run {
  if (op === "encode") {
    return (size) => {
      for (let i = 0; i < size; i++) sink += contender.encode(message).length;
    };
  }
  const bytes = Buffer.from(contender.encode(message));
  return (size) => {
    for (let i = 0; i < size; i++) if (contender.decode(bytes) !== null) sink++;
  };
}

function timed(run: Run, size: number): number {
  const started = performance.now();
  run(size);
  return (performance.now() - started) / 1000;
}

/** Grows a run until it takes the target time; the last growing run is the warm-up. */
function calibrate(run: Run): number {
  let size = 100;
  let seconds = timed(run, size);
  while (seconds * 1000 < PLAN.targetMs / 2) {
    size = Math.ceil(seconds * 1000 < PLAN.targetMs / 20 ? size * 10 : (size * PLAN.targetMs) / 1000 / seconds);
    seconds = timed(run, size);
  }
  return Math.max(1, Math.round((size * PLAN.targetMs) / 1000 / seconds));
}

interface Result {
  message: MessageId;
  op: Op;
  contender: string;
  label: string;
  /** Encoded size of the message in this contender's format. */
  bytes: number;
  opsPerSecond: Stats;
  /** Median MB/s (10^6 bytes) of encoded bytes written or read. */
  mbPerSecond: number;
  /** Median over JSON's median for the same message and operation. */
  vsJson: number;
}

/** Times every contender on one message and operation; contenders take turns, in a rotating order, so drift hits all alike. */
function measure(message: MessageId, op: Op): Result[] {
  const value = MESSAGES[message];
  const runs = CONTENDERS.map((c) => runFor(c, op, value));
  const sizes = runs.map(calibrate);
  const rates: number[][] = CONTENDERS.map(() => []);
  for (let r = 0; r < PLAN.runs; r++) {
    for (let k = 0; k < CONTENDERS.length; k++) {
      const i = (k + r) % CONTENDERS.length;
      collectGarbage();
      rates[i]!.push(sizes[i]! / timed(runs[i]!, sizes[i]!));
    }
  }
  const all = CONTENDERS.map((c, i) => {
    const bytes = c.encode(value).length;
    const opsPerSecond = stats(sizes[i]!, rates[i]!);
    return { message, op, contender: c.id, label: c.label, bytes, opsPerSecond, mbPerSecond: (opsPerSecond.median * bytes) / 1e6, vsJson: 0 };
  });
  const json = all.find((r) => r.contender === "json")!.opsPerSecond.median;
  for (const r of all) r.vsJson = r.opsPerSecond.median / json;
  return all;
}

/** Every contender must give back what it was given, or its numbers mean nothing. */
function checkRoundTrips(): void {
  for (const [id, value] of Object.entries(MESSAGES)) {
    for (const c of CONTENDERS) {
      const back = c.decode(Buffer.from(c.encode(value)));
      if (!isDeepStrictEqual(back, value)) throw new Error(`${c.label} does not round-trip the ${id} message`);
    }
  }
}

// ── Reporting ───────────────────────────────────────────────────────────────────────────────────

const rate = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);
const ratio = (x: number) => `${x.toFixed(2)}×`;

function rows(results: Result[]): string[][] {
  return results.map((r) => [
    `${r.message} (${r.op})`,
    r.label,
    `${r.bytes} B`,
    `${rate(r.opsPerSecond.median)} ops/s`,
    `${r.mbPerSecond.toFixed(0)} MB/s`,
    `${rate(r.opsPerSecond.min)} – ${rate(r.opsPerSecond.max)}`,
    ratio(r.vsJson),
  ]);
}

/** What the pre-scan costs: the guarded codec's median over unguarded msgpackr's, per message and operation. */
function scanCost(results: Result[]): string {
  const parts: string[] = [];
  for (const message of Object.keys(MESSAGES) as MessageId[]) {
    for (const op of ["encode", "decode"] as const) {
      const of = (id: string) => results.find((r) => r.message === message && r.op === op && r.contender === id)!.opsPerSecond.median;
      parts.push(`${message} ${op} ${Math.round((1 - of("kaffix") / of("msgpackr")) * 100)}%`);
    }
  }
  return `Cost of the scan (Kaffix codec vs msgpackr without it): ${parts.join(", ")}.`;
}

function print(results: Result[], info: Machine): void {
  console.log(`\nKaffix codec benchmark${QUICK ? " (--quick: smoke test, numbers are rough)" : ""}`);
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date}; median of ${PLAN.runs} runs\n`);
  printTable(["message", "codec", "size", "median", "throughput", "min – max", "vs JSON"], rows(results), 2);
  console.log(`\n${scanCost(results)}`);
}

function markdown(results: Result[], info: Machine): string {
  return [
    MARK.start,
    `${measuredBy("node --import tsx bench/codec.ts", info)}; median of ${PLAN.runs} runs. Throughput counts the encoded bytes in each codec's own format.`,
    "",
    ...markdownTable(["Message (op)", "Codec", "Size", "Median", "Throughput", "Min – max", "vs JSON"], rows(results), 2),
    "",
    scanCost(results),
    MARK.end,
  ].join("\n");
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────────

function main(): void {
  const info = machine();
  checkRoundTrips();
  const results: Result[] = [];
  for (const message of Object.keys(MESSAGES) as MessageId[]) {
    for (const op of ["encode", "decode"] as const) {
      const started = performance.now();
      const measured = measure(message, op);
      results.push(...measured);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.error(`  ${message} ${op}: ${measured.map((r) => `${r.contender} ${rate(r.opsPerSecond.median)}`).join(", ")} [${seconds} s]`);
    }
  }
  print(results, info);
  console.log(`\n${markdown(results, info)}\n`);
  const messageBytes = Object.fromEntries(Object.entries(MESSAGES).map(([id, value]) => [id, kaffix.encode(value).length]));
  writeResults(OUT, { benchmark: "codec", quick: QUICK, machine: info, plan: PLAN, limits, messageBytes, results });
  console.log(`wrote ${relative(process.cwd(), OUT)} (sink ${sink > 0 ? "fed" : "empty"})`);
}

await runMain(main);
