// Turns what nodes gossip about themselves (load, traffic, dependency latency, labels) into the planner's input.

import type { NodeState } from "../cluster/node-state.js";
import { estimateRttMs } from "../cluster/vivaldi.js";
import type { DependencyUse, PlacementHints, PlanInput, PlanNode, PlanService, TrafficFlow } from "./plan-input.js";
import type { PlannerOptions } from "./planner-options.js";

/** A live member as placement reads it. */
export interface GossipedNode {
  readonly id: string;
  readonly status: "alive" | "suspect";
  readonly state: NodeState;
}

/** A service of the app, with the hints its `addService` options declare. */
export interface ServiceDeclaration {
  readonly id: string;
  readonly hints: PlacementHints;
}

/** Round trip assumed between two nodes when either has no coordinate yet: a LAN hop. */
export const UNKNOWN_RTT_MS = 1;

/**
 * The planner's input from gossip. Every node builds it the same way from the states it holds, so
 * nodes with the same view compute the same plan; the numbers are coarse (two significant digits)
 * so that views differing only in a recent sample still agree.
 *
 * A node's capacity is its `--weight`: Kaffix runs handlers on one event loop per node, so a node's
 * work is bounded by one core whatever the machine has (run more nodes, or raise the weight, on bigger machines).
 */
export function planInputFromGossip(
  nodes: readonly GossipedNode[],
  services: readonly ServiceDeclaration[],
  nowMs: number,
  options: Partial<PlannerOptions>,
): PlanInput {
  const sorted = [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const planNodes: PlanNode[] = sorted.map(({ id, status, state }) => ({
    id,
    region: state.region,
    capacity: state.capacity.weight,
    labels: state.labels,
    services: state.services,
    status,
  }));
  const current: Record<string, string[]> = {};
  const lastMoveMs: Record<string, number> = {};
  const traffic = new Map<string, number>();
  const planServices: PlanService[] = [];
  for (const { id, hints } of services) {
    let arrival = 0;
    let weightedOwnMs = 0;
    let plainMs = 0;
    let replicas = 0;
    const dependencies = new Map<string, { callsPerSec: number; latencyMsByNode: Record<string, number> }>();
    const running: string[] = [];
    for (const { id: node, state } of sorted) {
      const changed = state.changed?.[id];
      if (changed !== undefined && changed > (lastMoveMs[id] ?? -Infinity)) lastMoveMs[id] = changed;
      const load = state.running[id];
      if (load === undefined) {
        // Measured here before the service moved away: a known number beats an optimistic estimate.
        for (const [name, ms] of Object.entries(state.measured?.[id] ?? {})) {
          let entry = dependencies.get(name);
          if (entry === undefined) dependencies.set(name, (entry = { callsPerSec: 0, latencyMsByNode: {} }));
          entry.latencyMsByNode[node] = ms;
        }
        continue;
      }
      running.push(node);
      replicas++;
      plainMs += load.ownMs ?? load.serviceTimeMs;
      let dependencyMsPerSec = 0;
      for (const [name, use] of Object.entries(load.deps ?? {})) {
        dependencyMsPerSec += use.perSec * use.ms;
        let entry = dependencies.get(name);
        if (entry === undefined) dependencies.set(name, (entry = { callsPerSec: 0, latencyMsByNode: {} }));
        entry.callsPerSec += use.perSec;
        entry.latencyMsByNode[node] = use.ms;
      }
      arrival += load.arrivalPerSec;
      // Waiting costs the node nothing: its own work is what is left of the handler's time once replies
      // and dependencies it awaited are taken out (measured by the node; estimated from dependencies otherwise).
      const ownMs =
        load.ownMs ?? (load.arrivalPerSec > 0 ? Math.max(0, load.serviceTimeMs - dependencyMsPerSec / load.arrivalPerSec) : load.serviceTimeMs);
      weightedOwnMs += ownMs * load.arrivalPerSec;
      for (const [to, perSec] of Object.entries(load.to ?? {})) {
        const key = `${id}\0${to}`;
        traffic.set(key, (traffic.get(key) ?? 0) + perSec);
      }
    }
    current[id] = running;
    const dependencyUses: DependencyUse[] = [...dependencies].map(([name, use]) => ({ name, ...use }));
    planServices.push({
      id,
      hints,
      arrivalPerSec: arrival,
      serviceTimeMs: arrival > 0 ? weightedOwnMs / arrival : replicas > 0 ? plainMs / replicas : 0,
      ...(dependencyUses.length > 0 ? { dependencies: dependencyUses } : {}),
    });
  }
  const flows: TrafficFlow[] = [];
  for (const [key, perSec] of traffic) {
    const [from, to] = key.split("\0") as [string, string];
    flows.push({ from, to, perSec });
  }
  const coordinates = new Map(sorted.map(({ id, state }) => [id, state.coord]));
  const rttMs = (a: string, b: string): number => {
    if (a === b) return 0;
    const ca = coordinates.get(a);
    const cb = coordinates.get(b);
    if (ca === undefined || cb === undefined) return UNKNOWN_RTT_MS;
    return Math.round(estimateRttMs(ca, cb) * 10) / 10;
  };
  return { nodes: planNodes, rttMs, services: planServices, traffic: flows, current, lastMoveMs, nowMs, options };
}

/** The hints placement reads from a service's `addService` options. */
export function hintsOf(options: Readonly<PlacementHints>): PlacementHints {
  const hints: { -readonly [K in keyof PlacementHints]: PlacementHints[K] } = {};
  if (options.minReplicas !== undefined) hints.minReplicas = options.minReplicas;
  if (options.maxReplicas !== undefined) hints.maxReplicas = options.maxReplicas;
  if (options.spread !== undefined) hints.spread = options.spread;
  if (options.near !== undefined) hints.near = options.near;
  if (options.region !== undefined) hints.region = options.region;
  return hints;
}
