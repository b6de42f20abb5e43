// Builders for planner tests: nodes, services, RTTs by region or position, and feeding a plan back in as the next round.

import fc from "fast-check";
import { type Coordinate, estimateRttMs } from "../cluster/vivaldi.js";
import { seededRandom } from "../testing/seeded-random.js";
import type { PlanInput, PlanNode, PlanService, TrafficFlow } from "./plan-input.js";
import type { Plan } from "./plan-output.js";
import { planPlacement } from "./planner.js";

/** An alive node of capacity 1 in region "r1" that may run every service in `services`. */
export function node(id: string, fields: Partial<PlanNode> = {}): PlanNode {
  return { id, region: "r1", capacity: 1, labels: [], services: [], status: "alive", ...fields };
}

/** A service with no demand and no hints. */
export function service(id: string, fields: Partial<PlanService> = {}): PlanService {
  return { id, arrivalPerSec: 0, serviceTimeMs: 0, ...fields };
}

/** Nodes `${prefix}0` … that may run `services`, with per-node fields from `fields(i)`. */
export function nodes(count: number, services: readonly string[], fields: (i: number) => Partial<PlanNode> = () => ({})): PlanNode[] {
  return Array.from({ length: count }, (_, i) => node(`n${String(i).padStart(3, "0")}`, { services, ...fields(i) }));
}

/** 0.5 ms within a region, 40 ms across regions. */
export function rttByRegion(list: readonly PlanNode[], sameMs = 0.5, acrossMs = 40): (a: string, b: string) => number {
  const region = new Map(list.map((n) => [n.id, n.region]));
  return (a, b) => (a === b ? 0 : region.get(a) === region.get(b) ? sameMs : acrossMs);
}

/** Euclidean distance between points on a line or plane, in ms: a stand-in for network coordinates. */
export function rttByPosition(positions: ReadonlyMap<string, readonly number[]>): (a: string, b: string) => number {
  return (a, b) => {
    const p = positions.get(a) ?? [];
    const q = positions.get(b) ?? [];
    return Math.hypot(...p.map((x, i) => x - (q[i] ?? 0)));
  };
}

/** The input of the next round after `plan` was carried out: placement as current, moved services stamped, time on. */
export function afterPlan(input: PlanInput, plan: Plan, advanceMs = 60_000): PlanInput {
  const lastMoveMs: Record<string, number> = { ...input.lastMoveMs };
  for (const move of plan.moves) lastMoveMs[move.service] = input.nowMs;
  return { ...input, current: plan.placement, lastMoveMs, nowMs: input.nowMs + advanceMs };
}

/** Plans rounds until one has no moves (or `maxRounds`); returns every plan. */
export function settle(input: PlanInput, maxRounds = 200): { plans: Plan[]; last: PlanInput } {
  const plans: Plan[] = [];
  let round = input;
  for (let i = 0; i < maxRounds; i++) {
    const plan = planPlacement(round);
    plans.push(plan);
    round = afterPlan(round, plan);
    if (plan.moves.length === 0) break;
  }
  return { plans, last: round };
}

/** Load per node implied by a placement: each replica carries its service's work / replica count. */
/** Busy seconds per second on each node, each service's work split over its replicas by capacity (as routing splits it). */
export function loadByNode(input: PlanInput, placement: Record<string, string[]>): Map<string, number> {
  const load = new Map<string, number>(input.nodes.map((n) => [n.id, 0]));
  const capacity = new Map(input.nodes.map((n) => [n.id, n.capacity]));
  for (const s of input.services) {
    const on = placement[s.id] ?? [];
    const total = on.reduce((sum, id) => sum + (capacity.get(id) ?? 0), 0);
    for (const id of on) load.set(id, (load.get(id) ?? 0) + ((s.arrivalPerSec * s.serviceTimeMs) / 1000) * ((capacity.get(id) ?? 0) / total));
  }
  return load;
}

/** Any order of `items` (fast-check shuffles through a permutation of indices). */
export function shuffled<T>(items: readonly T[], order: readonly number[]): T[] {
  return items.map((item, i) => ({ item, key: order[i] ?? 0, i })).sort((a, b) => a.key - b.key || a.i - b.i).map((x) => x.item);
}

/**
 * A random cluster: 1–12 nodes in 1–3 regions (some suspect, some with labels, some restricted
 * to a subset of services), 1–8 services with demand, hints, dependencies and traffic, RTTs from
 * positions on a plane, and a random current placement.
 */
