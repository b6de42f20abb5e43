// Membership at scale, in deterministic simulation: how long a join and a crash take to reach every
// node, and what the protocol sends per node in steady state, for N = 50, 200 and 1,000.
//
//   node --import tsx bench/membership-scale.ts [--quick]     (--quick: N = 50 and 200, one run each)
//
// Every node runs the real Membership with its default options over one InProcessNetwork (one-way
// latency 2 ms + up to 3 ms of seeded jitter), on one simulated clock with seeded randomness. Times in
// the tables are simulated; wall time is reported apart, as what the simulation costs.

import { relative } from "node:path";
import { pino } from "pino";
import type { Clock, TimerHandle } from "../src/clock.js";
import { seeded } from "../src/cluster/membership-simulation.test-support.js";
import type { MembershipSnapshot } from "../src/cluster/membership-snapshot.js";
import { Membership } from "../src/cluster/membership.js";
import { DEFAULT_MEMBERSHIP_OPTIONS } from "../src/cluster/membership-options.js";
import { pushPullScale } from "../src/cluster/push-pull.js";
import { suspicionTimeoutsMs } from "../src/cluster/suspicion.js";
import { settle } from "../src/testing/manual-clock.js";
import { PROTOCOL_VERSION } from "../src/transport/hello.js";
import { InProcessNetwork, type InProcessTransport } from "../src/transport/in-process-transport.js";
import type { Lane, Link, Transport } from "../src/transport/transport.js";
import { decode } from "../src/wire/codec.js";
import { collectGarbage, exitWhenHung, machine, markdownTable, measuredBy, median, printTable, resultsPath, runMain, writeResults, type Machine } from "./harness.js";

const QUICK = process.argv.includes("--quick");
const MARK = { start: "<!-- bench:membership:start -->", end: "<!-- bench:membership:end -->" } as const;
const LATENCY = { ms: 2, jitterMs: 3 } as const;

/** Per N: independent clusters (one per seed), trials (join, then crash) in each, and the steady window. */
interface SizePlan {
  n: number;
  seeds: number[];
  trialsPerCluster: number;
  windowMs: number;
}
// Building 1,000 nodes costs about a minute and a half of wall time (every node retransmits the
// news of every other one), so N = 1,000 builds one cluster and runs its three trials in it, and
// its steady window is shorter (probe traffic is periodic: any window of it gives the same rate).
const PLAN: readonly SizePlan[] = QUICK
  ? [
      { n: 50, seeds: [1], trialsPerCluster: 1, windowMs: 10_000 },
      { n: 200, seeds: [1], trialsPerCluster: 1, windowMs: 10_000 },
    ]
  : [
      { n: 50, seeds: [1, 2, 3], trialsPerCluster: 1, windowMs: 30_000 },
      { n: 200, seeds: [1, 2, 3], trialsPerCluster: 1, windowMs: 30_000 },
      { n: 1000, seeds: [1], trialsPerCluster: 3, windowMs: 15_000 },
    ];
const WATCHDOG_MS = QUICK ? 120_000 : 480_000;

// ── The clock ───────────────────────────────────────────────────────────────────────────────────

interface Timer {
  at: number;
  order: number;
  fn: () => void;
  done: boolean;
}

/**
 * ManualClock's contract (timers fire by due time, then creation order; promise callbacks and
 * immediates run between two timers) on a binary heap. ManualClock scans every timer to find the
 * next one; with 1,000 nodes (about 5,000 timers) that scan was two thirds of the run.
 */
class HeapClock implements Clock {
  #now = 0;
  #order = 0;
  readonly #heap: Timer[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, delayMs), order: this.#order++, fn, done: false };
    const heap = this.#heap;
    heap.push(timer);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Timer).done = true; // dropped when it reaches the top
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let next = this.#heap[0]; next !== undefined && next.at <= target; next = this.#heap[0]) {
      this.#pop();
      if (next.done) continue;
      next.done = true;
      this.#now = next.at;
      next.fn();
      await settle();
    }
    this.#now = target;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ; ) {
      const [left, right] = [2 * i + 1, 2 * i + 2];
      let least = i;
      if (left < heap.length && earlier(heap[left]!, heap[least]!)) least = left;
      if (right < heap.length && earlier(heap[right]!, heap[least]!)) least = right;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }
}

const earlier = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.order < b.order);

