// Times the placement planner on 1,000 nodes × 50 services: every node runs it on each round, so it must stay cheap.
//
//   node --import tsx bench/placement-planner.ts [--nodes 1000] [--services 50] [--runs 20]
//
// The cluster (largeCluster in src/placement/plan-fixtures.test-support.ts): 4 regions, mixed
// capacities, RTTs estimated from 8-dimensional Vivaldi coordinates, services with demand,
// traffic to 3 partners each, a dependency measured on some nodes, a few spread and `near`
// services. Timed: plans from nothing (every replica new), and steady rounds that plan again from
// the previous plan. Aim: under 50 ms per plan.

import { largeCluster } from "../src/placement/plan-fixtures.test-support.js";
import type { PlanInput } from "../src/placement/plan-input.js";
import { planPlacement } from "../src/placement/planner.js";

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const NODE_COUNT = flag("nodes", 1000);
const SERVICE_COUNT = flag("services", 50);
const RUNS = flag("runs", 20);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const input = largeCluster(NODE_COUNT, SERVICE_COUNT);
const started = performance.now();
let plan = planPlacement(input);
const coldMs = performance.now() - started;
const freshMs: number[] = [];
for (let i = 0; i < Math.min(RUNS, 5); i++) {
  const t0 = performance.now();
  planPlacement(input);
  freshMs.push(performance.now() - t0);
}

const roundMs: number[] = [];
let round: PlanInput = { ...input, current: plan.placement, nowMs: 60_000 };
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  plan = planPlacement(round);
  roundMs.push(performance.now() - t0);
  round = { ...round, current: plan.placement, nowMs: round.nowMs + 60_000 };
}
roundMs.sort((a, b) => a - b);
const replicas = Object.values(plan.placement).reduce((sum, on) => sum + on.length, 0);
console.log(`placement planner: ${NODE_COUNT} nodes × ${SERVICE_COUNT} services, ${replicas} replicas placed`);
console.log(`  first plan in this process (cold JIT): ${coldMs.toFixed(1)} ms`);
console.log(`  plan from nothing (every replica new), warm: median ${median(freshMs).toFixed(1)} ms`);
console.log(`  steady round: median ${median(roundMs).toFixed(1)} ms, min ${roundMs[0]!.toFixed(1)} ms, max ${roundMs[roundMs.length - 1]!.toFixed(1)} ms over ${RUNS} runs`);
console.log(`  moves in the last round: ${plan.moves.length} (aim: under 50 ms per plan)`);
