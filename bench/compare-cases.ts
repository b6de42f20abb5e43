// The timed cases of bench/compare.ts: local calls, Moleculer's serializer trial, cross-node throughput, memory and startup.

import { BareTcp } from "./compare-bare.js";
import { SERIALIZERS, type Serializer, type SystemId } from "./compare-nodes.js";
import { freePorts, NodeProcess, startCluster, stopAll } from "./compare-process.js";
import { tenths, type RunReport } from "./loops.js";
import { calibrate, collectGarbage, spread, type Spread } from "./harness.js";

export interface Plan {
  /** Timed runs per contender and case, and how long one should last once warm. */
  runs: number;
  targetMs: number;
  /** The same for Moleculer's serializer trial. */
  trialRuns: number;
  trialTargetMs: number;
  /** Fresh second nodes timed per system. */
  startupRuns: number;
  /** Bound of each run and each wait for a node. */
  runTimeoutMs: number;
  /** Publishes kept unresolved at once; requests in flight in the concurrent case; payload of the bare baseline. */
  window: number;
  inFlight: number;
  payloadBytes: number;
}

/**
 * Who runs a case. Moleculer's calls run twice: with its default of no call timeout, and with
 * `timeout: CALL_TIMEOUT_MS` (a timer per call), which is what every Kaffix request carries.
 */
export type Contender = SystemId | "moleculerTimeout" | "tcp";
export const CALL_TIMEOUT_MS = 10_000;
export type CaseId = "local-publish" | "local-request-1" | "local-request-100" | "publish" | "request-1" | "request-100";
type Timed = (size: number) => Promise<RunReport>;

/** One contender's timed runs of one case, all of `size` operations. */
export interface Side {
  size: number;
  rates: number[];
  rate: Spread;
  /** Median over runs of each run's p50 / p99, in µs (cross-node requests only). */
  p50Us?: Spread;
  p99Us?: Spread;
}

export interface CaseResult {
  id: CaseId;
  label: string;
  unit: "msg/s" | "req/s";
  sides: Partial<Record<Contender, Side>>;
}

/** Sizes each contender on its own, then rotates the order of their timed runs, so drift on a shared machine hits all alike. */
async function measure<K extends string>(timers: [K, Timed][], step: number, runs: number, targetMs: number, beforeRun: () => Promise<void>): Promise<Record<K, Side>> {
  const sizes = new Map<K, number>();
  for (const [id, timed] of timers) sizes.set(id, await calibrate(async (size) => (await timed(size)).seconds, step, targetMs));
  const reports = new Map<K, RunReport[]>(timers.map(([id]) => [id, []]));
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < timers.length; k++) {
      const [id, timed] = timers[(r + k) % timers.length]!;
      await beforeRun();
      reports.get(id)!.push(await timed(sizes.get(id)!));
    }
  }
  const sides = {} as Record<K, Side>;
  for (const [id] of timers) {
    const size = sizes.get(id)!;
    const list = reports.get(id)!;
    const rates = list.map((run) => size / run.seconds);
    sides[id] = { size, rates: rates.map(Math.round), rate: spread(rates) };
    if (list[0]?.p50Us !== undefined) {
      sides[id].p50Us = spread(list.map((run) => run.p50Us!), tenths);
      sides[id].p99Us = spread(list.map((run) => run.p99Us!), tenths);
    }
  }
  return sides;
}

const gcAll = async (processes: readonly { gc(): Promise<void> }[]): Promise<void> => {
  collectGarbage();
  await Promise.all(processes.map((p) => p.gc()));
};

// ── 1. Local calls ──────────────────────────────────────────────────────────────────────────────

export async function measureLocal(plan: Plan, token: string): Promise<CaseResult[]> {
  const nodes = (["kaffix", "moleculer"] as const).map(
    (system) => new NodeProcess({ system, part: "local", name: `${system}-local`, port: 0, peers: [], serializer: "JSON", token }, plan.runTimeoutMs),
  );
  try {
    await Promise.all(nodes.map((node) => node.next("started")));
    const [kaffix, moleculer] = nodes as [NodeProcess, NodeProcess];
    const ask = (node: NodeProcess, command: string) => node.ask<RunReport>(command, "run");
    const requests = (loops: number): [Contender, Timed][] => [
      ["kaffix", (size) => ask(kaffix, `local-request ${size} ${loops} 0`)],
      ["moleculer", (size) => ask(moleculer, `local-request ${size} ${loops} 0`)],
      ["moleculerTimeout", (size) => ask(moleculer, `local-request ${size} ${loops} ${CALL_TIMEOUT_MS}`)],
    ];
    const cases: [CaseId, string, "msg/s" | "req/s", [Contender, Timed][], number][] = [
      ["local-publish", `local publish → handler, ${plan.window} unresolved at once`, "msg/s", nodes.map((node) => [node.config.system, (size) => ask(node, `local-publish ${size}`)]), plan.window],
      ["local-request-1", "local request/reply, 1 at a time", "req/s", requests(1), 100],
      ["local-request-100", `local request/reply, ${plan.inFlight} in flight`, "req/s", requests(plan.inFlight), plan.inFlight],
    ];
    const results: CaseResult[] = [];
    for (const [id, label, unit, timers, step] of cases) {
      results.push({ id, label, unit, sides: await measure(timers, step, plan.runs, plan.targetMs, () => gcAll(nodes)) });
      progress(results.at(-1)!);
    }
    return results;
  } finally {
    await stopAll(nodes);
  }
}

