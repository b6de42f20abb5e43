// End-to-end latency of a pipeline across three regions 20 ms apart, in real processes: every service everywhere
// (random replicas per hop, as round-robin would; then Kaffix's own routing), against placement once it settled.
//
//   node --import tsx bench/placement-regions.ts
//
// The topology is test/support/region-cluster.ts: 5 nodes (r1: 2, r2: 2, r3: 1) on 127.0.0.1, a delay proxy of
// 10 ms each way on every path between regions, a database that answers in ~1 ms from r1 and 20 ms further from
// elsewhere; each node's client sends 10 requests a second to its own gateway (gateway → orders → pricing ↔
// inventory ×4 → ledger → 4 database queries). Latency is what those clients measured, per request.

import { relative } from "node:path";
import { percentile, RegionCluster, type RegionClusterOptions, type Sample } from "../test/support/region-cluster.js";
import { exitWhenHung, machine, markdownTable, measuredBy, printTable, resultsPath, runMain, writeResults } from "./harness.js";

const MARK = { start: "<!-- bench:placement-regions:start -->", end: "<!-- bench:placement-regions:end -->" } as const;
const TOPOLOGY = { layout: { r1: 2, r2: 2, r3: 1 }, dbRegion: "r1", oneWayDelayMs: 10, ratePerSec: 10 } as const;
const MEASURE_MS = 10_000;
const SETTLE_BOUND_MS = 60_000;

interface Scenario {
  readonly name: string;
  readonly what: string;
  readonly options: Partial<RegionClusterOptions>;
  /** Waits until the scenario's steady state begins. */
  ready(cluster: RegionCluster): Promise<void>;
}

interface Result {
  scenario: string;
  what: string;
  requests: number;
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Share of requests whose ledger ran in the database's region. */
  ledgerInDbRegion: number;
  /** Share of inventory calls handled on the node of the pricing replica that made them. */
  inventoryLocal: number;
  /** Seconds from the last node's start to the measured window. */
  warmupS: number;
  placement?: Record<string, string[]>;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: "everywhere, random replica per hop",
    what: "placement off; every hop past the gateway to a random replica (a random affinity key): what round-robin does",
    options: { placement: false, routing: "random" },
    ready: (cluster) => sleepUntil(cluster.readyAt + 3_000),
  },
  {
    name: "everywhere, Kaffix routing",
    what: "placement off; Kaffix's cost routing (local when about as cheap, else the cheaper of two sampled replicas by RTT + queue)",
    options: { placement: false, routing: "cost" },
    // Routing learns each replica's service time from gossip: give it a few refreshes.
    ready: (cluster) => sleepUntil(cluster.readyAt + 8_000),
  },
  {
    name: "placement on, settled",
    what: "placement on (intervalMs 500, minMoveIntervalMs 2000), measured once every node shows the same trimmed placement for 3 s",
    options: { placement: true, routing: "cost", intervalMs: 500, minMoveIntervalMs: 2_000 },
    ready: async (cluster) => {
      await cluster.settled(
        (view) => ["orders", "pricing", "inventory", "ledger"].every((s) => (view.running[s]?.length ?? 0) >= 2 && view.running[s]!.length < cluster.nodes.length),
        3,
        SETTLE_BOUND_MS,
        (view) => JSON.stringify(view?.running),
      );
    },
  },
];

