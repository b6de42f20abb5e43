// The report of bench/compare.ts: the aims, the tables (terminal and markdown), and the ratios the chart draws.

import type { CaseId, CaseResult, Memory, Side, Startup, Trial } from "./compare-cases.js";
import { CALL_TIMEOUT_MS, rate } from "./compare-cases.js";
import type { PublishKill, RequestKill } from "./compare-kill.js";
import { SERIALIZERS, type SystemId } from "./compare-nodes.js";
import { median } from "./harness.js";

/** From the issue: Kaffix ÷ Moleculer at least this, or (p99) Moleculer ÷ Kaffix; Kaffix ÷ bare TCP for small cross-node publishes. */
export const AIMS = { local: 3, requestRate: 5, requestP99Lower: 3, publish: 6, publishVsBare: 0.5 } as const;

export interface Kill {
  runs: number;
  publish: Record<SystemId, PublishKill[]>;
  request: Record<SystemId, RequestKill[]>;
}

export interface Summary {
  local: CaseResult[];
  trial: Trial;
  crossNode: CaseResult[];
  memory: Record<SystemId, Memory>;
  startup: Startup;
  kill: Kill;
}

/** One bar of the chart: Kaffix's advantage, oriented so that more than 1 means Kaffix is better. */
export interface Ratio {
  label: string;
  /** Kaffix ÷ Moleculer for rates; Moleculer ÷ Kaffix for latency, memory and time. */
  advantage: number;
  /** What the bar reads as, e.g. "5.5× the rate" or "3.1× lower". */
  reading: string;
  aim?: number;
}

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

const mark = (ok: boolean) => (ok ? "✓" : "✗");
const times = (x: number) => `${x >= 10 ? x.toFixed(0) : x.toFixed(x >= 1 ? 1 : 2)}×`;
const latency = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us >= 10 ? Math.round(us) : us.toFixed(1)} µs`);
const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** Lower is better: the reading of Moleculer ÷ Kaffix. */
const lower = (kaffix: number, moleculer: number) => {
  const advantage = moleculer / kaffix;
  return { advantage, reading: advantage >= 1 ? `${times(advantage)} lower` : `${times(1 / advantage)} higher` };
};

function rateAim(id: CaseId): number {
  if (id.startsWith("local")) return AIMS.local;
  if (id === "publish") return AIMS.publish;
  return AIMS.requestRate;
}

function aimCell(ratio: Ratio): string {
  if (ratio.aim === undefined) return "—";
  const what = ratio.reading.endsWith("lower") || ratio.reading.endsWith("higher") ? `≥ ${times(ratio.aim)} lower` : `≥ ${times(ratio.aim)}`;
  return `${what} ${mark(ratio.advantage >= ratio.aim)}`;
}

function rateCell(side: Side | undefined, unit: string): string {
  return side === undefined ? "—" : `${rate(side.rate.median)} ${unit} (${rate(side.rate.min)} – ${rate(side.rate.max)})`;
}

const round = (side: Side | undefined) => (side?.p50Us === undefined ? "—" : `${latency(side.p50Us.median)} / ${latency(side.p99Us!.median)}`);
const ms = (x: { median: number; min: number; max: number }) => `${Math.round(x.median)} ms (${Math.round(x.min)} – ${Math.round(x.max)})`;
const mib = (n: number) => `${n.toFixed(0)} MiB`;

/** The cases' names in the chart, where a label has about 50 characters of room. */
const SHORT: Record<CaseId, string> = {
  "local-publish": "local publish → handler",
  "local-request-1": "local request/reply, 1 at a time",
  "local-request-100": "local request/reply, 100 in flight",
  publish: "cross-node publish",
  "request-1": "cross-node request/reply, 1 in flight",
  "request-100": "cross-node request/reply, 100 in flight",
};

/** A row of the main table, and the comparison it makes (drawn as a bar) when it makes one. */
interface Line {
  cells: string[];
  ratio?: Ratio;
}

function caseLines(r: CaseResult): Line[] {
  const { kaffix, moleculer, moleculerTimeout, tcp } = r.sides;
  const rateRatio = (label: string, other: Side): Ratio => {
    const advantage = kaffix!.rate.median / other.rate.median;
    return { label, advantage, reading: `${times(advantage)} the rate`, aim: rateAim(r.id) };
  };
  let bare = ["—", "—"];
  if (tcp !== undefined) {
    const vsBare = kaffix!.rate.median / tcp.rate.median;
    const aim = r.id === "publish" ? ` (aim ≥ ${AIMS.publishVsBare * 100}% ${mark(vsBare >= AIMS.publishVsBare)})` : "";
    bare = [rateCell(tcp, r.unit), `${Math.round(vsBare * 100)}%${aim}`];
  }
  const main = rateRatio(SHORT[r.id], moleculer!);
  const lines: Line[] = [{ cells: [r.label, rateCell(kaffix, r.unit), rateCell(moleculer, r.unit), main.reading, aimCell(main), ...bare], ratio: main }];
  if (kaffix?.p99Us !== undefined) {
    const p99: Ratio = { label: `${SHORT[r.id]}: p99`, ...lower(kaffix.p99Us.median, moleculer!.p99Us!.median), aim: AIMS.requestP99Lower };
    lines.push({ cells: ["  … p50 / p99 round trip", round(kaffix), round(moleculer), `p99 ${p99.reading}`, aimCell(p99), round(tcp), "—"], ratio: p99 });
  }
  if (moleculerTimeout !== undefined) {
    const other = rateRatio(`↳ rate vs Moleculer with a ${CALL_TIMEOUT_MS / 1000} s call timeout`, moleculerTimeout);
    const p99 = moleculerTimeout.p99Us === undefined ? "" : `, p99 ${latency(moleculerTimeout.p99Us.median)}`;
    const label = `  … Moleculer calls with \`timeout: ${CALL_TIMEOUT_MS}\``;
    lines.push({ cells: [label, "(as above)", `${rateCell(moleculerTimeout, r.unit)}${p99}`, other.reading, aimCell(other), "—", "—"], ratio: other });
  }
  return lines;
}