// ── Cross-node runs ─────────────────────────────────────────────────────────────────────────────

/** Publishes 0 … size − 1 from the sender; the clock stops when the receiver reports the size-th distinct one handled. */
async function crossPublish(sender: NodeProcess, receiver: NodeProcess, size: number, window: number): Promise<RunReport> {
  const { stray } = await receiver.ask<{ stray: number }>(`sink ${size}`, "armed");
  if (stray !== 0) throw new Error(`${receiver.label}: ${stray} messages arrived between runs`);
  const started = performance.now();
  sender.send(`publish ${size} ${window}`);
  await receiver.next("sink");
  const seconds = (performance.now() - started) / 1000;
  await sender.next("run");
  return { seconds };
}

const crossRequests = (sender: NodeProcess, size: number, loops: number, timeoutMs = 0) => sender.ask<RunReport>(`request ${size} ${loops} ${timeoutMs}`, "run");

// ── 2. Moleculer's serializers ──────────────────────────────────────────────────────────────────

export interface Trial {
  winner: Serializer;
  /** Per serializer: median rate of cross-node publish and of request/reply at `inFlight` in flight. */
  rates: Record<Serializer, { publish: Side; request: Side }>;
  /** Geometric mean of the two rates, relative to JSON. */
  scores: Record<Serializer, number>;
}

/** Cross-node publish and concurrent requests with each serializer, in rotation; the best geometric mean of the two wins. */
export async function serializerTrial(plan: Plan, token: string): Promise<Trial> {
  const clusters = await Promise.all(SERIALIZERS.map((serializer) => startCluster("moleculer", serializer, token, 1, `trial-${serializer}`, plan.runTimeoutMs)));
  try {
    const all = clusters.flat();
    const before = () => gcAll(all);
    const pairs = SERIALIZERS.map((serializer, i): [Serializer, NodeProcess[]] => [serializer, clusters[i]!]);
    const publish = await measure(
      pairs.map(([serializer, [sender, receiver]]): [Serializer, Timed] => [serializer, (size) => crossPublish(sender!, receiver!, size, plan.window)]),
      plan.window, plan.trialRuns, plan.trialTargetMs, before,
    );
    const request = await measure(
      pairs.map(([serializer, [sender]]): [Serializer, Timed] => [serializer, (size) => crossRequests(sender!, size, plan.inFlight)]),
      plan.inFlight, plan.trialRuns, plan.trialTargetMs, before,
    );
    const score = (s: Serializer) => Math.sqrt((publish[s].rate.median / publish.JSON.rate.median) * (request[s].rate.median / request.JSON.rate.median));
    const scores = Object.fromEntries(SERIALIZERS.map((s) => [s, Math.round(score(s) * 100) / 100])) as Record<Serializer, number>;
    const winner = [...SERIALIZERS].sort((a, b) => score(b) - score(a))[0]!;
    const rates = Object.fromEntries(SERIALIZERS.map((s) => [s, { publish: publish[s], request: request[s] }])) as Trial["rates"];
    return { winner, rates, scores };
  } finally {
    await stopAll(clusters.flat());
  }
}

// ── 3, 4. Cross-node throughput, latency and memory ─────────────────────────────────────────────

export interface Memory {
  /** Peak resident set of each process over its life (all cross-node cases), MiB. */
  senderPeakMiB: number;
  receiverPeakMiB: number;
}

export interface CrossNode {
  results: CaseResult[];
  memory: Record<SystemId, Memory>;
}

