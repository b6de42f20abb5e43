// The planner weaknesses the simulation ran into, each as the smallest PlanInput that shows it (prints what planPlacement does).
//
//   node --import tsx sim/placement/weaknesses.ts

import type { PlanInput, PlanNode, PlanService } from "../../src/placement/plan-input.js";
import type { Plan } from "../../src/placement/plan-output.js";
import { planPlacement } from "../../src/placement/planner.js";

const REGION_RTT_MS = 20;
const WITHIN_MS = 0.2;

function nodes(spec: [id: string, region: string, capacity: number][], services: string[]): PlanNode[] {
  return spec.map(([id, region, capacity]) => ({ id, region, capacity, labels: [], services, status: "alive" }));
}

function rtt(list: readonly PlanNode[]): (a: string, b: string) => number {
  const region = new Map(list.map((n) => [n.id, n.region]));
  return (a, b) => (a === b ? 0 : region.get(a) === region.get(b) ? WITHIN_MS : REGION_RTT_MS);
}

/** db-writer: 1,000 messages/s of 0.4 ms, two database calls each, latency measured on `measured`. */
function dbWriter(measured: Record<string, number>): PlanService {
  return { id: "db-writer", arrivalPerSec: 1000, serviceTimeMs: 0.4, dependencies: [{ name: "database", callsPerSec: 2000, latencyMsByNode: measured }] };
}

function show(title: string, input: PlanInput, plan: Plan, service: string): void {
  console.log(`\n── ${title}`);
  const sp = plan.services[service]!;
  console.log(`   ${service}: ${sp.replicas} replicas (${sp.replicasBecause}) → ${plan.placement[service]!.join(", ")}${sp.deferred ? ` (deferred: ${sp.deferred})` : ""}`);
  const region = new Map(input.nodes.map((n) => [n.id, n.region]));
  for (const n of sp.nodes) {
    console.log(
      `     ${n.node} (${region.get(n.node)}) ${n.chosen ? "chosen" : "      "}${n.regionSpread ? " for its region" : ""}  utilization ${n.utilization.toFixed(2)}  dependency ${n.dependencyCost.toFixed(0)} (${n.dependencyLatency})  cost ${n.cost.toFixed(0)}`,
    );
  }
}

// 1. Region spread wins over a dependency 20× slower: with all latencies measured (every node ran it), the
//    second replica still goes to another region, 21 ms from the database instead of 1 ms.
{
  const list = nodes([["eu-a", "eu", 2], ["eu-b", "eu", 2], ["us-a", "us", 2], ["us-b", "us", 2], ["ap-a", "ap", 2], ["ap-b", "ap", 2]], ["db-writer"]);
  const input: PlanInput = { nodes: list, rttMs: rtt(list), services: [dbWriter({ "eu-a": 1, "eu-b": 1, "us-a": 21, "us-b": 21, "ap-a": 21, "ap-b": 21 })], nowMs: 0 };
  show("1. region spread outranks dependency latency (every node measured)", input, planPlacement(input), "db-writer");
}

// 2. The database's region is forgotten once no replica runs there: after eu-a (the replica next to the
//    database) is gone, only us-a measures (21 ms); eu nodes are estimated 21 + 20 = 41 ms like ap nodes,
//    so the replacement lands by load, and nothing ever brings the service back to eu.
{
  const list = nodes([["eu-b", "eu", 2], ["eu-c", "eu", 2], ["us-a", "us", 2], ["us-b", "us", 2], ["ap-a", "ap", 1], ["ap-b", "ap", 4]], ["db-writer"]);
  const input: PlanInput = { nodes: list, rttMs: rtt(list), services: [dbWriter({ "us-a": 21 })], current: { "db-writer": ["eu-a", "us-a"] }, nowMs: 0 };
  const plan = planPlacement(input);
  show("2. after the replica in the database's region is lost (only us-a measured)", input, plan, "db-writer");
  const next: PlanInput = { ...input, current: plan.placement, services: [dbWriter(Object.fromEntries(plan.placement["db-writer"]!.map((n) => [n, n.startsWith("eu") ? 1 : 21])))], nowMs: 3_600_000 };
  console.log(`   an hour later, measured where it runs: ${planPlacement(next).moves.length} moves`);
}

// 3. Replicas are counted for the mean node (targetUtilization × mean capacity) and each is priced as an
//    equal share: on 1-, 2- and 4-core nodes a share of 1.6 cores never fits a 1-core node, so the 4-core
//    nodes fill to 80 % while the 1-core nodes get nothing, at 50 % utilization overall (the router would
//    give a replica on a small node a smaller share: it splits by capacity).
{
  const ids = Array.from({ length: 11 }, (_, i) => `s${i}`);
  const list = nodes(
    [4, 2, 1].flatMap((capacity) => Array.from({ length: 10 }, (_, i): [string, string, number] => [`c${capacity}-${i}`, "eu", capacity])),
    ids,
  );
  const input: PlanInput = { nodes: list, rttMs: rtt(list), services: ids.map((id) => ({ id, arrivalPerSec: 5333, serviceTimeMs: 0.6 })), nowMs: 0 };
  const plan = planPlacement(input);
  const load = new Map<string, number>();
  for (const id of ids) for (const n of plan.placement[id]!) load.set(n, (load.get(n) ?? 0) + 3.2 / plan.placement[id]!.length);
  console.log(`\n── 3. equal shares on unequal nodes: 11 services of 3.2 cores (${plan.placement.s0!.length} replicas each) on 10 nodes each of 4, 2 and 1 cores`);
  for (const capacity of [4, 2, 1]) {
    const us = list.filter((n) => n.capacity === capacity).map((n) => (load.get(n.id) ?? 0) / capacity);
    console.log(`     ${capacity}-core nodes: planned utilization ${Math.min(...us).toFixed(2)}–${Math.max(...us).toFixed(2)}`);
  }
}

// 4. The replica count has no hysteresis: work within measurement noise of a multiple of targetUtilization ×
//    meanCapacity (here 2.8 = 2 × 0.7 × 2) flips between 2 and 3 replicas every minMoveIntervalMs.
{
  const list = nodes(Array.from({ length: 10 }, (_, i): [string, string, number] => [`n${i}`, "eu", 2]), ["s"]);
  let input: PlanInput = { nodes: list, rttMs: rtt(list), services: [{ id: "s", arrivalPerSec: 4667, serviceTimeMs: 0.6 }], nowMs: 0 };
  const counts: number[] = [];
  for (let round = 0; round < 12; round++) {
    const arrivalPerSec = round % 2 === 0 ? 4667 : 4665; // ±0.02 %: far below what a 10 s window can measure
    input = { ...input, services: [{ id: "s", arrivalPerSec, serviceTimeMs: 0.6 }] };
    const plan = planPlacement(input);
    counts.push(plan.placement.s!.length);
    const lastMoveMs: Record<string, number> = { ...input.lastMoveMs };
    if (plan.moves.length > 0) lastMoveMs.s = input.nowMs;
    input = { ...input, current: plan.placement, lastMoveMs, nowMs: input.nowMs + 30_000 };
  }
  console.log(`\n── 4. replica count at a demand boundary, rounds 30 s apart, work 2.799 / 2.800 cores: ${counts.join(" ")}`);
}
