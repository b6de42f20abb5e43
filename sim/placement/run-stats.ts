// What one simulated run records: planning times, changes and how fast they settled, moves, and per placement the latency and load.

import { LatencyHistogram } from "./histogram.js";
import type { Scenario } from "./scenarios.js";

export interface WorldStats {
  /** End-to-end latency of every sampled request over the whole run. */
  readonly latency: LatencyHistogram;
  /** The same over the steady window at the end. */
  readonly steadyLatency: LatencyHistogram;
  evaluations: number;
  /** Sums over evaluations (divide by `evaluations`). */
  messagesPerSec: number;
  remotePerSec: number;
  busiestSum: number;
  busiestMax: number;
  replicaSum: number;
  /** Sampled calls that found no replica up. */
  unavailableCalls: number;
  /** One point per evaluation: minute, mean end-to-end latency, busiest node's utilization, replicas. */
  readonly series: { min: number; meanMs: number; busiest: number; replicas: number }[];
}

export function newWorldStats(): WorldStats {
  return { latency: new LatencyHistogram(), steadyLatency: new LatencyHistogram(), evaluations: 0, messagesPerSec: 0, remotePerSec: 0, busiestSum: 0, busiestMax: 0, replicaSum: 0, unavailableCalls: 0, series: [] };
}

/** One change (or the start) and the planning rounds until a round planned no move with no node suspect. */
export interface ChangeRecord {
  readonly label: string;
  readonly atMin: number;
  readonly round: number;
  settledRounds: number | undefined;
  /** Replica changes carried out until then. */
  moves: number;
}

export interface MoveCounts {
  added: number;
  removed: number;
  dropped: number;
  withheld: number;
}

export interface RunStats {
  readonly scenario: Scenario;
  readonly rounds: number;
  /** Wall-clock ms of each planPlacement call. */
  readonly planMs: number[];
  readonly changes: ChangeRecord[];
  readonly moves: MoveCounts;
  /**
   * The start (every service everywhere → planned), closed when it settled or, failing that, at the
   * first change: rounds to settle (undefined: it did not) and the moves until then.
   */
  initial: { rounds: number | undefined; closedAtRound: number; moves: MoveCounts } | undefined;
  /** Replicas added and removed after the start closed. */
  readonly afterInitial: { added: number; removed: number };
  /** In the steady window: moves the plans asked for (and by reason), moves carried out, and rounds. */
  readonly steady: { plannedMoves: number; appliedMoves: number; rounds: number; reasons: Record<string, number> };
  readonly worlds: Record<string, WorldStats>;
  /** Service id → node ids running it at the end (up nodes). */
  readonly replicasAtEnd: Record<string, string[]>;
}