export async function measureCrossNode(plan: Plan, token: string, serializer: Serializer): Promise<CrossNode> {
  const clusters = await Promise.all((["kaffix", "moleculer"] as const).map((system) => startCluster(system, serializer, token, 1, "cross", plan.runTimeoutMs)));
  const [[kaffixA, kaffixB], [moleculerA, moleculerB]] = clusters as [NodeProcess[], NodeProcess[]];
  let bare: BareTcp | undefined;
  try {
    bare = (await BareTcp.start(token, plan.payloadBytes, plan.runTimeoutMs)).bare;
    const tcp = bare;
    const before = () => gcAll([kaffixA!, kaffixB!, moleculerA!, moleculerB!, tcp]);
    const pairs: [SystemId, NodeProcess, NodeProcess][] = [["kaffix", kaffixA!, kaffixB!], ["moleculer", moleculerA!, moleculerB!]];
    const results: CaseResult[] = [];
    const run = async (id: CaseId, label: string, unit: CaseResult["unit"], step: number, timed: (sender: NodeProcess, receiver: NodeProcess) => Timed, more: [Contender, Timed][]) => {
      const timers: [Contender, Timed][] = pairs.map(([system, a, b]) => [system, timed(a, b)]);
      results.push({ id, label, unit, sides: await measure([...timers, ...more], step, plan.runs, plan.targetMs, before) });
      progress(results.at(-1)!);
    };
    const withTimeout = (loops: number): [Contender, Timed] => ["moleculerTimeout", (size) => crossRequests(moleculerA!, size, loops, CALL_TIMEOUT_MS)];
    await run("publish", `cross-node publish, ${plan.window} unresolved at once`, "msg/s", plan.window, (a, b) => (size) => crossPublish(a, b, size, plan.window), [["tcp", (size) => tcp.stream(size)]]);
    for (const loops of [1, plan.inFlight]) {
      const label = `cross-node request/reply, ${loops} in flight`;
      await run(loops === 1 ? "request-1" : "request-100", label, "req/s", loops === 1 ? 100 : loops, (a) => (size) => crossRequests(a, size, loops), [withTimeout(loops), ["tcp", (size) => tcp.requests(size, loops)]]);
    }
    const memoryOf = async (a: NodeProcess, b: NodeProcess): Promise<Memory> => ({ senderPeakMiB: (await a.rss()).peakMiB, receiverPeakMiB: (await b.rss()).peakMiB });
    return { results, memory: { kaffix: await memoryOf(kaffixA!, kaffixB!), moleculer: await memoryOf(moleculerA!, moleculerB!) } };
  } finally {
    await Promise.all([stopAll(clusters.flat()), bare?.close()]);
  }
}

// ── 5. Time to the first message ────────────────────────────────────────────────────────────────

/** How long the first node keeps asking: Moleculer links a new node through gossip, every 2 s by default. */
const STARTUP_BOUND_MS = 30_000;

type Starter = SystemId | "tcp";

export interface Startup {
  /** Spawning the second node's process → first reply at the first node, per run, ms. */
  runs: Record<Starter, number[]>;
  spawnToReplyMs: Record<Starter, Spread>;
  /** The second node's own clock: start() (broker.start()) called → resolved, ms. */
  startMs: Record<SystemId, Spread>;
}

/**
 * A fresh pair: the first node starts and settles, then the second one is spawned and the first
 * requests Echo (every 1 ms) until it answers. Moleculer's static urls name both nodes on both.
 */
async function firstMessage(system: SystemId, token: string, plan: Plan, tag: string): Promise<{ ms: number; startMs: number }> {
  const names = [`${system}-${tag}-first`, `${system}-${tag}-second`] as const;
  const ports = system === "moleculer" ? await freePorts(2) : [0, 0];
  const urls = names.map((name, i) => `127.0.0.1:${ports[i]}/${name}`);
  const serializer = "JSON";
  const first = new NodeProcess({ system, part: "sender", name: names[0], port: ports[0]!, peers: system === "moleculer" ? urls : [], serializer, token }, plan.runTimeoutMs);
  let second: NodeProcess | undefined;
  try {
    await first.next("started");
    const peers = system === "moleculer" ? urls : [`127.0.0.1:${first.port}`];
    second = new NodeProcess({ system, part: "receiver", name: names[1], port: ports[1]!, peers, serializer, token }, plan.runTimeoutMs);
    await first.ask(`first-reply ${STARTUP_BOUND_MS}`, "first-reply", STARTUP_BOUND_MS + 1000);
    const ms = performance.now() - second.spawnedAt;
    const { startMs } = await second.next<{ startMs: number }>("started");
    return { ms, startMs };
  } finally {
    await stopAll([second, first]);
  }
}

export async function measureStartup(plan: Plan, token: string): Promise<Startup> {
  const runs: Startup["runs"] = { kaffix: [], moleculer: [], tcp: [] };
  const starts: Record<SystemId, number[]> = { kaffix: [], moleculer: [] };
  const order: Starter[] = ["kaffix", "moleculer", "tcp"];
  for (let r = 0; r < plan.startupRuns; r++) {
    for (let k = 0; k < order.length; k++) {
      const id = order[(r + k) % order.length]!;
      if (id === "tcp") {
        const { bare, spawnToEchoMs } = await BareTcp.start(token, plan.payloadBytes, plan.runTimeoutMs);
        await bare.close();
        runs.tcp.push(tenths(spawnToEchoMs));
      } else {
        const { ms, startMs } = await firstMessage(id, token, plan, `startup-${r}`);
        runs[id].push(tenths(ms));
        starts[id].push(startMs);
      }
    }
  }
  const spreadOf = (values: number[]) => spread(values, tenths);
  return {
    runs,
    spawnToReplyMs: { kaffix: spreadOf(runs.kaffix), moleculer: spreadOf(runs.moleculer), tcp: spreadOf(runs.tcp) },
    startMs: { kaffix: spreadOf(starts.kaffix), moleculer: spreadOf(starts.moleculer) },
  };
}

// ── Progress ────────────────────────────────────────────────────────────────────────────────────

export const rate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)} k`);

function progress(result: CaseResult): void {
  const cells = Object.entries(result.sides).map(([id, side]) => `${id} ${rate(side.rate.median)}`);
  console.error(`  ${result.label}: ${cells.join(", ")} ${result.unit}`);
}
