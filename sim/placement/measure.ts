// What the runtime would gossip each round, as a PlanInput: measured rates (with sampling noise), traffic, dependency latency where the service runs.

import type { PlacementHints, PlanInput, PlanNode, PlanService, TrafficFlow } from "../../src/placement/plan-input.js";
import { REGIONS, type SimCluster } from "./cluster.js";
import type { Workload } from "./workload.js";

/** Rates and durations are averaged over this window before they are gossiped. */
export const MEASURE_WINDOW_S = 10;

export interface MeasureOptions {
  /** False: every measurement exact (used to tell noise-driven moves from model-driven ones). */
  readonly noise: boolean;
  /** Hints per service beyond `spread` on the gateways (a scenario variant may declare some). */
  readonly hints?: (serviceId: string) => PlacementHints | undefined;
  /** Nodes that no longer run service `s` but still report the latency they measured (the runtime remembers it for 10 min). */
  readonly remembers?: (s: number, node: number) => boolean;
}

/** The planner's view of the simulated cluster at `nowMs`. */
export function measurePlanInput(
  cluster: SimCluster,
  workload: Workload,
  active: readonly ReadonlySet<number>[],
  lastMoveMs: Readonly<Record<string, number>>,
  nowMs: number,
  random: () => number,
  options: MeasureOptions,
): PlanInput {
  const noisy = (value: number, samples: number, cv: number) => (options.noise ? withSamplingNoise(value, samples, cv, random) : value);
  const ids = workload.services.map((s) => s.id);
  const nodes: PlanNode[] = [];
  for (const n of cluster.nodes) {
    const status = cluster.membership(n.index, nowMs);
    if (status !== undefined) nodes.push({ id: n.id, region: REGIONS[n.region]!, capacity: n.capacity, labels: [], services: ids, status });
  }
  const indexOf = new Map(cluster.nodes.map((n) => [n.id, n.index]));
  const rttMs = (a: string, b: string) => cluster.rttMs(indexOf.get(a)!, indexOf.get(b)!);

  const services: PlanService[] = [];
  const traffic: TrafficFlow[] = [];
  const current: Record<string, string[]> = {};
  workload.services.forEach((s, i) => {
    const pipeline = workload.pipelines[s.pipeline]!;
    const arrival = pipeline.baseRatePerSec * cluster.loadFactor * workload.perRequest[i]!;
    const inWindow = arrival * MEASURE_WINDOW_S;
    const running = [...active[i]!];
    const measuredOn = running.filter((n) => cluster.isUp(n));
    const remembered = options.remembers === undefined ? [] : cluster.nodes.filter((n) => n.state === "up" && !active[i]!.has(n.index) && options.remembers!(i, n.index)).map((n) => n.index);
    const dependencies =
      s.dbCalls === 0
        ? []
        : [{
            name: pipeline.database,
            callsPerSec: noisy(arrival * s.dbCalls, inWindow * s.dbCalls, 1),
            latencyMsByNode: Object.fromEntries(
              [...measuredOn, ...remembered].map((n) => [
                cluster.nodes[n]!.id,
                noisy(cluster.dbLatencyMs(s.pipeline, cluster.nodes[n]!.region), (inWindow * s.dbCalls) / Math.max(1, measuredOn.length), 0.5),
              ]),
            ),
          }];
    const declared = options.hints?.(s.id);
    const hints: PlacementHints | undefined = s.spread ? { spread: true, ...declared } : declared;
    services.push({
      id: s.id,
      arrivalPerSec: noisy(arrival, inWindow, 1),
      serviceTimeMs: noisy(s.serviceTimeMs, inWindow, 1),
      ...(hints === undefined ? {} : { hints }),
      dependencies,
    });
    for (const call of s.calls) {
      traffic.push({ from: s.id, to: ids[call.to]!, perSec: noisy(arrival * call.count, inWindow * call.count, 1) });
    }
    current[s.id] = running.map((n) => cluster.nodes[n]!.id);
  });
  return {
    nodes,
    rttMs,
    services,
    traffic,
    current,
    lastMoveMs: { ...lastMoveMs },
    nowMs,
    // The runtime's default when maxMovesPerRound is not given: one change per node and round, at least 2.
    options: { maxMovesPerRound: Math.max(2, nodes.length) },
  };
}

/**
 * `value` as a mean of `samples` observations with coefficient of variation `cv` would measure
 * it: Gaussian relative error with standard deviation cv / √samples, never negative.
 */
export function withSamplingNoise(value: number, samples: number, cv: number, random: () => number): number {
  if (!(samples > 0) || value === 0) return value;
  return Math.max(0, value * (1 + (cv / Math.sqrt(samples)) * gaussian(random)));
}

/** A standard normal sample (Box–Muller). */
export function gaussian(random: () => number): number {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
