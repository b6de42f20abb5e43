// One simulated run: planning rounds with the real planner, the changes of the timeline, and the placements compared every few rounds.

import { REMEMBER_MS } from "../../src/cluster/state-reporter.js";
import type { PlanInput } from "../../src/placement/plan-input.js";
import type { Plan } from "../../src/placement/plan-output.js";
import { planPlacement } from "../../src/placement/planner.js";
import { seededRandom } from "../../src/testing/seeded-random.js";
import { applyPlan, TwoPhaseRemovals } from "./apply-plan.js";
import { everywhere, handMade } from "./baselines.js";
import { REGIONS, SimCluster } from "./cluster.js";
import { measurePlanInput } from "./measure.js";
import type { RunStats, ChangeRecord } from "./run-stats.js";
import { ROUND_MS, type Scenario, type SimEvent } from "./scenarios.js";
import { makeWorkload, type Workload } from "./workload.js";
import { World } from "./world.js";

/** How long the runtime keeps reporting a dependency latency measured by a replica that has stopped. */

export const WORLDS = ["kaffix", "hand-made", "everywhere, local-first", "round-robin"] as const;
export type WorldName = (typeof WORLDS)[number];

/** What an observer of a run sees after each planning round (for debugging a scenario). */
export interface RoundView {
  readonly nowMs: number;
  readonly cluster: SimCluster;
  readonly workload: Workload;
  readonly active: readonly ReadonlySet<number>[];
  readonly input: PlanInput;
  readonly plan: Plan;
}

export function runScenario(scenario: Scenario, progress: (line: string) => void = () => {}, observe?: (view: RoundView) => void): RunStats {
  const random = seededRandom(scenario.seed); // changes and measurement noise
  const sampling = seededRandom(scenario.seed + 1_000_003); // request paths: evaluating more often does not change the plans
  const workload = makeWorkload(scenario.pipelineRates, 3);
  const cluster = new SimCluster(scenario.nodes, workload.pipelines.map((p) => p.dbRegion));
  const maxNodes = scenario.nodes + scenario.events.reduce((sum, e) => sum + (e.kind === "join" ? e.count : 0), 0);

  // The planner's world starts as a cluster before placement: every service active on every node.
  const active = workload.services.map(() => new Set(cluster.nodes.map((n) => n.index)));
  const lastMoveMs: Record<string, number> = {};
  const serviceIndex = new Map(workload.services.map((s, i) => [s.id, i]));
  const nodeIndex = new Map<string, number>();
  const worlds = WORLDS.map((name) => {
    const replicas =
      name === "kaffix"
        ? () => active.map((set) => [...set].filter((n) => cluster.isUp(n)).sort((a, b) => a - b))
        : name === "hand-made"
          ? () => handMade(cluster, workload)
          : () => everywhere(cluster, workload);
    return { name, world: new World(name === "round-robin" ? "uniform" : "cost", replicas, maxNodes, workload, cluster.regionCount) };
  });
  // What an evaluation depends on besides the routers' memory: the cluster and load, and Kaffix's placement.
  let clusterVersion = 0;
  let placementVersion = 0;

  // The variant that declares locality: each db-writer's region hint names its database's region.
  const hints = scenario.declareDbRegion
    ? (id: string) => {
        const s = workload.services.find((x) => x.id === id);
        return s !== undefined && s.dbCalls > 0 ? { region: REGIONS[cluster.dbRegion[s.pipeline]!]! } : undefined;
      }
    : undefined;
  const loop = scenario.runtime === "loop";
  const twoPhase = loop ? new TwoPhaseRemovals() : undefined;
  /** Per service and node, when it last ran there (for the latencies the runtime remembers). */
  const ranAtMs: number[][] = workload.services.map(() => []);
  const rounds = Math.round((scenario.minutes * 60_000) / ROUND_MS);
  const steadyFromMs = (scenario.minutes - scenario.steadyMinutes) * 60_000;
  const stats: RunStats = { scenario, rounds, planMs: [], changes: [], moves: { added: 0, removed: 0, dropped: 0, withheld: 0 }, initial: undefined, afterInitial: { added: 0, removed: 0 }, steady: { plannedMoves: 0, appliedMoves: 0, rounds: 0, reasons: {} }, worlds: {} as RunStats["worlds"], replicasAtEnd: {} };
  let open: ChangeRecord | undefined = { label: "start: every service everywhere", atMin: 0, round: 0, settledRounds: undefined, moves: 0 };
  stats.changes.push(open);

  for (let round = 0; round < rounds; round++) {
    const nowMs = round * ROUND_MS;
    for (const event of scenario.events) {
      if (event.atMin * 60_000 !== nowMs) continue;
      if (stats.initial === undefined) stats.initial = { rounds: undefined, closedAtRound: round, moves: { ...stats.moves } };
      const before = cluster.nodes.length;
      const label = applyEvent(event, cluster, workload, active, random);
      // Today's runtime starts every service on a joining node; placement trims it afterwards.
      if (loop) for (let n = before; n < cluster.nodes.length; n++) for (const set of active) set.add(n);
      clusterVersion++;
      open = { label, atMin: event.atMin, round, settledRounds: undefined, moves: 0 };
      stats.changes.push(open);
    }
    for (const n of cluster.nodes) nodeIndex.set(n.id, n.index);
    // Gossip lists only members: a node declared dead takes its replicas out of the view.
    for (const set of active) for (const n of set) if (cluster.membership(n, nowMs) === undefined) set.delete(n);
    for (const [s, set] of active.entries()) for (const n of set) if (cluster.isUp(n)) ranAtMs[s]![n] = nowMs;

    const input = measurePlanInput(cluster, workload, active, lastMoveMs, nowMs, random, { noise: true, hints, ...(loop ? { remembers: (s, n) => nowMs - (ranAtMs[s]![n] ?? -Infinity) <= REMEMBER_MS } : {}) });
    const started = performance.now();
    const plan = planPlacement(input);
    stats.planMs.push(performance.now() - started);
    const applied = applyPlan(plan, { active, serviceIndex, nodeIndex, isUp: (n) => cluster.isUp(n), lastMoveMs, nodeIds: cluster.nodes.map((n) => n.id), ...(twoPhase === undefined ? {} : { twoPhase }) }, nowMs);

    observe?.({ nowMs, cluster, workload, active, input, plan });
    if (applied.added + applied.removed + applied.dropped > 0) placementVersion++;
    stats.moves.added += applied.added;
    stats.moves.removed += applied.removed;
    stats.moves.dropped += applied.dropped;
    stats.moves.withheld += applied.withheld;
    if (stats.initial !== undefined) {
      stats.afterInitial.added += applied.added;
      stats.afterInitial.removed += applied.removed;
    }
    if (nowMs >= steadyFromMs) {
      stats.steady.rounds++;
      stats.steady.plannedMoves += plan.moves.length;
      for (const move of plan.moves) stats.steady.reasons[move.reason] = (stats.steady.reasons[move.reason] ?? 0) + 1;
      stats.steady.appliedMoves += applied.added + applied.removed;
    }
    if (open !== undefined) {
      open.moves += applied.added + applied.removed;
      const suspects = input.nodes.some((n) => n.status === "suspect");
      if (plan.moves.length === 0 && !suspects) {
        open.settledRounds = round - open.round;
        if (stats.initial === undefined) stats.initial = { rounds: open.settledRounds, closedAtRound: round + 1, moves: { ...stats.moves } };
        open = undefined;
      }
    }

    if (round % scenario.evaluateEveryRounds === 0) {
      for (const { name, world } of worlds) {
        const signature = name === "kaffix" ? `${clusterVersion}/${placementVersion}` : `${clusterVersion}`;
        world.evaluate(cluster, workload, scenario.samplesPerEvaluation, sampling, nowMs / 60_000, nowMs >= steadyFromMs, signature);
      }
    }
    if (round % 720 === 0 && round > 0) progress(`  ${scenario.name}: ${(nowMs / 3_600_000).toFixed(1)} h simulated`);
  }
  for (const { name, world } of worlds) stats.worlds[name] = world.stats;
  workload.services.forEach((s, i) => (stats.replicasAtEnd[s.id] = [...active[i]!].filter((n) => cluster.isUp(n)).map((n) => cluster.nodes[n]!.id).sort()));
  return stats;
}