export const clusterArbitrary: fc.Arbitrary<PlanInput> = fc
  .record({
    nodeCount: fc.integer({ min: 1, max: 12 }),
    serviceCount: fc.integer({ min: 1, max: 8 }),
    seedNodes: fc.array(
      fc.record({
        region: fc.integer({ min: 0, max: 2 }),
        capacity: fc.constantFrom(0.5, 1, 1, 2, 4),
        label: fc.boolean(),
        suspect: fc.integer({ min: 0, max: 9 }),
        x: fc.integer({ min: 0, max: 100 }),
        y: fc.integer({ min: 0, max: 100 }),
        allowMask: fc.integer({ min: 0, max: 255 }),
        restricted: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 12, maxLength: 12 },
    ),
    seedServices: fc.array(
      fc.record({
        arrivalPerSec: fc.constantFrom(0, 1, 50, 400, 2000),
        serviceTimeMs: fc.constantFrom(0, 0.1, 1, 5),
        minReplicas: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        maxReplicas: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        spread: fc.integer({ min: 0, max: 7 }),
        near: fc.boolean(),
        region: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        depCalls: fc.constantFrom(0, 0, 10, 300),
        depLatency: fc.array(fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }), { minLength: 12, maxLength: 12 }),
        currentMask: fc.integer({ min: 0, max: 4095 }),
      }),
      { minLength: 8, maxLength: 8 },
    ),
    traffic: fc.array(fc.record({ from: fc.integer({ min: 0, max: 7 }), to: fc.integer({ min: 0, max: 7 }), perSec: fc.constantFrom(5, 100, 3000) }), { maxLength: 10 }),
  })
  .map(({ nodeCount, serviceCount, seedNodes, seedServices, traffic }) => {
    const serviceIds = seedServices.slice(0, serviceCount).map((_, i) => `s${i}`);
    const planNodes = seedNodes.slice(0, nodeCount).map((n, i) =>
      node(`n${i}`, {
        region: `r${n.region}`,
        capacity: n.capacity,
        labels: n.label ? ["db"] : [],
        status: n.suspect === 0 ? "suspect" : "alive",
        services: n.restricted === 0 ? serviceIds.filter((_, s) => (n.allowMask >> s) & 1) : serviceIds,
      }),
    );
    const positions = new Map(seedNodes.slice(0, nodeCount).map((n, i) => [`n${i}`, [n.x, n.y]]));
    const services = seedServices.slice(0, serviceCount).map((s, i) =>
      service(`s${i}`, {
        arrivalPerSec: s.arrivalPerSec,
        serviceTimeMs: s.serviceTimeMs,
        hints: {
          minReplicas: s.minReplicas,
          maxReplicas: s.maxReplicas === undefined || s.minReplicas === undefined ? s.maxReplicas : Math.max(s.maxReplicas, s.minReplicas),
          spread: s.spread === 0,
          near: s.near ? "db" : undefined,
          region: s.region === undefined ? undefined : `r${s.region}`,
        },
        dependencies: s.depCalls === 0 ? [] : [{
          name: "db",
          callsPerSec: s.depCalls,
          latencyMsByNode: Object.fromEntries(s.depLatency.slice(0, nodeCount).flatMap((ms, n) => (ms === undefined ? [] : [[`n${n}`, ms]]))),
        }],
      }),
    );
    const current = Object.fromEntries(
      seedServices.slice(0, serviceCount).map((s, i) => [`s${i}`, Array.from({ length: 12 }, (_, n) => `n${n}`).filter((_, n) => (s.currentMask >> n) & 1)]),
    );
    return {
      nodes: planNodes,
      services,
      rttMs: rttByPosition(positions),
      traffic: traffic.filter((t) => t.from < serviceCount && t.to < serviceCount).map((t) => ({ from: `s${t.from}`, to: `s${t.to}`, perSec: t.perSec })),
      current,
      nowMs: 1_000_000,
    } satisfies PlanInput;
  });

/**
 * A big cluster for timing (bench/placement-planner.ts and the scale test): 4 regions, capacities
 * 1, 2 and 4, RTTs from 8-dimensional Vivaldi coordinates (as the wiring will estimate them), 3
 * partners per service, a dependency measured on every 7th node, some spread and `near`
 * services, a few suspect nodes and nodes that run half the services.
 */
export function largeCluster(nodeCount: number, serviceCount: number, seed = 42): PlanInput {
  const random = seededRandom(seed);
  const serviceIds = Array.from({ length: serviceCount }, (_, i) => `service-${i}`);
  const coordinates = new Map<string, Coordinate>();
  const planNodes: PlanNode[] = Array.from({ length: nodeCount }, (_, i) => {
    const id = `node-${String(i).padStart(4, "0")}`;
    const region = i % 4;
    const vec = [region * 30 + random() * 4, ...Array.from({ length: 7 }, () => random() * 2)];
    coordinates.set(id, { vec, height: 0.05 + random() * 0.1, error: 0.2, adjustment: 0 });
    return node(id, {
      region: `region-${region}`,
      capacity: [1, 2, 4][i % 3]!,
      labels: i % 50 === 0 ? ["postgres"] : [],
      services: i % 10 === 9 ? serviceIds.filter((_, s) => s % 2 === 0) : serviceIds,
      status: i % 97 === 0 ? "suspect" : "alive",
    });
  });
  const rttMs = (a: string, b: string) => estimateRttMs(coordinates.get(a)!, coordinates.get(b)!);
  const measured = Object.fromEntries(planNodes.filter((_, i) => i % 7 === 0).map((n) => [n.id, 1 + coordinates.get(n.id)!.vec[0]! / 3]));
  const services: PlanService[] = serviceIds.map((id, s) =>
    service(id, {
      arrivalPerSec: Math.round(random() * 5000),
      serviceTimeMs: Math.round(random() * 40) / 10,
      hints: s % 17 === 0 ? { spread: true } : s % 11 === 0 ? { near: "postgres" } : { minReplicas: 2 + (s % 3) },
      dependencies: s % 5 === 0 ? [{ name: "postgres", callsPerSec: 500, latencyMsByNode: measured }] : [],
    }),
  );
  const traffic: TrafficFlow[] = serviceIds.flatMap((from, s) =>
    [1, 2, 3].map((d) => ({ from, to: serviceIds[(s + d * 7) % serviceCount]!, perSec: Math.round(random() * 2000) })),
  );
  return { nodes: planNodes, rttMs, services, traffic, nowMs: 0 };
}
