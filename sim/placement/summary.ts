// One run's record reduced to the numbers reported: per placement latency and load, and the planner's moves, settling and timing.

import type { RunStats, WorldStats } from "./run-stats.js";
import { ROUND_MS } from "./scenarios.js";

export interface PlacementSummary {
  readonly placement: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** The same over the steady window at the end. */
  readonly steadyP50Ms: number;
  readonly steadyP99Ms: number;
  /** Share of service-to-service messages that go to another node. */
  readonly crossNodeShare: number;
  /** Utilization of the busiest node: mean over evaluations, and the highest seen. */
  readonly busiestMean: number;
  readonly busiestPeak: number;
  readonly replicasMean: number;
  /** Sampled calls that found no replica up. */
  readonly unavailableCalls: number;
  readonly samples: number;
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly nodes: number;
  readonly services: number;
  readonly simulatedHours: number;
  readonly rounds: number;
  readonly placements: PlacementSummary[];
  readonly planner: {
    /** Wall-clock ms of one planPlacement call (what each node spends per round). */
    readonly planMs: { median: number; p99: number; max: number };
    /** The start (every service everywhere) settling: rounds, replicas removed and added. */
    readonly initial: { rounds: number | null; removed: number; added: number };
    /** Replica changes carried out per simulated hour after the start settled (adds + removes). */
    readonly movesPerHour: number;
    /** Each change of the timeline: rounds until a round planned no move (null: not before the next change). */
    readonly changes: { atMin: number; change: string; roundsToSettle: number | null; moves: number }[];
    /** The steady window: moves planned (by reason) and carried out (the aim: 0), and its length. */
    readonly steady: { minutes: number; plannedMoves: number; appliedMoves: number; reasons: Record<string, number> };
    /** Planned removals held back by make-before-break (another node did not run the service yet). */
    readonly withheldRemovals: number;
  };
  /** Service id → nodes running it at the end (small clusters only). */
  readonly finalPlacement?: Record<string, string[]>;
}

export function summarize(stats: RunStats): ScenarioSummary {
  const { scenario } = stats;
  const sorted = [...stats.planMs].sort((a, b) => a - b);
  const at = (q: number) => round2(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN);
  const initial = stats.initial;
  const hoursAfterInitial = ((stats.rounds - (initial?.closedAtRound ?? stats.rounds)) * ROUND_MS) / 3_600_000;
  return {
    scenario: scenario.name,
    nodes: scenario.nodes,
    services: scenario.pipelineRates.length * 5,
    simulatedHours: round2(scenario.minutes / 60),
    rounds: stats.rounds,
    placements: Object.entries(stats.worlds).map(([name, world]) => placementSummary(name, world)),
    planner: {
      planMs: { median: at(0.5), p99: at(0.99), max: round2(sorted[sorted.length - 1] ?? Number.NaN) },
      initial: { rounds: initial?.rounds ?? null, removed: (initial?.moves ?? stats.moves).removed, added: (initial?.moves ?? stats.moves).added },
      movesPerHour: hoursAfterInitial > 0 ? Math.round((stats.afterInitial.added + stats.afterInitial.removed) / hoursAfterInitial) : 0,
      changes: stats.changes.map((c) => ({ atMin: c.atMin, change: c.label, roundsToSettle: c.settledRounds ?? null, moves: c.moves })),
      steady: { minutes: scenario.steadyMinutes, plannedMoves: stats.steady.plannedMoves, appliedMoves: stats.steady.appliedMoves, reasons: stats.steady.reasons },
      withheldRemovals: stats.moves.withheld,
    },
    ...(scenario.nodes <= 10 ? { finalPlacement: stats.replicasAtEnd } : {}),
  };
}

function placementSummary(name: string, w: WorldStats): PlacementSummary {
  const perEvaluation = (sum: number) => (w.evaluations === 0 ? Number.NaN : sum / w.evaluations);
  return {
    placement: name,
    p50Ms: round2(w.latency.quantile(0.5)),
    p99Ms: round2(w.latency.quantile(0.99)),
    meanMs: round2(w.latency.meanMs),
    steadyP50Ms: round2(w.steadyLatency.quantile(0.5)),
    steadyP99Ms: round2(w.steadyLatency.quantile(0.99)),
    crossNodeShare: round3(w.messagesPerSec === 0 ? 0 : Math.max(0, w.remotePerSec / w.messagesPerSec)),
    busiestMean: round3(perEvaluation(w.busiestSum)),
    busiestPeak: round3(w.busiestMax),
    replicasMean: Math.round(perEvaluation(w.replicaSum)),
    unavailableCalls: w.unavailableCalls,
    samples: w.latency.count,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
