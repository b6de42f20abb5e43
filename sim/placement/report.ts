// The simulation's report: terminal tables, the markdown snippet for docs/benchmarks.md, and how each aim came out.

import { markdownTable, printTable } from "../../bench/harness.js";
import type { ScenarioSummary } from "./summary.js";

/** The issue's aims. */
export const AIMS = { p50VsHandMade: 1.2, p50VsRoundRobin: 3, planMsAt1000: 50 } as const;

export interface AimResult {
  readonly aim: string;
  /** Per scenario (by name): the measured value as text, and whether it meets the aim (undefined: not applicable). */
  readonly results: Record<string, { value: string; met: boolean | undefined }>;
}

const p50Of = (s: ScenarioSummary, placement: string) => s.placements.find((p) => p.placement === placement)?.p50Ms ?? Number.NaN;

export function aims(summaries: readonly ScenarioSummary[]): AimResult[] {
  const per = (fn: (s: ScenarioSummary) => { value: string; met: boolean | undefined }) => Object.fromEntries(summaries.map((s) => [s.scenario, fn(s)]));
  return [
    {
      aim: `p50 within ${AIMS.p50VsHandMade}× of the hand-made placement`,
      results: per((s) => {
        const ratio = p50Of(s, "kaffix") / p50Of(s, "hand-made");
        return { value: `${ratio.toFixed(2)}×`, met: ratio <= AIMS.p50VsHandMade };
      }),
    },
    {
      aim: `p50 at least ${AIMS.p50VsRoundRobin}× better than round-robin`,
      results: per((s) => {
        const ratio = p50Of(s, "round-robin") / p50Of(s, "kaffix");
        return { value: `${ratio.toFixed(1)}×`, met: ratio >= AIMS.p50VsRoundRobin };
      }),
    },
    {
      aim: "no move under steady load (moves planned / carried out in the steady window)",
      results: per((s) => ({ value: `${s.planner.steady.plannedMoves} / ${s.planner.steady.appliedMoves}`, met: s.planner.steady.plannedMoves === 0 })),
    },
    {
      aim: `planning under ${AIMS.planMsAt1000} ms per node at 1,000 nodes × 50 services (median / p99)`,
      results: per((s) => ({
        value: `${fmtMs(s.planner.planMs.median)} / ${fmtMs(s.planner.planMs.p99)}`,
        met: s.nodes >= 1000 ? s.planner.planMs.median < AIMS.planMsAt1000 : undefined,
      })),
    },
  ];
}

const PLACEMENT_HEADER = ["cluster", "placement", "p50", "p99", "steady p50", "steady p99", "cross-node msgs", "busiest node (mean / peak)", "replicas"];
const PLANNER_HEADER = ["cluster", "simulated", "start settles in", "changes settle in (rounds)", "moves / h", "moves once steady", "plan time median / p99 / max"];

function placementRows(summaries: readonly ScenarioSummary[]): string[][] {
  return summaries.flatMap((s) =>
    s.placements.map((p) => [
      s.scenario,
      p.placement,
      fmtMs(p.p50Ms),
      fmtMs(p.p99Ms),
      fmtMs(p.steadyP50Ms),
      fmtMs(p.steadyP99Ms),
      `${(p.crossNodeShare * 100).toFixed(1)} %`,
      `${Math.round(p.busiestMean * 100)} % / ${Math.round(p.busiestPeak * 100)} %`,
      p.replicasMean.toLocaleString("en-US"),
    ]),
  );
}

function plannerRows(summaries: readonly ScenarioSummary[]): string[][] {
  return summaries.map((s) => {
    const settle = s.planner.changes.slice(1).map((c) => (c.roundsToSettle === null ? "–" : String(c.roundsToSettle)));
    const start = s.planner.initial.rounds === null ? "not settled" : `${s.planner.initial.rounds} rounds (${s.planner.initial.removed.toLocaleString("en-US")} removals)`;
    return [
      s.scenario,
      `${s.simulatedHours} h`,
      start,
      settle.join(", "),
      String(s.planner.movesPerHour),
      steadyMoves(s),
      `${fmtMs(s.planner.planMs.median)} / ${fmtMs(s.planner.planMs.p99)} / ${fmtMs(s.planner.planMs.max)}`,
    ];
  });
}

function aimRows(summaries: readonly ScenarioSummary[]): { header: string[]; rows: string[][] } {
  const header = ["aim", ...summaries.map((s) => s.scenario)];
  const rows = aims(summaries).map((a) => [a.aim, ...summaries.map((s) => mark(a.results[s.scenario]!))]);
  return { header, rows };
}

