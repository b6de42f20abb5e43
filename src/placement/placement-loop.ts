// Runs placement on one node: every round it plans from the gossiped view and applies its own part, make-before-break.

import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../clock.js";
import { hash32 } from "../hash.js";
import { planInputFromGossip, type GossipedNode, type ServiceDeclaration } from "./gossip-input.js";
import type { Move, MoveReason, Plan, ServicePlan } from "./plan-output.js";
import type { ResolvedPlacementOptions } from "./placement-options.js";
import { planPlacement } from "./planner.js";

/** What the loop needs from its node. */
export interface PlacementHost {
  readonly selfId: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly services: readonly ServiceDeclaration[];
  /** Live members (alive or suspect) with a known state, this node included. */
  nodes(): GossipedNode[];
  activate(service: string): Promise<void>;
  /** Resolves false when the service was activated again before it stopped. */
  deactivate(service: string): Promise<boolean>;
  /** Gossips this node's state at once (its active services changed). */
  announce(): void;
  /** True when this node can send `service`'s messages to `node`: linked, under the same contract. Default: always. */
  routable?(service: string, node: string): boolean;
}

/** One change to where a service runs, as /placement lists it. */
export interface PlacementEvent {
  at: string;
  service: string;
  node: string;
  action: "add" | "remove";
  reason: MoveReason | "observed";
  /** started/stopped: applied by this node; waiting: a removal held until the new replicas are routable; seen: another node's change. */
  outcome: "started" | "stopped" | "waiting" | "failed" | "seen";
}

export interface PlacementView {
  enabled: true;
  node: string;
  intervalMs: number;
  /** The last round: when, how long planning took, how many nodes and services it saw. */
  round: { at: string; planningMs: number; nodes: number; services: number } | undefined;
  /** Service id → nodes where it is active now, as gossip reports. */
  running: Record<string, string[]>;
  /** Service id → nodes where the last plan wants it. */
  placement: Record<string, string[]>;
  /** Changes the last plan asked for that are not visible yet. */
  pending: Move[];
  /** Per service: replica count and why, and each considered node's score. */
  services: Record<string, ServicePlan>;
  /** Recent changes, newest last. */
  history: PlacementEvent[];
}

/** Entries kept in the history. */
const HISTORY_LIMIT = 200;
/** Rounds a replica waits to measure its dependencies before placement may move it away unmeasured. */
const MEASURE_ROUNDS = 10;

export class PlacementLoop {
  readonly #host: PlacementHost;
  readonly #options: ResolvedPlacementOptions;
  readonly #startedAt: number;
  /** Service id → when this node last started or stopped it (gossiped: the planner's minimum interval between moves). */
  readonly #changed = new Map<string, number>();
  /** Services with a start under way here: not touched again until it ends. */
  readonly #adding = new Set<string>();
  /** Services draining here: an add may take them back (the drain ends), a removal waits. */
  readonly #removing = new Set<string>();
  /** Service id → the round this node first saw itself running it: the age bound of "still measuring". */
  readonly #since = new Map<string, number>();
  /** Removals already logged as waiting, so a long wait is logged once. */
  readonly #waiting = new Set<string>();
  /** Services this node announced it will stop at its next round (phase one of a removal). */
  readonly #leaving = new Set<string>();
  readonly #history: PlacementEvent[] = [];
  #timer: TimerHandle | undefined;
  #stopped = false;
  #plan: Plan | undefined;
  #running: Record<string, string[]> = {};
  #round: PlacementView["round"];
  readonly #changes = { started: 0, stopped: 0, failed: 0 };
  /** Clock time of the round scheduled last. */
  #lastSlot = -Infinity;
  /** Rounds planned so far. */
  #rounds = 0;

  constructor(host: PlacementHost, options: ResolvedPlacementOptions) {
    this.#host = host;
    this.#options = options;
    this.#startedAt = host.clock.now();
  }

