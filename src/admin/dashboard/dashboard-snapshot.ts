// What the dashboard shows at one instant: nodes, message flow, per-service numbers, placement and dead letters.

import type { AppState, ClusterView, DeadLetter, MemberView, Move, NodeStatus, PlacementEvent, PlacementView } from "../../index.js";
import { messageFlow, type FlowEdge } from "./message-flow.js";

/** The part of an App the dashboard reads; App satisfies it, tests pass fakes. */
export interface DashboardSource {
  readonly name: string;
  readonly version: string;
  readonly serviceIds: string[];
  cluster(): ClusterView;
  placement(): PlacementView | { enabled: false; node: string };
  deadLetters(): DeadLetter[];
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface DashboardNode {
  id: string;
  address: string;
  state: MemberView["state"];
  self: boolean;
  region: string;
  incarnation: number;
  rttMs: number | null;
  capacity: { cores: number; memoryBytes: number; weight: number } | null;
  lagMs: { mean: number; p99: number } | null;
  /** Handlers busy: counted live on this node; for peers estimated as Σ arrival × service time (Little's law). */
  busy: number;
  busyMeasured: boolean;
  queued: number;
  /** Active now. */
  running: string[];
  /** May run (compiled in, allowed by --services). */
  mayRun: string[];
  /** Draining after placement moved them away (this node only: peers do not gossip it). */
  retiring: string[];
}

export interface ServiceNow {
  id: string;
  /** Messages accepted per second over the cluster (gossiped). */
  perSec: number;
  replicas: number;
  /** Waiting messages over the cluster: live on this node, gossiped for the others. */
  queued: number;
  /** Gossiped mean handler time, weighted over replicas, ms. */
  serviceTimeMs: number;
  /** This node's own counters, absent when the service is not active here. */
  here: { processed: number; failed: number; inFlight: number; queued: number } | null;
  /** This node's handlers over the last seconds, from the /metrics histogram; null when none finished. */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface PlacementNow {
  enabled: boolean;
  intervalMs: number;
  round: { at: string; planningMs: number; nodes: number; services: number } | null;
  services: { id: string; planned: string[]; running: string[]; replicas: number; because: string; eligible: number; deferred: string | null }[];
  pending: Move[];
  history: PlacementEvent[];
}

export interface DeadLetterRow {
  at: string;
  service: string;
  attempts: number;
  code: string;
  error: string;
  /** The message as JSON, cut to a preview. */
  message: string;
}

export interface DashboardNow {
  at: number;
  app: { name: string; version: string };
  self: { id: string; state: AppState; address: string; region: string; startedAt: string | null; delivery: NodeStatus["delivery"] };
  nodes: DashboardNode[];
  /** Members left out beyond MAX_NODES (dead and left ones go first). */
  nodesOmitted: number;
  services: ServiceNow[];
  edges: FlowEdge[];
  placement: PlacementNow;
  deadLetters: { recent: DeadLetterRow[]; totalByService: Record<string, number> };
}

export const MAX_NODES = 256;
const MAX_DEAD_LETTERS = 20;
const MAX_PLACEMENT_HISTORY = 30;
const MAX_PENDING = 50;
const PREVIEW_CHARS = 160;
const ERROR_CHARS = 300;
const STATE_ORDER: Record<MemberView["state"], number> = { alive: 0, suspect: 1, dead: 2, left: 3 };

export interface BuildInput {
  atMs: number;
  source: DashboardSource;
  cluster: ClusterView;
  /** p50/p99 per service from this node's histogram, when any handler finished in the window. */
  latency(service: string): { p50Ms: number; p99Ms: number } | undefined;
  /** Dead letters per service since start, from /metrics. */
  deadLetterTotals: Record<string, number>;
}

export function buildNow({ atMs, source, cluster, latency, deadLetterTotals }: BuildInput): DashboardNow {
  const self = cluster.self;
  const live = new Map(self.services.active.map((s) => [s.id, s]));
  const members = [...cluster.members].sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.id.localeCompare(b.id));
  const nodes = members.slice(0, MAX_NODES).map((m) => nodeOf(m, m.id === self.id ? cluster : undefined));
  const flow = messageFlow(cluster.members, source.serviceIds);
  const services = flow.services.map((s): ServiceNow => {
    const here = live.get(s.id);
    const elsewhere = members.reduce((sum, m) => (m.id === self.id || !isLive(m) ? sum : sum + (m.running[s.id]?.queued ?? 0)), 0);
    const p = latency(s.id);
    return {
      id: s.id,
      perSec: s.perSec,
      replicas: s.replicas,
      queued: elsewhere + (here?.queued ?? 0),
      serviceTimeMs: s.serviceTimeMs,
      here: here === undefined ? null : { processed: here.processed, failed: here.failed, inFlight: here.inFlight, queued: here.queued },
      p50Ms: p === undefined ? null : round(p.p50Ms),
      p99Ms: p === undefined ? null : round(p.p99Ms),
    };
  });
  return {
    at: atMs,
    app: { name: source.name, version: source.version },
    self: { id: self.id, state: self.state, address: self.address, region: self.region, startedAt: self.startedAt ?? null, delivery: self.delivery },
    nodes,
    nodesOmitted: Math.max(0, members.length - MAX_NODES),
    services,
    edges: flow.edges,
    placement: placementOf(source.placement()),
    deadLetters: { recent: source.deadLetters().slice(-MAX_DEAD_LETTERS).reverse().map(rowOf), totalByService: deadLetterTotals },
  };
}

function isLive(m: MemberView): boolean {
  return m.state === "alive" || m.state === "suspect";
}

/** `self` is given for this node's own entry: its live counters replace the gossiped ones. */
function nodeOf(m: MemberView, self: ClusterView | undefined): DashboardNode {
  const loads = Object.values(m.running);
  const status = self?.self;
  return {
    id: m.id,
    address: m.address,
    state: m.state,
    self: status !== undefined,
    region: status?.region ?? m.region ?? "unknown",
    incarnation: m.incarnation,
    rttMs: m.rttMs ?? null,
    capacity: m.capacity ?? null,
    lagMs: m.eventLoopLagMs ?? null,
    busy: status ? sum(status.services.active.map((s) => s.inFlight)) : round(sum(loads.map((l) => (l.arrivalPerSec * l.serviceTimeMs) / 1000))),
    busyMeasured: status !== undefined,
    queued: status ? sum(status.services.active.map((s) => s.queued)) : sum(loads.map((l) => l.queued)),
    running: status ? status.services.active.map((s) => s.id) : Object.keys(m.running),
    mayRun: status ? status.services.available : m.services,
    retiring: status ? status.services.retiring : [],
  };
}

function placementOf(view: PlacementView | { enabled: false; node: string }): PlacementNow {
  if (!view.enabled) return { enabled: false, intervalMs: 0, round: null, services: [], pending: [], history: [] };
  const ids = new Set([...Object.keys(view.placement), ...Object.keys(view.running)]);
  return {
    enabled: true,
    intervalMs: view.intervalMs,
    round: view.round ?? null,
    services: [...ids].sort().map((id) => {
      const plan = view.services[id];
      return {
        id,
        planned: view.placement[id] ?? [],
        running: view.running[id] ?? [],
        replicas: plan?.replicas ?? 0,
        because: plan?.replicasBecause ?? "",
        eligible: plan?.eligible ?? 0,
        deferred: plan?.deferred ?? null,
      };
    }),
    pending: view.pending.slice(0, MAX_PENDING),
    history: view.history.slice(-MAX_PLACEMENT_HISTORY),
  };
}

function rowOf(letter: DeadLetter): DeadLetterRow {
  let message: string;
  try {
    message = JSON.stringify(letter.message) ?? "undefined";
  } catch {
    message = Object.prototype.toString.call(letter.message);
  }
  return {
    at: letter.at,
    service: letter.service,
    attempts: letter.attempts,
    code: letter.error.code,
    error: cut(letter.error.message, ERROR_CHARS),
    message: cut(message, PREVIEW_CHARS),
  };
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function round(value: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(3));
}