// ── Counting what membership sends ──────────────────────────────────────────────────────────────

type Counts = Record<string, { bytes: number; messages: number }>;

/** Control-lane payloads queued on a link, by message type, summed over the cluster. */
class Traffic {
  readonly byType: Counts = {};

  record(payload: Uint8Array): void {
    const count = (this.byType[messageType(payload)] ??= { bytes: 0, messages: 0 });
    count.bytes += payload.length;
    count.messages++;
  }

  copy(): Counts {
    return Object.fromEntries(Object.entries(this.byType).map(([type, c]) => [type, { ...c }]));
  }

  since(before: Counts): Counts {
    return Object.fromEntries(
      Object.entries(this.byType).map(([type, c]) => [type, { bytes: c.bytes - (before[type]?.bytes ?? 0), messages: c.messages - (before[type]?.messages ?? 0) }]),
    );
  }
}

/** The `t` of a membership message: read from the first bytes (a map whose first key is "t"), else decoded. */
function messageType(payload: Uint8Array): string {
  const head = payload[0]!;
  const at = head === 0xde ? 3 : head === 0xdf ? 5 : (head & 0xf0) === 0x80 ? 1 : -1;
  if (at > 0 && payload[at] === 0xa1 && payload[at + 1] === 0x74 && (payload[at + 2]! & 0xe0) === 0xa0) {
    return String.fromCharCode(...payload.subarray(at + 3, at + 3 + (payload[at + 2]! & 0x1f)));
  }
  const { t } = decode(payload) as { t?: unknown };
  return typeof t === "string" ? t : "other";
}

/** The node's InProcessTransport as Membership sees it, with every control payload it queues counted. */
class CountingTransport implements Transport {
  readonly links = new Map<string, Link>();
  readonly #inner: InProcessTransport;
  readonly #traffic: Traffic;
  readonly #wrapped = new WeakMap<Link, Link>();

  constructor(inner: InProcessTransport, traffic: Traffic) {
    this.#inner = inner;
    this.#traffic = traffic;
    inner.onLink((link) => this.#wrap(link)); // registered first: `links` is current before Membership hears of a link
  }

  listen(): Promise<number> {
    return this.#inner.listen();
  }

  async connect(address: string): Promise<Link> {
    return this.#wrap(await this.#inner.connect(address));
  }

  onLink(handler: (link: Link) => void): void {
    this.#inner.onLink((link) => handler(this.#wrap(link)));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #wrap(link: Link): Link {
    const known = this.#wrapped.get(link);
    if (known !== undefined) return known;
    const traffic = this.#traffic;
    const counted: Link = {
      remote: link.remote,
      outbound: link.outbound,
      get closed() {
        return link.closed;
      },
      send(lane: Lane, payload: Uint8Array): boolean {
        const queued = link.send(lane, payload);
        if (queued && lane === "control") traffic.record(payload);
        return queued;
      },
      whenWritable: () => link.whenWritable(),
      onMessage: (handler) => link.onMessage(handler),
      onClose: (handler) => link.onClose(handler),
      close: (reason) => link.close(reason),
    };
    this.#wrapped.set(link, counted);
    const { nodeId } = link.remote;
    if (!link.closed) this.links.set(nodeId, counted);
    link.onClose(() => {
      if (this.links.get(nodeId) === counted) this.links.delete(nodeId);
    });
    return counted;
  }
}

// ── The simulated cluster ───────────────────────────────────────────────────────────────────────

/** When each observer first saw one member alive, suspect and dead. */
class Watch {
  readonly seen = { alive: new Map<string, number>(), suspect: new Map<string, number>(), dead: new Map<string, number>() };

  constructor(
    readonly nodeId: string,
    readonly observers: ReadonlySet<string>,
  ) {}

  observe(observer: string, snapshot: MembershipSnapshot, nowMs: number): void {
    const state = snapshot.get(this.nodeId)?.state;
    if (!this.observers.has(observer) || (state !== "alive" && state !== "suspect" && state !== "dead")) return;
    if (!this.seen[state].has(observer)) this.seen[state].set(observer, nowMs);
  }

  /** Every observer has seen `state` (for "suspect": suspect or already dead). */
  all(state: keyof Watch["seen"]): boolean {
    return this.#times(state).length === this.observers.size;
  }

