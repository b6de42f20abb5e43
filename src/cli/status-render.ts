// Turns one status snapshot into the text `kaffix status` prints: members, services per node, rates, placement moves.

import type { MemberView, PlacementView } from "../index.js";
import type { StatusSnapshot } from "./status-fetch.js";
import { formatAgo, formatBytes, formatClock, formatMs, formatRate, paint, table, type Cell, type Style } from "./status-table.js";

export interface RenderOptions {
  /** ANSI colours for states and marks. Default false. */
  color?: boolean;
  /** Terminal width: a services matrix wider than this is printed as one line per node instead. Default 120. */
  width?: number;
  /** Recent placement moves to list. Default 10. */
  moves?: number;
}

type Load = MemberView["running"][string];

const STATE_STYLE: Record<string, Style> = { alive: "green", suspect: "yellow", dead: "red", left: "dim" };
const MARK = { running: "●", mayRun: "○", draining: "◌", notAllowed: "·" } as const;
const LEGEND = `${MARK.running} running (msg/s)  ${MARK.mayRun} may run  + placement is adding it  - placement is removing it  ${MARK.draining} draining  ${MARK.notAllowed} not allowed`;

/** A pure function of the snapshot (times are shown relative to `fetchedAt`), so it renders the same in a test. */
export function renderStatus(snapshot: StatusSnapshot, options: RenderOptions = {}): string {
  const color = options.color ?? false;
  const { cluster } = snapshot;
  const now = Date.parse(snapshot.fetchedAt);
  const members = membersOf(snapshot);
  const live = members.filter((m) => m.state === "alive" || m.state === "suspect");
  const placement = snapshot.placement?.enabled === true ? snapshot.placement : undefined;
  const services = serviceOrder(snapshot, members);

  const counts = ["alive", "suspect", "dead", "left"]
    .map((state) => [state, members.filter((m) => m.state === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => paint(`${n} ${state}`, STATE_STYLE[state], color));
  const lines = [
    `${paint(cluster.self.app ?? "Kaffix app", "bold", color)} ${cluster.self.version ?? ""} · ${members.length} member${members.length === 1 ? "" : "s"}: ${counts.join(", ")}`,
    paint(`as node ${cluster.self.id} (${cluster.self.region ?? "default"}) at ${snapshot.url} sees it, ${formatClock(snapshot.fetchedAt)}`, "dim", color),
    "",
    paint("MEMBERS", "bold", color),
    ...membersTable(members, cluster.self.id, now, color),
    "",
    paint("SERVICES PER NODE", "bold", color) + "  " + paint(LEGEND, "dim", color),
    ...servicesMatrix(snapshot, services, live, placement, options.width ?? 120, color),
    "",
    paint("RATES", "bold", color) + "  " + paint("summed over the nodes that run each service, as they gossip it", "dim", color),
    ...ratesTable(services, live, color),
    "",
    ...placementSection(snapshot, placement, now, options.moves ?? 10, color),
  ];
  return lines.join("\n") + "\n";
}

/** Members in a stable order (region, then id); the answering node is added if its own view lacks it. */
function membersOf(snapshot: StatusSnapshot): MemberView[] {
  const { self, members } = snapshot.cluster;
  const all = [...members];
  if (!all.some((m) => m.id === self.id)) {
    const running: Record<string, Load> = {};
    for (const s of self.services?.active ?? []) running[s.id] = { queued: s.queued, arrivalPerSec: 0, serviceTimeMs: 0 };
    all.push({
      id: self.id, address: self.address, state: "alive", incarnation: 0, rttMs: 0, region: self.region,
      services: self.services?.available ?? [], capacity: undefined, running, leaving: [], labels: [],
      eventLoopLagMs: undefined, stateSince: self.startedAt ?? "",
    });
  }
  return all.sort((a, b) => (a.region ?? "").localeCompare(b.region ?? "") || a.id.localeCompare(b.id));
}

/** The answering node's services in the app's order, then any others a member reports, sorted. */
function serviceOrder(snapshot: StatusSnapshot, members: readonly MemberView[]): string[] {
  const order = [...(snapshot.cluster.self.services?.available ?? [])];
  const seen = new Set(order);
  const others = new Set<string>();
  for (const m of members) for (const id of [...(m.services ?? []), ...Object.keys(m.running ?? {})]) if (!seen.has(id)) others.add(id);
  return [...order, ...[...others].sort()];
}

function membersTable(members: readonly MemberView[], selfId: string, now: number, color: boolean): string[] {
  const rows = members.map((m) => {
    const running = Object.keys(m.running ?? {}).length;
    const capacity = m.capacity === undefined ? "?" : `${m.capacity.cores} cores, ${formatBytes(m.capacity.memoryBytes)}, weight ${m.capacity.weight}`;
    return [
      m.id === selfId ? `${m.id} *` : m.id,
      m.address,
      { text: m.state, style: STATE_STYLE[m.state] },
      m.stateSince ? formatAgo(m.stateSince, now) : "?",
      m.region ?? "?",
      (m.labels ?? []).join(",") || "-",
      m.id === selfId ? "-" : m.rttMs === undefined ? "?" : `${formatMs(m.rttMs)} ms`,
      capacity,
      m.eventLoopLagMs === undefined ? "?" : `${formatMs(m.eventLoopLagMs.p99)} ms`,
      `${running} of ${(m.services ?? []).length}`,
    ];
  });
  const lines = table(["NODE", "ADDRESS", "STATE", "SINCE", "REGION", "LABELS", "RTT", "CAPACITY", "LAG p99", "RUNS"], rows, { color, right: [6, 8] });
  return [...lines, paint("  * the node that answered; RTT estimated from network coordinates; RUNS: services active of those it may run", "dim", color)];
}

function servicesMatrix(
  snapshot: StatusSnapshot,
  services: readonly string[],
  live: readonly MemberView[],
  placement: PlacementView | undefined,
  width: number,
  color: boolean,
): string[] {
  if (live.length === 0) return ["  no live member"];
  const draining = new Set(snapshot.cluster.self.services?.retiring ?? []);
  const cell = (service: string, m: MemberView): Cell => {
    const load = m.running?.[service];
    const planned = placement?.placement[service];
    if (load !== undefined) {
      // Announced by the member itself (it stops the replica at its next round), or where the last plan has it no more.
      const leaving = (m.leaving ?? []).includes(service) || (planned !== undefined && !planned.includes(m.id));
      return { text: `${MARK.running} ${formatRate(load.arrivalPerSec)}${leaving ? " -" : ""}`, style: leaving ? "yellow" : "green" };
    }
    if (m.id === snapshot.cluster.self.id && draining.has(service)) return { text: MARK.draining, style: "yellow" };
    if (!(m.services ?? []).includes(service)) return { text: MARK.notAllowed, style: "dim" };
    if (planned?.includes(m.id) === true) return { text: `${MARK.mayRun} +`, style: "yellow" };
    return { text: MARK.mayRun };
  };
  const replicas = (service: string): string => {
    const running = live.filter((m) => m.running?.[service] !== undefined).length;
    const plan = placement?.services[service];
    return plan === undefined ? String(running) : `${running} (wants ${plan.replicas}: ${plan.replicasBecause})`;
  };
  const header = ["SERVICE", ...live.map((m) => m.id), "REPLICAS"];
  const regions: Cell[] = [{ text: "" }, ...live.map((m) => ({ text: m.region ?? "?", style: "dim" as const })), { text: "" }];
  const rows = services.map((service) => [service, ...live.map((m) => cell(service, m)), replicas(service)]);
  const matrix = table(header, [regions, ...rows], { color });
  // Escape codes do not take up columns: measure the plain version.
  if (Math.max(...table(header, [regions, ...rows], { color: false }).map((l) => l.length)) <= width) return matrix;
  return live.map((m) => {
    const marks = services.map((service) => {
      const c = cell(service, m);
      return paint(`${service} ${c.text}`, c.style, color);
    });
    return `  ${m.id} (${m.region ?? "?"}): ${marks.join(", ")}`;
  });
}

function ratesTable(services: readonly string[], live: readonly MemberView[], color: boolean): string[] {
  const rows: string[][] = [];
  for (const service of services) {
    const loads = live.map((m) => m.running?.[service]).filter((l): l is Load => l !== undefined);
    if (loads.length === 0) continue;
    const arrival = loads.reduce((sum, l) => sum + l.arrivalPerSec, 0);
    const timed = loads.filter((l) => l.serviceTimeMs > 0);
    // Weighted by arrivals: a replica that handles most messages says most about the handler's time.
    const handlerMs =
      arrival > 0
        ? loads.reduce((sum, l) => sum + l.serviceTimeMs * l.arrivalPerSec, 0) / arrival
        : timed.reduce((sum, l) => sum + l.serviceTimeMs, 0) / Math.max(1, timed.length);
    rows.push([
      service,
      formatRate(arrival),
      formatMs(handlerMs),
      String(loads.reduce((sum, l) => sum + l.queued, 0)),
      flows(loads),
      dependencies(loads),
    ]);
  }
  if (rows.length === 0) return ["  no service is running"];
  return table(["SERVICE", "MSG/S", "HANDLER MS", "QUEUED", "SENDS TO (msg/s)", "DEPENDENCIES (latency per node)"], rows, { color, right: [1, 2, 3] });
}

/** The three largest flows to other services, summed over replicas: "inventory 120, ledger 30". */
function flows(loads: readonly Load[]): string {
  const sum = new Map<string, number>();
  for (const l of loads) for (const [to, rate] of Object.entries(l.to ?? {})) sum.set(to, (sum.get(to) ?? 0) + rate);
  const top = [...sum].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return top.length === 0 ? "-" : top.map(([to, rate]) => `${to} ${formatRate(rate)}`).join(", ");
}

/** Each dependency's latency range over the replicas calling it: "db 1.1-21 ms". */
function dependencies(loads: readonly Load[]): string {
  const range = new Map<string, [number, number]>();
  for (const l of loads) {
    for (const [name, dep] of Object.entries(l.deps ?? {})) {
      const [min, max] = range.get(name) ?? [Infinity, 0];
      range.set(name, [Math.min(min, dep.ms), Math.max(max, dep.ms)]);
    }
  }
  if (range.size === 0) return "-";
  return [...range].map(([name, [min, max]]) => `${name} ${formatMs(min)}${max > min ? `-${formatMs(max)}` : ""} ms`).join(", ");
}

function placementSection(snapshot: StatusSnapshot, placement: PlacementView | undefined, now: number, moves: number, color: boolean): string[] {
  const title = paint("PLACEMENT", "bold", color);
  if (snapshot.placement === null) return [title, "  this node has no /placement route (an older Kaffix)"];
  if (placement === undefined) return [title, `  off on node ${snapshot.cluster.self.id} (--placement off): it runs every service it may`];
  const round =
    placement.round === undefined
      ? "no round yet"
      : `last round ${formatAgo(placement.round.at, now)} (${placement.round.nodes} nodes, ${placement.round.services} services)`;
  const lines = [`${title}  ${paint(`as node ${placement.node} plans it: a round every ${placement.intervalMs / 1000} s, ${round}`, "dim", color)}`];
  const pending = placement.pending.map((move) => `${move.action === "add" ? "+" : "-"} ${move.service} on ${move.node} (${move.reason})`);
  lines.push(`  pending: ${pending.length === 0 ? (placement.round === undefined ? "-" : "none, the plan is in place") : pending.join(", ")}`);
  const deferred = Object.entries(placement.services)
    .filter(([, plan]) => plan.deferred !== undefined)
    .map(([service, plan]) => `${service} (${plan.deferred === "min-move-interval" ? "moved recently" : "move budget spent"})`);
  if (deferred.length > 0) lines.push(`  waiting: ${deferred.join(", ")}`);
  if (moves === 0) return lines;
  const recent = placement.history.slice(-moves).reverse();
  lines.push("", `${paint("RECENT MOVES", "bold", color)}  ${paint("newest first; reasons are in docs/placement.md", "dim", color)}`);
  if (recent.length === 0) return [...lines, "  none yet"];
  const rows = recent.map((event) => [
    formatAgo(event.at, now),
    { text: event.action === "add" ? "+ add" : "- remove", style: (event.action === "add" ? "green" : "yellow") as Style },
    event.service,
    event.node === placement.node ? `${event.node} *` : event.node,
    event.reason,
    event.outcome,
  ]);
  return [...lines, ...table(["WHEN", "ACTION", "SERVICE", "NODE", "REASON", "OUTCOME"], rows, { color })];
}
