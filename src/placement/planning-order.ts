// The order services are planned in: anchored services first, then outward along the traffic between services.

import type { PlanService, TrafficFlow } from "./plan-input.js";

export interface Orderable {
  readonly input: PlanService;
  /** Busy seconds per second. */
  readonly work: number;
}

/**
 * A service placed earlier sees the load and the partners placed before it, so the order decides
 * who follows whom. Anchored services go first: those with a `near` or `region` hint or a measured
 * dependency, whose best nodes do not depend on partners; most work first. Then, repeatedly, the
 * service exchanging the most messages with those already ordered: a chain of partners is placed
 * outward from its anchored end (a ledger next to its database, then the services that call it),
 * rather than from whichever link is busiest. Services with no traffic to the ordered ones follow
 * by work. Ties go by id, so every node orders alike.
 */
export function planningOrder<T extends Orderable>(services: readonly T[], traffic: readonly TrafficFlow[] | undefined): T[] {
  const byWork = [...services].sort((a, b) => b.work - a.work || compareText(a.input.id, b.input.id));
  const links = new Map<string, Map<string, number>>();
  // Summed in a fixed order: a float sum depends on its order, and every node must agree.
  const flows = [...(traffic ?? [])].sort((a, b) => compareText(a.from, b.from) || compareText(a.to, b.to) || a.perSec - b.perSec);
  for (const { from, to, perSec } of flows) {
    if (from === to || !(perSec > 0) || !Number.isFinite(perSec)) continue;
    for (const [a, b] of [[from, to], [to, from]] as const) {
      let row = links.get(a);
      if (row === undefined) links.set(a, (row = new Map()));
      row.set(b, (row.get(b) ?? 0) + perSec);
    }
  }
  const ordered: T[] = byWork.filter(isAnchored);
  const done = new Set(ordered.map((s) => s.input.id));
  /** Messages per second between each remaining service and the ordered ones. */
  const pull = new Map<string, number>();
  const add = (service: T) => {
    for (const [partner, perSec] of links.get(service.input.id) ?? []) if (!done.has(partner)) pull.set(partner, (pull.get(partner) ?? 0) + perSec);
  };
  for (const service of ordered) add(service);
  let rest = byWork.filter((s) => !done.has(s.input.id));
  while (rest.length > 0) {
    let next = rest[0]!; // most work: taken when nothing left has traffic to the ordered ones
    let best = pull.get(next.input.id) ?? 0;
    for (const candidate of rest) {
      const perSec = pull.get(candidate.input.id) ?? 0;
      if (perSec > best) {
        best = perSec;
        next = candidate;
      }
    }
    ordered.push(next);
    done.add(next.input.id);
    pull.delete(next.input.id);
    add(next);
    rest = rest.filter((s) => s !== next);
  }
  return ordered;
}

function isAnchored({ input }: Orderable): boolean {
  if (input.hints?.near !== undefined || input.hints?.region !== undefined) return true;
  return (input.dependencies ?? []).some(
    (use) => use.callsPerSec > 0 && Object.values(use.latencyMsByNode ?? {}).some((ms) => Number.isFinite(ms) && ms >= 0),
  );
}

/** Code-unit order, the same in every locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