  first(state: keyof Watch["seen"]): number {
    return Math.min(...this.#times(state));
  }

  last(state: keyof Watch["seen"]): number {
    return Math.max(...this.#times(state));
  }

  #times(state: keyof Watch["seen"]): number[] {
    if (state !== "suspect") return [...this.seen[state].values()];
    return [...this.observers].flatMap((o) => {
      const at = Math.min(this.seen.suspect.get(o) ?? Infinity, this.seen.dead.get(o) ?? Infinity);
      return at === Infinity ? [] : [at];
    });
  }
}

interface SimNode {
  membership: Membership;
  transport: CountingTransport;
  address: string;
}

const nodeId = (i: number): string => `n${String(i).padStart(4, "0")}`;
const logger = pino({ level: "silent" });

class ScaleCluster {
  readonly clock = new HeapClock();
  readonly random: () => number;
  readonly network: InProcessNetwork;
  readonly traffic = new Traffic();
  readonly nodes = new Map<string, SimNode>();
  readonly #seed: number;
  readonly #crashed = new Set<string>();
  #watch: Watch | undefined;
  /** Suspected or died news about a node that never crashed: false positives. */
  falseAlarms = 0;

  constructor(seed: number) {
    this.#seed = seed;
    this.random = seeded(seed);
    this.network = new InProcessNetwork({ clock: this.clock, random: seeded(seed + 1) });
    this.network.setLatency(LATENCY.ms, { jitterMs: LATENCY.jitterMs });
  }

