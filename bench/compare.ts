// `npm run bench:compare`: Kaffix next to Moleculer 0.14 and bare framed TCP, in one run, side by side.
//
// Every node runs in a child process of its own (bench/compare-peer.ts), so each one's memory is its
// own and both systems get the same kind of process. The bench process only orchestrates, and sends
// on the bare TCP baseline. Cases, in order: local calls; Moleculer's serializer trial; cross-node
// publish and request/reply with the peak RSS of each process; a fresh second node's time to its
// first reply; a receiver killed with `kill -9` mid-stream. See bench/README.md.

import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { CALL_TIMEOUT_MS, measureCrossNode, measureLocal, measureStartup, serializerTrial, type Plan } from "./compare-cases.js";
import { killRun, type KillPlan } from "./compare-kill.js";
import { SERIALIZERS, SYSTEM_IDS, type Serializer, type SystemId } from "./compare-nodes.js";
import { AIMS, ratios, tables, type Kill, type Summary } from "./compare-report.js";
import { ratioChart, writeChart } from "./compare-svg.js";
import { exitWhenHung, loadAverage, machine, markdownTable, measuredBy, printTable, resultsPath, runMain, writeResults, type Machine } from "./harness.js";

const QUICK = process.argv.includes("--quick");
const PLAN: Plan & { killRuns: number; watchdogMs: number } = QUICK
  ? { runs: 2, targetMs: 40, trialRuns: 1, trialTargetMs: 40, startupRuns: 1, killRuns: 1, runTimeoutMs: 20_000, window: 1000, inFlight: 100, payloadBytes: 100, watchdogMs: 90_000 }
  : { runs: 5, targetMs: 300, trialRuns: 5, trialTargetMs: 300, startupRuns: 3, killRuns: 3, runTimeoutMs: 15_000, window: 1000, inFlight: 100, payloadBytes: 100, watchdogMs: 360_000 };
const KILL: KillPlan = {
  publishes: QUICK ? 2000 : 20_000,
  requests: QUICK ? 200 : 2000,
  window: PLAN.window,
  loops: PLAN.inFlight,
  requestTimeoutMs: 10_000, // Kaffix's default request timeout, given to both
  graceMs: 5000,
  settleBoundMs: 30_000,
  quietMs: 1000,
  timeoutMs: PLAN.runTimeoutMs,
};
const COMMAND = "npm run bench:compare";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = resultsPath("compare", QUICK);
/** The chart: into the docs from a full run; a smoke test's rough numbers go to the temp directory, outside the repository. */
const CHART = QUICK ? join(tmpdir(), "kaffix-compare-quick.svg") : join(ROOT, "docs", "compare.svg");
const MARK = { start: "<!-- bench:compare:start -->", end: "<!-- bench:compare:end -->" } as const;

const AIMS_LINE =
  `Aims (issue): Kaffix ≥ ${AIMS.local}× Moleculer on local calls; ≥ ${AIMS.requestRate}× on cross-node request/reply throughput with a ≥ ${AIMS.requestP99Lower}× lower p99; ` +
  `≥ ${AIMS.publish}× on cross-node publish while guaranteeing delivery; cross-node publish ≥ ${AIMS.publishVsBare * 100}% of bare TCP's rate; 0 messages lost when a node is killed.`;

function howMeasured(serializer: Serializer): string {
  return (
    `Every node is its own process on 127.0.0.1. Kaffix: full delivery guarantee, TLS links. Moleculer 0.14: TCP transporter, static urls, ` +
    `udpDiscovery off, ${serializer} serializer (the fastest of ${SERIALIZERS.join(", ")} in the trial below), default broker options otherwise: no call timeout. ` +
    `Request rows also show Moleculer with \`timeout: ${CALL_TIMEOUT_MS}\` per call, the deadline every Kaffix request carries by default. ` +
    `Bare TCP: Kaffix's frames on a plain socket, ${PLAN.payloadBytes} B payloads, no acks (bench/transport-peer.ts). ` +
    `Rates: median of ${PLAN.runs} runs, contenders alternating; the kill case: ${PLAN.killRuns} run${PLAN.killRuns === 1 ? "" : "s"} per system, ` +
    `${KILL.publishes.toLocaleString("en-US")} publishes and ${KILL.requests.toLocaleString("en-US")} requests (${KILL.loops} in flight, ${KILL.requestTimeoutMs / 1000} s timeout).`
  );
}

