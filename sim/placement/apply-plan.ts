// Carries out one round's plan the way the runtime will: each node adds its own replicas at once, and removes one only after make-before-break.

import type { Plan } from "../../src/placement/plan-output.js";

export interface AppliedRound {
  /** Replicas started. */
  added: number;
  /** Replicas stopped by plan (scale-down, rebalance, not-eligible). */
  removed: number;
  /** Replicas of nodes that are gone, dropped from the record. */
  dropped: number;
  /** Planned removals not carried out: too few other nodes ran the service yet (make-before-break). */
  withheld: number;
  /** Planned adds on a node that is down (it cannot start anything). */
  skipped: number;
}

export interface ApplyContext {
  /** Per service index: node indices where it is active (the record, including nodes not yet known to be dead). */
  readonly active: Set<number>[];
  readonly serviceIndex: ReadonlyMap<string, number>;
  readonly nodeIndex: ReadonlyMap<string, number>;
  /** The node runs and serves (a crashed node applies nothing). */
  readonly isUp: (node: number) => boolean;
  /** Service id → when a change to it was last carried out; updated here. */
  readonly lastMoveMs: Record<string, number>;
  /** Node ids by index (the runtime breaks ties between leaving nodes by id). */
  readonly nodeIds?: readonly string[];
  /** The runtime's removal protocol instead of the plain rule (see TwoPhaseRemovals). */
  readonly twoPhase?: TwoPhaseRemovals;
}

/**
 * Removals as src/placement/placement-loop.ts carries them out: a node stops its replica only when
 * every node the plan keeps the service on already runs it and is not leaving it (a keeper leaving
 * too counts when its id is higher: of two keeping each other, the lower id goes); it first
 * announces that it is leaving, and stops at its next round if that still holds.
 */
export class TwoPhaseRemovals {
  /** "service node" pairs announced as leaving, as the others see them at the start of a round. */
  #leaving = new Set<string>();

  /** Whether `node` may stop its replica of service `s` now; updates the announcements. */
  decide(s: number, node: number, ready: boolean, announcedBefore: ReadonlySet<string>, next: Set<string>): boolean {
    const key = `${s} ${node}`;
    if (!ready) {
      next.delete(key);
      return false;
    }
    if (!announcedBefore.has(key)) {
      next.add(key);
      return false;
    }
    next.delete(key);
    return true;
  }

  /** The announcements at the start of a round (a copy), and the set the round's decisions go into. */
  begin(): { before: ReadonlySet<string>; next: Set<string> } {
    return { before: new Set(this.#leaving), next: new Set(this.#leaving) };
  }

  /** Ends a round: announcements of removals the plan no longer asks for are withdrawn. */
  end(next: Set<string>, asked: ReadonlySet<string>): void {
    for (const key of next) if (!asked.has(key)) next.delete(key);
    this.#leaving = next;
  }

  /** Whether `node` has announced it is leaving service `s`. */
  isLeaving(announced: ReadonlySet<string>, s: number, node: number): boolean {
    return announced.has(`${s} ${node}`);
  }
}

/**
 * Applies `plan.moves` in order. A remove on node X is carried out only when the service already
 * ran, at the start of this round, on at least `plan.placement[service].length` up nodes other
 * than X: the replicas added this round become routable for the others only once gossiped, so a
 * relocation's old replica stays until a later round's plan removes it again.
 */
export function applyPlan(plan: Plan, ctx: ApplyContext, nowMs: number): AppliedRound {
  const result: AppliedRound = { added: 0, removed: 0, dropped: 0, withheld: 0, skipped: 0 };
  const phase = ctx.twoPhase?.begin();
  const asked = new Set<string>();
  const before = new Map<number, number[]>(); // service → up nodes running it at the start of the round
  const runningBefore = (s: number) => {
    let nodes = before.get(s);
    if (nodes === undefined) before.set(s, (nodes = [...ctx.active[s]!].filter(ctx.isUp)));
    return nodes;
  };
  for (const move of plan.moves) {
    const s = ctx.serviceIndex.get(move.service);
    const node = ctx.nodeIndex.get(move.node);
    if (s === undefined || node === undefined) continue;
    const active = ctx.active[s]!;
    if (move.action === "add") {
      if (!ctx.isUp(node)) {
        result.skipped++;
        continue;
      }
      runningBefore(s);
      if (!active.has(node)) {
        active.add(node);
        result.added++;
        ctx.lastMoveMs[move.service] = nowMs;
      }
    } else if (move.reason === "node-gone") {
      if (active.delete(node)) {
        result.dropped++;
        ctx.lastMoveMs[move.service] = nowMs;
      }
    } else {
      let go: boolean;
      if (ctx.twoPhase !== undefined && phase !== undefined) {
        asked.add(`${s} ${node}`);
        const running = new Set(runningBefore(s));
        const keep = (plan.placement[move.service] ?? []).map((id) => ctx.nodeIndex.get(id)!).filter((n) => n !== node);
        const ids = ctx.nodeIds ?? [];
        const ready =
          keep.length > 0 && keep.every((n) => running.has(n) && (!ctx.twoPhase!.isLeaving(phase.before, s, n) || (ids[n] ?? "") > (ids[node] ?? "")));
        go = ctx.twoPhase.decide(s, node, ready, phase.before, phase.next);
      } else {
        go = runningBefore(s).filter((n) => n !== node).length >= (plan.placement[move.service]?.length ?? 0);
      }
      if (!go) {
        result.withheld++;
      } else if (active.delete(node)) {
        result.removed++;
        ctx.lastMoveMs[move.service] = nowMs;
      }
    }
  }
  if (ctx.twoPhase !== undefined && phase !== undefined) ctx.twoPhase.end(phase.next, asked);
  return result;
}