  /** Starts node `id` joining through `seeds` (node ids); the join runs as the clock advances. */
  async start(id: string, seeds: readonly string[]): Promise<void> {
    const address = `${id}:7946`;
    const inner = this.network.transport({ hello: { protocol: PROTOCOL_VERSION, app: "scale", nodeId: id, incarnation: 1, address, services: {} } });
    const transport = new CountingTransport(inner, this.traffic);
    await transport.listen();
    const membership = new Membership({ transport, self: { nodeId: id, address, incarnation: 1 }, clock: this.clock, random: seeded(hash(id) ^ Math.imul(this.#seed, 0x9e3779b1)), logger });
    membership.onChange((change, snapshot) => {
      this.#watch?.observe(id, snapshot, this.clock.now());
      for (const member of [...change.suspected, ...change.died]) if (!this.#crashed.has(member.nodeId)) this.falseAlarms++;
    });
    this.nodes.set(id, { membership, transport, address });
    membership.join(seeds.map((seed) => `${seed}:7946`)).catch((error: unknown) => console.error(`  ${id} could not join: ${String(error)}`));
  }

  /** kill -9: its links reset, its membership stopped. */
  kill(id: string): void {
    const node = this.nodes.get(id)!;
    this.#crashed.add(id);
    this.network.kill(node.address);
    node.membership.stop();
    this.nodes.delete(id);
  }

  /** Watches `id` from every running node but itself, from now on. */
  watch(id: string): Watch {
    return (this.#watch = new Watch(id, new Set([...this.nodes.keys()].filter((other) => other !== id))));
  }

  async run(ms: number, stepMs = 200): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) await this.clock.advance(Math.min(stepMs, ms - t));
  }

  /** Advances until `done()`; throws after `maxMs` of simulated time, so a run that never converges fails. */
  async until(what: string, done: () => boolean, maxMs: number, stepMs: number): Promise<void> {
    const start = this.clock.now();
    while (!done()) {
      if (this.clock.now() - start >= maxMs) throw new Error(`${what}: not within ${maxMs / 1000} simulated s`);
      await this.clock.advance(stepMs);
    }
  }

  /** Advances until no node has sent a gossip message for a whole second: every broadcast queue is empty. */
  async quiet(maxMs = 120_000): Promise<void> {
    const gossip = () => this.traffic.byType.gossip?.messages ?? 0;
    const start = this.clock.now();
    for (let before = -1; before !== gossip(); ) {
      if (this.clock.now() - start >= maxMs) throw new Error(`gossip still flowing after ${maxMs / 1000} simulated s`);
      before = gossip();
      await this.run(1000);
    }
  }

  pick(ids: readonly string[]): string {
    return ids[Math.floor(this.random() * ids.length)]!;
  }

  stop(): void {
    for (const node of this.nodes.values()) node.membership.stop();
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

// ── One cluster: build, steady window, trials ───────────────────────────────────────────────────

interface Trial {
  /** From the joiner's start until every other node has it alive. */
  joinAllAliveMs: number;
  /** From the kill: the first node to suspect it, the last to suspect it (or declare it dead), the first and last to declare it dead. */
  crashFirstSuspectMs: number;
  crashAllSuspectMs: number;
  crashFirstDeadMs: number;
  crashAllDeadMs: number;
}

interface Steady {
  windowMs: number;
  nodes: number;
  /** Measured in the window, per node per second, push-pull left out (see pushPull). */
  probeAndGossip: { bytesPerSecond: number; messagesPerSecond: number };
  byType: Record<string, { bytesPerSecond: number; messagesPerSecond: number }>;
  /** Per node per second: the mean size of the push-pulls after the build × the schedule (two messages per period). */
  pushPull: { meanBytes: number; seen: number; periodMs: number; bytesPerSecond: number; messagesPerSecond: number };
  total: { bytesPerSecond: number; messagesPerSecond: number };
  linksPerNode: number;
  wallSecondsPerSimulatedSecond: number;
}

interface ClusterRun {
  seed: number;
  buildSimulatedMs: number;
  buildWallSeconds: number;
  steady: Steady;
  trials: Trial[];
  falseAlarms: number;
  wallSeconds: number;
}

async function runCluster(plan: SizePlan, seed: number): Promise<ClusterRun> {
  const wallStart = performance.now();
  const cluster = new ScaleCluster(seed);
  const { n } = plan;
  // N − 1 nodes, all at once, through one seed: the fastest way there the protocol offers.
  for (let i = 0; i < n - 1; i++) await cluster.start(nodeId(i), i === 0 ? [] : [nodeId(0)]);
  const aliveEverywhere = () => [...cluster.nodes.values()].every((node) => node.membership.snapshot().alive().length === n - 1);
  await cluster.until(`${n - 1} nodes converging`, aliveEverywhere, 120_000, 100);
  const buildSimulatedMs = cluster.clock.now();
  await cluster.quiet();
  const buildWallSeconds = (performance.now() - wallStart) / 1000;
  const afterBuild = cluster.traffic.copy();
  const built = new Set(cluster.nodes.keys());
  progress(`N=${n} seed ${seed}: ${n - 1} nodes converged in ${s(buildSimulatedMs)} simulated s, quiet at ${s(cluster.clock.now())} s [${buildWallSeconds.toFixed(1)} s wall]`);

  const trials: Trial[] = [];
  let steady: Steady | undefined;
  for (let t = 0; t < plan.trialsPerCluster; t++) {
    const joinAllAliveMs = await join(cluster, nodeId(n - 1 + t));
    await cluster.quiet();
    if (steady === undefined) steady = await steadyWindow(cluster, plan.windowMs, afterBuild);
    const crashed = await crash(cluster, built);
    trials.push({ joinAllAliveMs, ...crashed });
    progress(
      `N=${n} seed ${seed} trial ${t + 1}: join seen by all in ${s(joinAllAliveMs)} s; crash suspected first at ${s(crashed.crashFirstSuspectMs)} s, ` +
        `dead everywhere at ${s(crashed.crashAllDeadMs)} s [${((performance.now() - wallStart) / 1000).toFixed(1)} s wall]`,
    );
    if (t + 1 < plan.trialsPerCluster) await cluster.quiet();
  }
  cluster.stop();
  return { seed, buildSimulatedMs, buildWallSeconds, steady: steady!, trials, falseAlarms: cluster.falseAlarms, wallSeconds: (performance.now() - wallStart) / 1000 };
}

/** One more node joins through a random running member; returns how long until every other node has it alive. */
async function join(cluster: ScaleCluster, id: string): Promise<number> {
  const seed = cluster.pick([...cluster.nodes.keys()]);
  const watch = cluster.watch(id);
  const startedAt = cluster.clock.now();
  await cluster.start(id, [seed]);
  await cluster.until(`${id} joining`, () => watch.all("alive"), 60_000, 50);
  return watch.last("alive") - startedAt;
}

/**
 * A random member of the built cluster is killed; every live node must declare it dead. Never a node
 * that joined in a trial: the others' round-robin probe lists take in a new member only when they
 * start their next pass, up to N probe intervals later, so nobody would probe it until then.
 */
async function crash(cluster: ScaleCluster, built: ReadonlySet<string>): Promise<Omit<Trial, "joinAllAliveMs">> {
  const victim = cluster.pick([...cluster.nodes.keys()].filter((id) => built.has(id)));
  const watch = cluster.watch(victim);
  const crashedAt = cluster.clock.now();
  cluster.kill(victim);
  await cluster.until(`${victim}'s death spreading`, () => watch.all("dead"), 300_000, 100);
  return {
    crashFirstSuspectMs: watch.first("suspect") - crashedAt,
    crashAllSuspectMs: watch.last("suspect") - crashedAt,
    crashFirstDeadMs: watch.first("dead") - crashedAt,
    crashAllDeadMs: watch.last("dead") - crashedAt,
  };
}

/**
 * Traffic per node per second over `windowMs` of a quiet cluster. Push-pull is left out of the window:
 * every node of a cluster built at once runs its first exchange within the first interval and the
 * next ones in step, so a window sees all of them or none; it is reckoned from its size and schedule.
 */
async function steadyWindow(cluster: ScaleCluster, windowMs: number, afterBuild: ReturnType<Traffic["copy"]>): Promise<Steady> {
  const nodes = cluster.nodes.size;
  const before = cluster.traffic.copy();
  const wallStart = performance.now();
  await cluster.run(windowMs);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const perNodeSecond = 1000 / windowMs / nodes;
  const byType = Object.fromEntries(
    Object.entries(cluster.traffic.since(before))
      .filter(([, c]) => c.messages > 0)
      .map(([type, c]) => [type, { bytesPerSecond: c.bytes * perNodeSecond, messagesPerSecond: c.messages * perNodeSecond }]),
  );
  const probeAndGossip = Object.entries(byType)
    .filter(([type]) => type !== "push-pull")
    .reduce((sum, [, c]) => ({ bytesPerSecond: sum.bytesPerSecond + c.bytesPerSecond, messagesPerSecond: sum.messagesPerSecond + c.messagesPerSecond }), { bytesPerSecond: 0, messagesPerSecond: 0 });
  const exchanges = cluster.traffic.since(afterBuild)["push-pull"] ?? { bytes: 0, messages: 0 };
  const meanBytes = exchanges.messages === 0 ? 0 : exchanges.bytes / exchanges.messages;
  const periodMs = DEFAULT_MEMBERSHIP_OPTIONS.pushPullIntervalMs * pushPullScale(nodes);
  const links = [...cluster.nodes.values()].reduce((sum, node) => sum + node.transport.links.size, 0);
  const pushPull = { meanBytes, seen: exchanges.messages, periodMs, bytesPerSecond: (2 * meanBytes * 1000) / periodMs, messagesPerSecond: 2000 / periodMs };
  return {
    windowMs,
    nodes,
    probeAndGossip,
    byType,
    pushPull,
    total: { bytesPerSecond: probeAndGossip.bytesPerSecond + pushPull.bytesPerSecond, messagesPerSecond: probeAndGossip.messagesPerSecond + pushPull.messagesPerSecond },
    linksPerNode: links / nodes,
    wallSecondsPerSimulatedSecond: wallSeconds / (windowMs / 1000),
  };
}

// ── Published reference points (computed from their published formulas, not measured) ──────────

function references(n: number) {
  const { probeIntervalMs, suspicionMult, suspicionMaxTimeoutMult, gossipIntervalMs, gossipFanout } = DEFAULT_MEMBERSHIP_OPTIONS;
  // Serf's convergence simulator (serf.io/docs/internals/simulator.html): a logistic epidemic,
  // infected(x) = n / (1 + (n + 1)·e^(−c·n·x)) after x rounds, c = fanout / n × 0.5 (no loss, no failures).
  const roundsTo9999 = Math.log((n + 1) * (0.9999 / 0.0001)) / (gossipFanout * 0.5);
  const suspicion = suspicionTimeoutsMs(n, probeIntervalMs, suspicionMult, suspicionMaxTimeoutMult);
  return {
    serfSimulator9999Ms: roundsTo9999 * gossipIntervalMs,
    // Its "estimated max bandwidth" per node: 1,400-byte packets × fanout × rounds per second × 2.
    serfSimulatorMaxBytesPerSecond: 1400 * gossipFanout * (1000 / gossipIntervalMs) * 2,
    // SWIM (Das, Gupta, Motivala 2002), random probe targets: E[time to first detection] = T' / (1 − e^(−q_f)), q_f → 1.
    swimFirstDetectionMs: probeIntervalMs / (1 - Math.exp(-1)),
    // memberlist: SuspicionTimeout = SuspicionMult × log(N+1) × ProbeInterval (its config docs; the code
    // takes max(1, log10 N)), up to SuspicionMaxTimeoutMult × that without confirmations. Ours is the same.
    memberlistSuspicionMs: { min: suspicion.minMs, max: suspicion.maxMs },
  };
}

// ── Report ──────────────────────────────────────────────────────────────────────────────────────

interface SizeResult {
  n: number;
  plan: SizePlan;
  medians: Record<keyof Trial, number> & { bytesPerSecond: number; messagesPerSecond: number };
  references: ReturnType<typeof references>;
  wallSeconds: number;
  runs: ClusterRun[];
}

const TRIAL_KEYS = ["joinAllAliveMs", "crashFirstSuspectMs", "crashAllSuspectMs", "crashFirstDeadMs", "crashAllDeadMs"] as const;

function summarize(plan: SizePlan, runs: ClusterRun[], wallSeconds: number): SizeResult {
  const trials = runs.flatMap((r) => r.trials);
  const medians = Object.fromEntries(TRIAL_KEYS.map((key) => [key, median(trials.map((t) => t[key]))])) as Record<keyof Trial, number>;
  const bytesPerSecond = median(runs.map((r) => r.steady.total.bytesPerSecond));
  const messagesPerSecond = median(runs.map((r) => r.steady.total.messagesPerSecond));
  return { n: plan.n, plan, medians: { ...medians, bytesPerSecond, messagesPerSecond }, references: references(plan.n), wallSeconds, runs };
}

const s = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
const bytes = (n: number): string => (n >= 10_000 ? `${(n / 1000).toFixed(1)} kB` : `${n.toFixed(0)} B`);
const spread = (values: number[]): string => (values.length === 1 ? s(values[0]!) : `${s(median(values))} (${s(Math.min(...values))}–${s(Math.max(...values))})`);
const meanSize = (steady: Steady, type: string): number => {
  const c = steady.byType[type];
  return c === undefined ? 0 : c.bytesPerSecond / c.messagesPerSecond;
};

interface Section {
  title: string;
  header: string[];
  rows: string[][];
}

function sections(results: SizeResult[]): Section[] {
  const steady = (r: SizeResult, pick: (s: Steady) => number) => median(r.runs.map((run) => pick(run.steady)));
  const trials = (r: SizeResult, key: keyof Trial) => spread(r.runs.flatMap((run) => run.trials.map((t) => t[key])));
  return [
    {
      title: "Simulated seconds, median (min–max) over all trials; runs = clusters × trials in each. The crash columns count from the kill: first node to suspect it, last node to suspect it (or declare it dead), first and last to declare it dead.",
      header: ["N", "runs", "join: all see it alive", "crash: first suspect", "all suspect", "first dead", "all dead"],
      rows: results.map((r) => [String(r.n), `${r.plan.seeds.length} × ${r.plan.trialsPerCluster}`, ...TRIAL_KEYS.map((key) => trials(r, key))]),
    },
    {
      title: "Steady state: what each node sends per simulated second, membership payloads on the control lane (no frame, TLS or link-heartbeat bytes). Probes and gossip measured over a quiet window; push-pull = its measured mean size × its schedule.",
      header: ["N", "probes + gossip", "msg/s", "ping / ack size", "push-pull", "msg/s", "exchange every", "total", "total msg/s", "links per node"],
      rows: results.map((r) => [
        String(r.n),
        `${bytes(steady(r, (x) => x.probeAndGossip.bytesPerSecond))}/s`,
        steady(r, (x) => x.probeAndGossip.messagesPerSecond).toFixed(2),
        `${bytes(steady(r, (x) => meanSize(x, "ping")))} / ${bytes(steady(r, (x) => meanSize(x, "ack")))}`,
        `${bytes(steady(r, (x) => x.pushPull.bytesPerSecond))}/s`,
        steady(r, (x) => x.pushPull.messagesPerSecond).toFixed(3),
        `${s(steady(r, (x) => x.pushPull.periodMs))} s, ${bytes(steady(r, (x) => x.pushPull.meanBytes))} each way`,
        `${bytes(r.medians.bytesPerSecond)}/s`,
        r.medians.messagesPerSecond.toFixed(2),
        steady(r, (x) => x.linksPerNode).toFixed(0),
      ]),
    },
    {
      title:
        "Published reference points at the same settings, computed from their formulas (not measurements): Serf's convergence simulator (a logistic epidemic model; 0.2 s rounds, fanout 3, no loss) and its “estimated max bandwidth” (1,400-byte packets × fanout × rounds/s × 2, i.e. full packets every round); " +
        "SWIM's expected time to first detection with random probe targets, T'/(1 − e^−1) at T' = 1 s; memberlist's SuspicionTimeout = SuspicionMult · log(N+1) · ProbeInterval (its docs; computed as its code does, max(1, log10 N)), up to SuspicionMaxTimeoutMult × that. " +
        "SWIM promises a constant per-member message load but no byte figure; measured memberlist or Serf byte rates: not compared.",
      header: ["N", "Serf simulator: 99.99 % reached", "SWIM: E[first detection]", "memberlist suspicion timeout", "Serf simulator: est. max bandwidth"],
      rows: results.map(({ n, references: ref }) => [
        String(n),
        `${s(ref.serfSimulator9999Ms)} s`,
        `${s(ref.swimFirstDetectionMs)} s`,
        `${s(ref.memberlistSuspicionMs.min)}–${s(ref.memberlistSuspicionMs.max)} s`,
        `${bytes(ref.serfSimulatorMaxBytesPerSecond)}/s`,
      ]),
    },
    {
      title: "What the simulation cost in wall time (build = N − 1 nodes joining at once, until converged and gossip is quiet; false alarms = suspicions of nodes that never crashed).",
      header: ["N", "build: simulated", "build: wall", "wall s per simulated s (steady)", "false alarms", "total wall"],
      rows: results.map((r) => [
        String(r.n),
        `${spread(r.runs.map((run) => run.buildSimulatedMs))} s`,
        `${median(r.runs.map((run) => run.buildWallSeconds)).toFixed(1)} s`,
        steady(r, (x) => x.wallSecondsPerSimulatedSecond).toFixed(3),
        String(r.runs.reduce((sum, run) => sum + run.falseAlarms, 0)),
        `${r.wallSeconds.toFixed(1)} s`,
      ]),
    },
  ];
}

function print(results: SizeResult[], info: Machine): void {
  console.log(`\nMembership at scale, deterministic simulation${QUICK ? " (--quick: rough)" : ""}: ${info.cpu}, ${info.cores} cores, Node ${info.node}`);
  for (const section of sections(results)) {
    console.log(`\n${section.title}`);
    printTable(section.header, section.rows);
  }
}

function markdown(results: SizeResult[], info: Machine): string {
  const command = `node --import tsx bench/membership-scale.ts${QUICK ? " --quick" : ""}`;
  const intro = `${measuredBy(command, info)}. Simulated time, not wall time: the real \`Membership\` with default options on every node, InProcessNetwork with ${LATENCY.ms} ms + up to ${LATENCY.jitterMs} ms one-way latency, seeded randomness.`;
  const body = sections(results).flatMap((section) => ["", section.title, "", ...markdownTable(section.header, section.rows)]);
  return [MARK.start, intro, ...body, MARK.end].join("\n");
}

function progress(line: string): void {
  console.error(`  ${line}`);
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  exitWhenHung(WATCHDOG_MS);
  const info = machine();
  const results: SizeResult[] = [];
  for (const plan of PLAN) {
    const started = performance.now();
    const runs: ClusterRun[] = [];
    for (const seed of plan.seeds) {
      runs.push(await runCluster(plan, seed));
      collectGarbage();
    }
    results.push(summarize(plan, runs, (performance.now() - started) / 1000));
  }
  print(results, info);
  console.log(`\n${markdown(results, info)}\n`);
  const out = resultsPath("membership", QUICK);
  writeResults(out, { benchmark: "membership", quick: QUICK, machine: info, setup: { latency: LATENCY, options: DEFAULT_MEMBERSHIP_OPTIONS, plan: PLAN }, results });
  console.log(`wrote ${relative(process.cwd(), out)}`);
}

await runMain(main);
