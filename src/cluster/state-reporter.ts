// Builds the state a node gossips about itself: capacity, labels, coordinate, and each active service's measured load.

import { cpus, totalmem } from "node:os";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { Clock } from "../clock.js";
import {
  MAX_GOSSIPED_DEPENDENCIES,
  MAX_GOSSIPED_FLOWS,
  MAX_GOSSIPED_SERVICES,
  MAX_REMEMBERED_SERVICES,
  type DependencyLoad,
  type NodeState,
  type ServiceLoad,
} from "./node-state.js";
import type { Coordinate } from "./vivaldi.js";

/** An active service's counters, as the runtime keeps them. */
export interface ReportedService {
  id: string;
  queued: number;
  received: number;
  serviceTimeMs: number;
  /** serviceTimeMs less the time handlers awaited replies and dependencies. */
  ownTimeMs?: number;
}

export interface PlacementReport {
  /** Service id → when placement last started or stopped it here. */
  changed: Record<string, number>;
  leaving: string[];
}

/** What one service did since the previous sample: messages sent by target, dependency calls by name. */
export interface UsageSample {
  sent: Record<string, number>;
  dependencies: Record<string, { calls: number; ms: number }>;
}

export interface StateSources {
  region: string;
  runnable: readonly string[];
  weight: number;
  labels: readonly string[];
  clock: Clock;
  /** The services active here now. */
  load(): Iterable<ReportedService>;
  /** Counts since the previous call (each call starts them again). */
  usage?(): ReadonlyMap<string, UsageSample>;
  /** What placement on this node announces: its recent changes, and the services it is about to stop. */
  placement?(): PlacementReport;
  coordinate(): Coordinate | undefined;
}

export class StateReporter {
  readonly #sources: StateSources;
  readonly #lag: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  /** Each service's `received` count at the last measure, for arrival rates. */
  #lastReceived = new Map<string, number>();
  #lastMeasureAt: number;
  /** The rates of the last measure, reused when only the set of active services changed. */
  #lastLoads = new Map<string, ServiceLoad>();
  #lastLag = { mean: 0, p99: 0 };
  /** Set once the node stops: it gossips no running service, so peers route elsewhere and replace its replicas. */
  stopping = false;
  /** Service id → its dependency latencies measured here, and when: gossiped once it stops running here. */
  readonly #remembered = new Map<string, { deps: Record<string, number>; at: number }>();

  constructor(sources: StateSources) {
    this.#sources = sources;
    this.#lastMeasureAt = sources.clock.now();
    this.#lag.enable();
  }

  stop(): void {
    this.#lag.disable();
  }