  /** Plans every `intervalMs`, on round boundaries of the clock so that nodes plan at about the same time; the first round waits one interval. */
  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * What this node gossips for placement: when it last started or stopped each service (recent
   * changes only), and the services it announced it is about to stop.
   */
  report(): { changed: Record<string, number>; leaving: string[] } {
    const horizon = this.#host.clock.now() - 2 * this.#options.minMoveIntervalMs;
    const changed: Record<string, number> = {};
    for (const [service, at] of this.#changed) {
      if (at < horizon) this.#changed.delete(service);
      else changed[service] = at;
    }
    return { changed, leaving: [...this.#leaving] };
  }

  view(): PlacementView {
    return {
      enabled: true,
      node: this.#host.selfId,
      intervalMs: this.#options.intervalMs,
      round: this.#round,
      running: this.#running,
      placement: this.#plan?.placement ?? {},
      pending: this.#plan?.moves ?? [],
      services: this.#plan?.services ?? {},
      history: [...this.#history],
    };
  }

  /** One round: plan from the current view, then start and stop this node's replicas as the plan says. */
  round(): Plan {
    const host = this.#host;
    const now = host.clock.now();
    const nodes = host.nodes();
    const { intervalMs, movesFollowSize, ...planner } = this.#options;
    const options = movesFollowSize ? { ...planner, maxMovesPerRound: Math.max(2, nodes.length) } : planner;
    const input = planInputFromGossip(nodes, host.services, Math.floor(now / intervalMs) * intervalMs, options);
    const began = performance.now();
    const plan = planPlacement(input);
    const planningMs = performance.now() - began;
    this.#observe(input.current ?? {});
    this.#plan = plan;
    this.#running = Object.fromEntries(Object.entries(input.current ?? {}).map(([service, on]) => [service, [...on]]));
    this.#rounds++;
    this.#round = { at: new Date(now).toISOString(), planningMs: Math.round(planningMs * 100) / 100, nodes: nodes.length, services: host.services.length };
    const alive = new Set(nodes.filter((node) => node.status === "alive").map((node) => node.id));
    const leavingElsewhere = new Map<string, string[]>();
    for (const node of nodes) {
      if (node.id === host.selfId) continue;
      for (const service of node.state.leaving ?? []) leavingElsewhere.set(service, [...(leavingElsewhere.get(service) ?? []), node.id]);
    }
    for (const [service, on] of Object.entries(input.current ?? {})) {
      if (!on.includes(host.selfId)) this.#since.delete(service);
      else if (!this.#since.has(service)) this.#since.set(service, this.#rounds);
    }
    const removing = new Set<string>();
    let announce = false;
    for (const move of plan.moves) {
      if (move.node !== host.selfId || this.#adding.has(move.service)) continue;
      if (move.action === "add") {
        this.#add(move);
        continue;
      }
      if (this.#removing.has(move.service)) continue;
      removing.add(move.service);
      const others = leavingElsewhere.get(move.service) ?? [];
      const ready = this.#replacementsReady(move.service, plan, alive, input.current ?? {}, others);
      const measuring = ready && this.#stillMeasuring(move.service, nodes);
      if (!ready || measuring) {
        if (this.#leaving.delete(move.service)) announce = true;
        this.#wait(move, ready ? "it has not measured its dependencies here yet" : "its replacements are routable");
      } else if (!this.#leaving.has(move.service)) {
        // Phase one: say so; stop at the next round if the keepers are still ready then.
        this.#leaving.add(move.service);
        announce = true;
      } else {
        this.#leaving.delete(move.service);
        this.#remove(move);
      }
    }
    for (const service of this.#leaving) {
      if (removing.has(service)) continue;
      this.#leaving.delete(service); // the plan changed its mind
      announce = true;
    }
    for (const service of this.#waiting) if (!removing.has(service)) this.#waiting.delete(service);
    if (announce) host.announce();
    return plan;
  }

  /**
   * True while this node's replica of `service` has not measured anything yet (no message seen in a
   * gossiped sample): leaving now would lose the only chance to learn how fast this node reaches the
   * service's dependencies. Bounded: after MEASURE_ROUNDS rounds a replica that got no traffic may go.
   */
  #stillMeasuring(service: string, nodes: readonly GossipedNode[]): boolean {
    if (this.#rounds - (this.#since.get(service) ?? this.#rounds) >= MEASURE_ROUNDS) return false;
    const load = nodes.find((node) => node.id === this.#host.selfId)?.state.running[service];
    return load !== undefined && load.arrivalPerSec === 0 && load.deps === undefined;
  }

  #wait(move: Move, until: string): void {
    if (this.#waiting.has(move.service)) return;
    this.#waiting.add(move.service);
    this.#record(move, "waiting");
    const waitingFor = this.#plan?.placement[move.service];
    this.#host.log.info({ service: move.service, reason: move.reason, waitingFor }, `placement: keeping a replica here until ${until}`);
  }

  /**
   * Make-before-break across nodes: this node stops its replica only once every node the plan keeps
   * the service on is alive and already runs it (as gossip shows). A node whose view differs waits
   * for the others to catch up, so stale views cost an extra replica for a while, never the last one.
   */
  #replacementsReady(
    service: string,
    plan: Plan,
    alive: ReadonlySet<string>,
    current: Readonly<Record<string, readonly string[]>>,
    leaving: readonly string[],
  ): boolean {
    const keep = (plan.placement[service] ?? []).filter((node) => node !== this.#host.selfId);
    if (keep.length === 0) return false;
    const running = new Set(current[service] ?? []);
    // A keeper that is itself leaving the service (its view differs) counts only when its id is
    // higher: of two nodes each keeping the other, the lower id goes and the higher one sees it and stays.
    const routable = (node: string) => this.#host.routable?.(service, node) ?? true;
    return keep.every((node) => alive.has(node) && running.has(node) && (!leaving.includes(node) || node > this.#host.selfId) && routable(node));
  }

  #add(move: Move): void {
    const { service } = move;
    this.#adding.add(service);
    this.#changed.set(service, this.#host.clock.now());
    this.#host.log.info({ service, reason: move.reason, explanation: this.#explain(service) }, "placement: starting a replica here");
    attempt(() => this.#host.activate(service))
      .then(
        () => {
          this.#record(move, "started");
          this.#host.announce();
        },
        (error: unknown) => {
          this.#record(move, "failed");
          this.#host.log.error({ service, err: error }, "placement: the replica could not start here");
        },
      )
      .catch((error: unknown) => this.#host.log.error({ service, err: error }, "placement: recording a start failed"))
      .finally(() => this.#adding.delete(service));
  }

  #remove(move: Move): void {
    const { service } = move;
    this.#removing.add(service);
    this.#waiting.delete(service);
    this.#changed.set(service, this.#host.clock.now());
    this.#host.log.info({ service, reason: move.reason, keptOn: this.#plan?.placement[service] }, "placement: moving a replica away from here (draining it)");
    // deactivate takes the service out of routing at once; peers stop sending here as soon as the
    // announcement reaches them, and the drain finishes what is queued.
    const stopping = attempt(() => this.#host.deactivate(service));
    this.#host.announce();
    stopping
      .then(
        (stopped) => {
          if (stopped) this.#record(move, "stopped");
        },
        (error: unknown) => {
          this.#record(move, "failed");
          this.#host.log.error({ service, err: error }, "placement: stopping the replica failed");
        },
      )
      .catch((error: unknown) => this.#host.log.error({ service, err: error }, "placement: recording a stop failed"))
      .finally(() => this.#removing.delete(service));
  }

  /** Logs other nodes' changes (seen in gossip since the last round) in the history. */
  #observe(current: Readonly<Record<string, readonly string[]>>): void {
    const before = this.#running;
    if (this.#round === undefined) return;
    for (const [service, nodes] of Object.entries(current)) {
      const was = new Set(before[service] ?? []);
      const now = new Set(nodes);
      for (const node of now) if (!was.has(node) && node !== this.#host.selfId) this.#seen(service, node, "add");
      for (const node of was) if (!now.has(node) && node !== this.#host.selfId) this.#seen(service, node, "remove");
    }
  }

  /** Another node's change, with the reason the previous plan gave for it when it planned it too. */
  #seen(service: string, node: string, action: "add" | "remove"): void {
    const planned = this.#plan?.moves.find((m) => m.service === service && m.node === node && m.action === action);
    this.#push({ at: new Date(this.#host.clock.now()).toISOString(), service, node, action, reason: planned?.reason ?? "observed", outcome: "seen" });
  }

  /** Counts for /metrics: replicas per service in this node's view, this node's changes, the last round. */
  sample(): { replicas: Record<string, number>; changes: { started: number; stopped: number; failed: number }; planningMs: number; pending: number } {
    const replicas: Record<string, number> = {};
    for (const service of this.#host.services) replicas[service.id] = this.#running[service.id]?.length ?? 0;
    return { replicas, changes: { ...this.#changes }, planningMs: this.#round?.planningMs ?? 0, pending: this.#plan?.moves.length ?? 0 };
  }

  #record(move: Move, outcome: PlacementEvent["outcome"]): void {
    if (outcome === "started" || outcome === "stopped" || outcome === "failed") this.#changes[outcome]++;
    this.#push({ at: new Date(this.#host.clock.now()).toISOString(), service: move.service, node: move.node, action: move.action, reason: move.reason, outcome });
  }

  #push(event: PlacementEvent): void {
    this.#history.push(event);
    if (this.#history.length > HISTORY_LIMIT) this.#history.splice(0, this.#history.length - HISTORY_LIMIT);
  }

  /** The chosen node's score for the log line: why here. */
  #explain(service: string): unknown {
    const plan = this.#plan?.services[service];
    const here = plan?.nodes.find((score) => score.node === this.#host.selfId);
    if (plan === undefined || here === undefined) return undefined;
    return {
      replicas: plan.replicas,
      because: plan.replicasBecause,
      cost: Math.round(here.cost * 100) / 100,
      processing: Math.round(here.processingCost * 100) / 100,
      partners: Math.round(here.partnerCost * 100) / 100,
      dependency: Math.round(here.dependencyCost * 100) / 100,
      near: here.near,
    };
  }

  #schedule(): void {
    if (this.#stopped) return;
    const { intervalMs } = this.#options;
    const now = this.#host.clock.now();
    // The first round waits a full interval: peers' states arrive and this node's own is gossiped first.
    // Each node plans at its own offset into the interval, so one node's announcement has time to
    // spread before the next node plans.
    const offset = hash32(this.#host.selfId) % Math.max(1, Math.floor(intervalMs / 2));
    const earliest = Math.max(now, this.#startedAt + intervalMs) - offset;
    // Strictly after the slot last planned: a timer that fires a hair early must not plan that slot twice.
    const next = Math.max(Math.ceil((earliest + 1) / intervalMs) * intervalMs + offset, this.#lastSlot + intervalMs);
    this.#lastSlot = next;
    this.#timer = this.#host.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      try {
        this.round();
      } catch (error) {
        this.#host.log.error({ err: error }, "placement round failed");
      }
      this.#schedule();
    }, next - now);
  }
}

/** `start()`'s promise, or its synchronous throw as a rejection. */
function attempt<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}