function mainLines(s: Summary): Line[] {
  const lines = [...s.local, ...s.crossNode].flatMap(caseLines);
  for (const part of ["sender", "receiver"] as const) {
    const key = part === "sender" ? "senderPeakMiB" : "receiverPeakMiB";
    const ratio = { label: `peak RSS, ${part}`, ...lower(s.memory.kaffix[key], s.memory.moleculer[key]) };
    lines.push({ cells: [`peak RSS, ${part} process (cross-node cases)`, mib(s.memory.kaffix[key]), mib(s.memory.moleculer[key]), ratio.reading, "—", "—", "—"], ratio });
  }
  const st = s.startup.spawnToReplyMs;
  const ratio = { label: "spawn 2nd node → first reply", ...lower(st.kaffix.median, st.moleculer.median) };
  lines.push({ cells: ["spawn 2nd node → its first reply at the 1st node", ms(st.kaffix), ms(st.moleculer), ratio.reading, "—", `${ms(st.tcp)} (spawn → echo)`, "—"], ratio });
  return lines;
}

/** Every Kaffix ÷ Moleculer comparison, in table order; the chart draws these. */
export function ratios(s: Summary): Ratio[] {
  return mainLines(s).flatMap((line) => (line.ratio === undefined ? [] : [line.ratio]));
}

function mainTable(s: Summary): Table {
  const serializer = s.trial.winner;
  return {
    title: `Kaffix next to Moleculer 0.14 (TCP transporter, ${serializer} serializer, no call timeout unless said) and bare framed TCP: median (min – max)`,
    header: ["Row", "Kaffix", `Moleculer (${serializer})`, "Kaffix vs Moleculer", "Aim", "Bare TCP", "Kaffix / bare"],
    rows: mainLines(s).map((line) => line.cells),
  };
}

function killTable(s: Summary): Table {
  const { publish, request, runs } = s.kill;
  const cell = (values: number[], fmt: (n: number) => string = count) =>
    values.length === 1 ? fmt(values[0]!) : `${fmt(median(values))} (${fmt(Math.min(...values))} – ${fmt(Math.max(...values))})`;
  const codes = (list: Record<string, number>[]) => {
    const all: Record<string, number> = {};
    for (const byCode of list) for (const [code, n] of Object.entries(byCode)) all[code] = (all[code] ?? 0) + n;
    const text = Object.entries(all).map(([code, n]) => `${code} ${count(n)}`).join(", ");
    return text === "" ? "" : ` [all runs: ${text}]`;
  };
  const sum = (byCode: Record<string, number>) => Object.values(byCode).reduce((a, b) => a + b, 0);
  const row = (label: string, of: (system: SystemId) => string) => [label, of("kaffix"), of("moleculer")];
  const seconds = (x: number) => `${(x / 1000).toFixed(1)} s`;
  return {
    title: `kill -9 of one of two receivers mid-stream (median (min – max) of ${runs} run${runs === 1 ? "" : "s"} per system)`,
    header: ["Measure", "Kaffix", `Moleculer (${s.trial.winner})`],
    rows: [
      row("publishes accepted (resolved)", (id) => cell(publish[id].map((k) => k.accepted))),
      row("publishes rejected", (id) => cell(publish[id].map((k) => sum(k.rejected))) + codes(publish[id].map((k) => k.rejected))),
      row("accepted and received at least once", (id) => cell(publish[id].map((k) => k.received))),
      row("lost (accepted − received)", (id) => cell(publish[id].map((k) => k.lost)) + (id === "kaffix" ? ` ${mark(publish.kaffix.every((k) => k.lost === 0))} aim 0` : "")),
      row("handled more than once", (id) => cell(publish[id].map((k) => k.duplicates))),
      row("kill → last message handled", (id) => cell(publish[id].map((k) => k.settledAfterKillMs), seconds)),
      row("requests answered", (id) => cell(request[id].map((k) => k.ok))),
      row("requests failed (rejected)", (id) => cell(request[id].map((k) => sum(k.failed))) + codes(request[id].map((k) => k.failed))),
      row("requests lost (never settled)", (id) => cell(request[id].map((k) => k.lost)) + (id === "kaffix" ? ` ${mark(request.kaffix.every((k) => k.lost === 0))} aim 0` : "")),
      row("request run: first request → last settled", (id) => cell(request[id].map((k) => k.seconds * 1000), seconds)),
    ],
  };
}

function trialTable(s: Summary): Table {
  const { trial } = s;
  return {
    title: "Moleculer's serializer trial, cross-node (median of the trial runs; the best geometric mean of the two rates goes on)",
    header: ["Serializer", "publish", "request/reply, 100 in flight", "vs JSON"],
    rows: SERIALIZERS.map((id) => [
      `${id}${id === trial.winner ? " (chosen)" : ""}`,
      `${rate(trial.rates[id].publish.rate.median)} msg/s`,
      `${rate(trial.rates[id].request.rate.median)} req/s`,
      times(trial.scores[id]),
    ]),
  };
}

function startupTable(s: Summary): Table {
  const { startMs } = s.startup;
  return {
    title: "The second node's own clock",
    header: ["Measure", "Kaffix", "Moleculer"],
    rows: [["app.start() / broker.start() called → resolved", ms(startMs.kaffix), ms(startMs.moleculer)]],
  };
}

export function tables(s: Summary): Table[] {
  return [mainTable(s), killTable(s), trialTable(s), startupTable(s)];
}