export function printReport(summaries: readonly ScenarioSummary[]): void {
  console.log("\nEnd-to-end latency of the call graph, and load, per placement");
  printTable(PLACEMENT_HEADER, placementRows(summaries), 2);
  console.log("\nThe planner: settling, moves and planning time (a round is 5 s of simulated time)");
  printTable(PLANNER_HEADER, plannerRows(summaries), 2);
  console.log("\nAims");
  const { header, rows } = aimRows(summaries);
  printTable(header, rows, 1);
}

/** The snippet for docs/benchmarks.md (between markers, like the bench scripts' snippets). */
export function markdownReport(summaries: readonly ScenarioSummary[], opening: string): string {
  const { header, rows } = aimRows(summaries);
  const changes = summaries[0]?.planner.changes.slice(1).map((c) => `${c.change} (minute ${c.atMin})`) ?? [];
  return [
    "<!-- sim:placement:start -->",
    opening,
    "",
    "The real planner (`planPlacement`) against a simulated cluster: three regions 20 ms apart (0.2 ms within one), nodes of 1, 2 and 4 cores, and per pipeline a database in one region (~1 ms from there, 20 ms more from the others). Every 5 s of simulated time each round builds the input the runtime would gossip (rates measured over 10 s windows with their sampling noise; database latency measured only on nodes running the service), plans, and applies the moves as the runtime will (adds at once, a removal once the service already runs on enough other nodes, `maxMovesPerRound` = max(2, nodes)). Latency is modelled analytically every minute or so: per-replica rates from the call graph, M/M/1 queueing per node, and calls split as Kaffix's router would split them (local first while cheaper, else the cheaper of two sampled replicas by RTT + (outstanding + 1) / capacity × handler duration), then a few thousand requests sampled through it. Variants: *db-writer with region hint* declares each db-writer's database region (`region` hint) instead of leaving locality to measurement; *today's placement loop* carries plans out as `src/placement/placement-loop.ts` does now (a removal announced a round ahead and carried out at the next round only once every kept node runs the service and is not leaving it, of two nodes keeping each other the lower id first; joining nodes start every service; latencies remembered an hour after a replica stops). Details in `sim/placement/`; `node --import tsx sim/placement/weaknesses.ts` prints the smallest inputs behind the misses.",
    "",
    ...markdownTable(header, rows, 1),
    "",
    "End-to-end latency of one request through the call graph (gateway → orders → pricing ⇄ inventory ×5 → db-writer → database ×2), over the whole run; *steady* is the window at the end, after the last change has settled. *kaffix*: the planner's placement, carried out as the runtime will; *hand-made*: gateway, orders, pricing and inventory on every node, db-writer only in its database's region with room for the load; *everywhere, local-first*: every service on every node with Kaffix's router (Kaffix without placement); *round-robin*: every service on every node, each call to a replica anywhere in the cluster at random (Moleculer). *Cross-node msgs*: share of service-to-service messages that leave their node. *Busiest node*: utilization of the busiest node, mean over the run and peak.",
    "",
    ...markdownTable(PLACEMENT_HEADER, placementRows(summaries), 2),
    "",
    `The planner in the same runs. Changes, in order: ${changes.join("; ")}. *Changes settle in*: planning rounds (5 s each) from the change until a round plans no move (a crash counts from the crash: the node is suspect for about 8 s first). *Moves / h*: replicas started or stopped per simulated hour after the start settled. *Plan time*: wall clock of one \`planPlacement\` call, which every node runs each round.`,
    "",
    ...markdownTable(PLANNER_HEADER, plannerRows(summaries), 2),
    "<!-- sim:placement:end -->",
    "",
  ].join("\n");
}

/** "planned / carried out in N min", with the reasons when there were any. */
function steadyMoves(s: ScenarioSummary): string {
  const { plannedMoves, appliedMoves, minutes, reasons } = s.planner.steady;
  const why = Object.entries(reasons).map(([reason, count]) => `${reason} ${count}`).join(", ");
  return `${plannedMoves} / ${appliedMoves} in ${minutes} min${why === "" ? "" : ` (${why})`}`;
}

function mark(result: { value: string; met: boolean | undefined }): string {
  return result.met === undefined ? result.value : `${result.value} ${result.met ? "✓" : "✗"}`;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}