async function main(): Promise<void> {
  exitWhenHung(150_000);
  const info = machine();
  const results: Result[] = [];
  for (const scenario of SCENARIOS) {
    console.error(`placement-regions: ${scenario.name} …`);
    results.push(await runScenario(scenario));
  }
  const [random, routed, placed] = results as [Result, Result, Result];
  const ratios = {
    p50VsRandom: round(random.p50Ms / placed.p50Ms),
    p99VsRandom: round(random.p99Ms / placed.p99Ms),
    p50VsRouting: round(routed.p50Ms / placed.p50Ms),
    p99VsRouting: round(routed.p99Ms / placed.p99Ms),
  };
  const header = ["setup", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "ledger in r1", "inventory local"];
  const rows = results.map((r) => [r.scenario, String(r.requests), String(r.errors), fixed(r.p50Ms), fixed(r.p90Ms), fixed(r.p99Ms), pct(r.ledgerInDbRegion), pct(r.inventoryLocal)]);
  printTable(header, rows);
  console.log(`\nplacement vs random replicas: p50 ${ratios.p50VsRandom}× lower, p99 ${ratios.p99VsRandom}× lower`);
  console.log(`placement vs Kaffix routing with every service everywhere: p50 ${ratios.p50VsRouting}×, p99 ${ratios.p99VsRouting}×`);
  console.log(`settled placement: ${JSON.stringify(placed.placement)}`);
  const lines = [
    MARK.start,
    `${measuredBy("node --import tsx bench/placement-regions.ts", info)}; 5 processes on 127.0.0.1 in 3 regions, 10 ms each way between regions, ${MEASURE_MS / 1000} s measured per setup.`,
    "",
    ...markdownTable(header, rows),
    "",
    `Placement against random replicas: p50 ${ratios.p50VsRandom}× lower, p99 ${ratios.p99VsRandom}× lower; against Kaffix's routing with every service everywhere: p50 ${ratios.p50VsRouting}×, p99 ${ratios.p99VsRouting}×.`,
    MARK.end,
  ];
  console.log(`\n${lines.join("\n")}`);
  const path = resultsPath("placement-regions", false);
  writeResults(path, { machine: info, topology: TOPOLOGY, measureMs: MEASURE_MS, results, ratios });
  console.error(`results written to ${relative(process.cwd(), path)}`);
}

async function runScenario(scenario: Scenario): Promise<Result> {
  const cluster = await RegionCluster.start({ ...TOPOLOGY, placement: true, ...scenario.options });
  try {
    await scenario.ready(cluster);
    const fromMs = Date.now();
    await sleepUntil(fromMs + MEASURE_MS);
    const placement = scenario.options.placement === true ? (await cluster.placement(cluster.nodes[0]!)).running : undefined;
    // Requests begun in the window; the last second's may still be in flight, so wait for them.
    await sleepUntil(Date.now() + 1_500);
    return summarize(cluster, scenario, cluster.samples(fromMs, fromMs + MEASURE_MS), (fromMs - cluster.readyAt) / 1000, placement);
  } finally {
    await cluster.close();
  }
}

function summarize(cluster: RegionCluster, scenario: Scenario, samples: Sample[], warmupS: number, placement: Record<string, string[]> | undefined): Result {
  const ok = samples.filter((s) => s.ok);
  const ms = ok.map((s) => s.ms);
  const calls = ok.reduce((sum, s) => sum + s.inventory!.length, 0);
  const local = ok.reduce((sum, s) => sum + s.inventory!.filter((node) => node === s.pricing).length, 0);
  const named = placement === undefined ? undefined : Object.fromEntries(Object.entries(placement).map(([service, ids]) => [service, ids.map((id) => cluster.nameOf(id)).sort()]));
  return {
    scenario: scenario.name,
    what: scenario.what,
    requests: samples.length,
    errors: samples.length - ok.length,
    p50Ms: round(percentile(ms, 50)),
    p90Ms: round(percentile(ms, 90)),
    p99Ms: round(percentile(ms, 99)),
    meanMs: round(ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length)),
    ledgerInDbRegion: round(ok.filter((s) => cluster.regionOf(s.ledger ?? "") === TOPOLOGY.dbRegion).length / Math.max(1, ok.length)),
    inventoryLocal: round(local / Math.max(1, calls)),
    warmupS: round(warmupS),
    ...(named === undefined ? {} : { placement: named }),
  };
}

function sleepUntil(epochMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}

const round = (n: number) => Math.round(n * 100) / 100;
const fixed = (n: number) => n.toFixed(1);
const pct = (n: number) => `${Math.round(n * 100)} %`;

await runMain(main);