/** Runs alternate between the systems; `--quick` runs everything at once, to stay short (its numbers share the CPU). */
async function measureKill(serializer: Serializer): Promise<Kill> {
  const kill: Kill = { runs: PLAN.killRuns, publish: { kaffix: [], moleculer: [] }, request: { kaffix: [], moleculer: [] } };
  const token = randomBytes(24).toString("base64url");
  const one = async (system: SystemId, r: number): Promise<void> => {
    const started = performance.now();
    const { publish, request } = await killRun(system, serializer, token, KILL, `kill-${r}`, QUICK);
    kill.publish[system].push(publish);
    kill.request[system].push(request);
    const failed = Object.values(request.failed).reduce((a, b) => a + b, 0);
    console.error(
      `  kill -9, ${system}: ${publish.lost} of ${publish.accepted} accepted publishes lost; ` +
        `requests ${request.ok} answered, ${failed} failed, ${request.lost} lost [${((performance.now() - started) / 1000).toFixed(1)} s]`,
    );
  };
  for (let r = 0; r < PLAN.killRuns; r++) {
    const order = r % 2 === 0 ? SYSTEM_IDS : [...SYSTEM_IDS].reverse();
    if (QUICK) await Promise.all(order.map((system) => one(system, r)));
    else for (const system of order) await one(system, r);
  }
  return kill;
}

function markdown(summary: Summary, info: Machine, wallSeconds: number): string {
  const lines = [MARK.start, `${measuredBy(COMMAND, info)}; total wall time ${Math.round(wallSeconds)} s. ${howMeasured(summary.trial.winner)}`];
  for (const { title, header, rows } of tables(summary)) lines.push("", `${title}:`, "", ...markdownTable(header, rows));
  lines.push("", AIMS_LINE, MARK.end);
  return lines.join("\n");
}

function print(summary: Summary, info: Machine, wallSeconds: number): void {
  console.log(`\nKaffix next to Moleculer${QUICK ? " (--quick: smoke test, numbers are rough)" : ""}`);
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.date}; total wall time ${wallSeconds.toFixed(1)} s`);
  console.log(howMeasured(summary.trial.winner));
  for (const { title, header, rows } of tables(summary)) {
    console.log(`\n${title}\n`);
    printTable(header, rows);
  }
  console.log(`\n${AIMS_LINE}`);
}

async function main(): Promise<void> {
  exitWhenHung(PLAN.watchdogMs); // every child is killed on exit, and exits when its stdin closes
  const started = performance.now();
  const info = machine();
  const token = randomBytes(24).toString("base64url");
  const phase = (what: string) => console.error(`${what} [${((performance.now() - started) / 1000).toFixed(1)} s]`);

  phase("1. local calls");
  const local = await measureLocal(PLAN, token);
  phase("Moleculer's serializers, cross-node");
  const trial = await serializerTrial(PLAN, token);
  console.error(`  ${trial.winner} is the fastest (vs JSON: ${Object.entries(trial.scores).map(([s, x]) => `${s} ${x}×`).join(", ")})`);
  phase("2, 3, 4. cross-node publish, request/reply, memory");
  const cross = await measureCrossNode(PLAN, token, trial.winner);
  phase("5. a second node's first reply");
  const startup = await measureStartup(PLAN, token);
  phase("6. kill -9 of a receiver mid-stream");
  const kill = await measureKill(trial.winner);
  const wallSeconds = (performance.now() - started) / 1000;

  const summary: Summary = { local, trial, crossNode: cross.results, memory: cross.memory, startup, kill };
  print(summary, info, wallSeconds);
  console.log(`\n${markdown(summary, info, wallSeconds)}\n`);
  const chartRatios = ratios(summary);
  const subtitle = `${measuredBy(COMMAND, info).replace("Measured by ", "").replaceAll("`", "")}; Moleculer 0.14 with the ${trial.winner} serializer`;
  writeChart(CHART, ratioChart(chartRatios, "Kaffix next to Moleculer: how many times better (bars right of 1×) or worse", subtitle));
  writeResults(OUT, {
    benchmark: "compare",
    quick: QUICK,
    machine: { ...info, loadAverageAtEnd: loadAverage() },
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    plan: PLAN,
    killPlan: KILL,
    aims: AIMS,
    ...summary,
    ratios: chartRatios,
  });
  console.log(`wrote ${relative(process.cwd(), OUT)} and ${QUICK ? CHART : relative(process.cwd(), CHART)}`);
}

await runMain(main);
process.exit(); // with process.exitCode; a child left running by a crash is killed on the way out