  /** This node's state with rates measured since the previous measure. */
  measure(): NodeState {
    const now = this.#sources.clock.now();
    const seconds = Math.max((now - this.#lastMeasureAt) / 1000, 0.001);
    this.#lastMeasureAt = now;
    const usage = this.#sources.usage?.();
    // Baselines of services not active now are kept: one taken back after a drain counts from where it was.
    const received = new Map(this.#lastReceived);
    const loads = new Map<string, ServiceLoad>();
    for (const service of this.#sources.load()) {
      received.set(service.id, service.received);
      const arrivals = service.received - (this.#lastReceived.get(service.id) ?? 0);
      const load: ServiceLoad = {
        queued: service.queued,
        arrivalPerSec: round2(arrivals / seconds),
        serviceTimeMs: round2(service.serviceTimeMs),
      };
      if (service.ownTimeMs !== undefined) load.ownMs = round2(service.ownTimeMs);
      const used = usage?.get(service.id);
      if (used !== undefined) addUsage(load, used, seconds);
      if (load.deps !== undefined) this.#remember(service.id, load.deps, now);
      loads.set(service.id, load);
    }
    this.#lastReceived = received;
    this.#lastLoads = loads;
    if (this.#lag.count > 0) {
      this.#lastLag = { mean: round2(this.#lag.mean / 1e6), p99: round2(this.#lag.percentile(99) / 1e6) };
    }
    this.#lag.reset();
    return this.current();
  }

  /** This node's state now, with the rates of the last measure: for when only the active services changed. */
  current(): NodeState {
    const { region, runnable, weight, labels } = this.#sources;
    const running: Record<string, ServiceLoad> = {};
    let n = 0;
    for (const service of this.stopping ? [] : this.#sources.load()) {
      if (n++ >= MAX_GOSSIPED_SERVICES) break;
      running[service.id] = this.#lastLoads.get(service.id) ?? { queued: service.queued, arrivalPerSec: 0, serviceTimeMs: round2(service.serviceTimeMs) };
    }
    const state: NodeState = {
      region,
      capacity: { cores: cpus().length, memoryBytes: totalmem(), weight },
      labels: [...labels],
      services: [...runnable],
      running,
      eventLoopLagMs: this.#lastLag,
    };
    const coord = this.#sources.coordinate();
    if (coord !== undefined) state.coord = roundCoordinate(coord);
    const measured = this.#measuredElsewhere(running);
    if (measured !== undefined) state.measured = measured;
    const placement = this.#sources.placement?.();
    if (placement !== undefined && Object.keys(placement.changed).length > 0) state.changed = placement.changed;
    if (placement !== undefined && placement.leaving.length > 0) state.leaving = placement.leaving;
    return state;
  }

  #remember(service: string, deps: Record<string, DependencyLoad>, now: number): void {
    const latest = Object.fromEntries(Object.entries(deps).map(([name, use]) => [name, use.ms]));
    this.#remembered.delete(service); // re-inserted last: the map stays ordered oldest first
    this.#remembered.set(service, { deps: latest, at: now });
    for (const [id] of this.#remembered) {
      if (this.#remembered.size <= MAX_REMEMBERED_SERVICES) break;
      this.#remembered.delete(id);
    }
  }

  /** Remembered latencies of services not running here now, measured within the last REMEMBER_MS. */
  #measuredElsewhere(running: Record<string, ServiceLoad>): Record<string, Record<string, number>> | undefined {
    const horizon = this.#sources.clock.now() - REMEMBER_MS;
    let out: Record<string, Record<string, number>> | undefined;
    for (const [service, memory] of this.#remembered) {
      if (memory.at < horizon) this.#remembered.delete(service);
      else if (running[service] === undefined) (out ??= {})[service] = memory.deps;
    }
    return out;
  }
}

/** How long a node keeps offering a latency it measured: long enough that a far node is not tried again and again. */
export const REMEMBER_MS = 60 * 60_000;

function addUsage(load: ServiceLoad, used: UsageSample, seconds: number): void {
  const flows = Object.entries(used.sent).sort((a, b) => b[1] - a[1]).slice(0, MAX_GOSSIPED_FLOWS);
  if (flows.length > 0) load.to = Object.fromEntries(flows.map(([to, count]) => [to, round2(count / seconds)]));
  const deps = Object.entries(used.dependencies)
    .filter(([, tally]) => tally.calls > 0)
    .sort((a, b) => b[1].calls - a[1].calls)
    .slice(0, MAX_GOSSIPED_DEPENDENCIES);
  if (deps.length > 0) {
    load.deps = Object.fromEntries(
      deps.map(([name, tally]): [string, DependencyLoad] => [name, { perSec: round2(tally.calls / seconds), ms: round2(tally.ms / tally.calls) }]),
    );
  }
}

/**
 * Two significant digits (and nothing below 0.001): the planner on every node reads these numbers,
 * and coarse ones make nodes with slightly different samples reach the same plan.
 */
export function round2(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  if (value < 0.001) return 0.001;
  return Number(value.toPrecision(2));
}

function roundCoordinate(c: Coordinate): Coordinate {
  const r = (v: number) => Math.round(v * 100) / 100;
  return { vec: c.vec.map(r), height: r(c.height), error: r(c.error), adjustment: r(c.adjustment) };
}
