// The planner's input checked, sanitized and indexed: nodes by id order, services in planning order, traffic as partner lists.

import { KaffixError } from "../errors.js";
import { compareText, planningOrder } from "./planning-order.js";
import type { PlacementHints, PlanInput, PlanService } from "./plan-input.js";

export interface ViewNode {
  readonly id: string;
  /** Index into the sorted region names. */
  readonly region: number;
  /** 0 when the input's capacity is not a finite number > 0 (such a node gets no replicas). */
  readonly capacity: number;
  readonly labels: ReadonlySet<string>;
  readonly alive: boolean;
}

export interface Partner {
  /** The partner's index in `PlanningView.services`. */
  readonly service: number;
  /** Messages per second between the two, both directions summed. */
  readonly perSec: number;
}

export interface ViewDependency {
  readonly name: string;
  readonly callsPerSec: number;
  /** Measured latency from each node (by node index), NaN where unknown. */
  readonly measuredMs: Float64Array;
  /** The measured nodes with the lowest latency (at most CLOSEST_MEASURED), best first: estimates go through them. */
  readonly closest: readonly number[];
}

export interface ViewService {
  readonly id: string;
  readonly hints: PlacementHints;
  /** Busy seconds per second: arrival/s × service time in s. */
  readonly work: number;
  /** Nodes (indices, ascending) that list the service and have a capacity, whatever their status. */
  readonly allowed: readonly number[];
  /** Services it exchanges messages with, by index ascending; itself excluded. */
  readonly partners: readonly Partner[];
  readonly dependencies: readonly ViewDependency[];
  /** Node ids where it is active now, deduplicated and sorted; may name nodes that are gone. */
  readonly currentIds: readonly string[];
  readonly lastMoveMs: number | undefined;
}

/** How many measured nodes a latency estimate for an unmeasured node goes through. */
export const CLOSEST_MEASURED = 8;

export class PlanningView {
  /** Sorted by id; a node's index is its position here. */
  readonly nodes: readonly ViewNode[];
  readonly nodeIndex: ReadonlyMap<string, number>;
  /** Region name → index (names sorted). */
  readonly regions: ReadonlyMap<string, number>;
  /** In planning order (planning-order.ts): anchored services first, then outward along traffic. */
  readonly services: readonly ViewService[];
  readonly #rttMs: (a: string, b: string) => number;

  constructor(input: PlanInput) {
    this.#rttMs = input.rttMs;
    const nodes = [...input.nodes].sort((a, b) => compareText(a.id, b.id));
    const regions = [...new Set(nodes.map((n) => String(n.region)))].sort(compareText);
    const regionIndex = new Map(regions.map((r, i) => [r, i]));
    const nodeIndex = new Map<string, number>();
    this.nodes = nodes.map((n, i) => {
      if (nodeIndex.has(n.id)) throw new KaffixError("INVALID_ARGUMENT", `placement: node "${n.id}" is listed twice`);
      nodeIndex.set(n.id, i);
      return {
        id: n.id,
        region: regionIndex.get(String(n.region))!,
        capacity: Number.isFinite(n.capacity) && n.capacity > 0 ? n.capacity : 0,
        labels: new Set(n.labels),
        alive: n.status === "alive",
      };
    });
    this.nodeIndex = nodeIndex;
    this.regions = regionIndex;

    const inputs = planningOrder(
      input.services.map((s) => ({ input: s, work: (rate(s.arrivalPerSec) * rate(s.serviceTimeMs)) / 1000 })),
      input.traffic,
    );
    const serviceIndex = new Map<string, number>();
    inputs.forEach(({ input: s }, i) => {
      if (serviceIndex.has(s.id)) throw new KaffixError("INVALID_ARGUMENT", `placement: service "${s.id}" is listed twice`);
      serviceIndex.set(s.id, i);
    });

    const allowed = inputs.map((): number[] => []);
    nodes.forEach((n, i) => {
      if (this.nodes[i]!.capacity === 0) return;
      for (const id of n.services) {
        const list = allowed[serviceIndex.get(id) ?? -1];
        if (list !== undefined && list[list.length - 1] !== i) list.push(i);
      }
    });
    const partners = this.#partnerLists(input, serviceIndex, inputs.length);
    this.services = inputs.map(({ input: s, work }, i) => ({
      id: s.id,
      hints: s.hints ?? {},
      work,
      allowed: allowed[i]!,
      partners: partners[i]!,
      dependencies: this.#dependencies(s),
      currentIds: ownValue(input.current, s.id) === undefined ? [] : [...new Set(ownValue(input.current, s.id))].sort(compareText),
      lastMoveMs: ownValue(input.lastMoveMs, s.id),
    }));
  }

  /** Estimated round trip between two nodes by index, ms; 0 for a node to itself. */
  rttMs(a: number, b: number): number {
    if (a === b) return 0;
    const ms = this.#rttMs(this.nodes[a]!.id, this.nodes[b]!.id);
    return Number.isFinite(ms) && ms > 0 ? ms : 0;
  }

  // Flows are summed in a sorted order: a float sum depends on its order, and every node must agree.
  #partnerLists(input: PlanInput, serviceIndex: ReadonlyMap<string, number>, count: number): Partner[][] {
    const flows: [number, number, number][] = [];
    for (const flow of input.traffic ?? []) {
      const from = serviceIndex.get(flow.from);
      const to = serviceIndex.get(flow.to);
      const perSec = rate(flow.perSec);
      if (from === undefined || to === undefined || from === to || perSec === 0) continue;
      flows.push(from < to ? [from, to, perSec] : [to, from, perSec]);
    }
    flows.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    const pairs = new Map<number, number>();
    for (const [a, b, perSec] of flows) pairs.set(a * count + b, (pairs.get(a * count + b) ?? 0) + perSec);
    const lists = Array.from({ length: count }, (): Partner[] => []);
    for (const [key, perSec] of pairs) {
      const a = Math.floor(key / count);
      const b = key % count;
      lists[a]!.push({ service: b, perSec });
      lists[b]!.push({ service: a, perSec });
    }
    for (const list of lists) list.sort((x, y) => x.service - y.service);
    return lists;
  }

  #dependencies(service: PlanService): ViewDependency[] {
    const uses = [...(service.dependencies ?? [])].sort((a, b) => compareText(a.name, b.name));
    return uses.map((use, i) => {
      if (i > 0 && uses[i - 1]!.name === use.name) {
        throw new KaffixError("INVALID_ARGUMENT", `placement: service "${service.id}" lists dependency "${use.name}" twice`);
      }
      const measuredMs = new Float64Array(this.nodes.length).fill(Number.NaN);
      const measured: number[] = [];
      for (const [nodeId, ms] of Object.entries(use.latencyMsByNode ?? {})) {
        const node = this.nodeIndex.get(nodeId);
        if (node === undefined || !Number.isFinite(ms) || ms < 0) continue;
        measuredMs[node] = ms;
        measured.push(node);
      }
      measured.sort((a, b) => measuredMs[a]! - measuredMs[b]! || a - b);
      return { name: use.name, callsPerSec: rate(use.callsPerSec), measuredMs, closest: measured.slice(0, CLOSEST_MEASURED) };
    });
  }
}


/** A measured rate or duration: finite, ≥ 0 and capped, or 0. */
function rate(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.min(value, MAX_RATE) : 0;
}

// Caps every rate and duration so that products and sums of them stay finite (and comparable).
const MAX_RATE = 1e12;

function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