/** Carries out one change of the timeline; returns what happened, for the report. */
function applyEvent(event: SimEvent, cluster: SimCluster, workload: Workload, active: readonly Set<number>[], random: () => number): string {
  const nowUp = () => cluster.upNodes();
  const pickRandom = <T>(items: T[], count: number): T[] => {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
    return out;
  };
  switch (event.kind) {
    case "load": {
      cluster.loadFactor = event.factor;
      if (event.regionWeights !== undefined) cluster.regionWeights = [...event.regionWeights];
      const weights = event.regionWeights === undefined ? "" : `, requests entering ${event.regionWeights.map((w, r) => `${Math.round(w * 100)} % in ${REGIONS[r]}`).join(", ")}`;
      return `load ×${event.factor}${weights}`;
    }
    case "crash": {
      let victims: number[];
      if (event.target === "db-writer") {
        const writers = workload.services.flatMap((s, i) =>
          s.dbCalls === 0 ? [] : [...active[i]!].filter((n) => cluster.isUp(n)).map((n) => ({ n, home: cluster.nodes[n]!.region === cluster.dbRegion[s.pipeline] })),
        );
        const preferred = [...new Set(writers.filter((w) => w.home).map((w) => w.n))].sort((a, b) => a - b);
        victims = pickRandom(preferred, event.count);
        if (victims.length < event.count) victims.push(...pickRandom(nowUp().map((n) => n.index).filter((n) => !victims.includes(n)), event.count - victims.length));
      } else {
        victims = pickRandom(nowUp().filter((n) => event.region === undefined || n.region === event.region).map((n) => n.index), event.count);
      }
      for (const n of victims) {
        cluster.nodes[n]!.state = "crashed";
        cluster.nodes[n]!.crashedAtMs = event.atMin * 60_000;
      }
      const where = event.target === "db-writer" ? " running db-writer" : event.region === undefined ? "" : ` in ${REGIONS[event.region]}`;
      return `crash of ${victims.length} node${victims.length === 1 ? "" : "s"}${where}`;
    }
    case "join": {
      for (let i = 0; i < event.count; i++) cluster.join(event.region, event.capacity);
      return `${event.count} node${event.count === 1 ? "" : "s"} of capacity ${event.capacity} join ${REGIONS[event.region]}`;
    }
    case "leave": {
      const leaving = pickRandom(nowUp().filter((n) => n.region === event.region).map((n) => n.index), event.count);
      for (const n of leaving) cluster.nodes[n]!.state = "left";
      return `${leaving.length} node${leaving.length === 1 ? "" : "s"} leave ${REGIONS[event.region]}`;
    }
  }
}
