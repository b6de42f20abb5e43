// Membership events (joins, suspicions, deaths, leaves) derived by diffing successive member lists.

import type { MemberView } from "../../index.js";

export type MembershipEventKind = "watching" | "joined" | "suspected" | "recovered" | "died" | "left" | "rejoined" | "forgotten";

export interface MembershipEvent {
  /** Wall-clock time the change was first seen by the dashboard, epoch ms. */
  readonly at: number;
  readonly kind: MembershipEventKind;
  readonly node: string;
  readonly address: string;
  /** For "watching": how many members were in each state when the dashboard started watching. */
  readonly detail?: string;
}

type Seen = Pick<MemberView, "state" | "incarnation" | "address"> & { since: number };

/**
 * Keeps the last member list and the most recent events (bounded). An event's time is when the
 * member's state changed, as the node reports it (`stateSince`), when that falls since the previous
 * sample; else the time of the sample that noticed it. Changes that came and went between two samples
 * (a suspicion refuted within a second) are not seen. The first list reports the members not alive
 * then, at the time they became so, so a death before anyone watched still shows.
 */
export class MembershipTimeline {
  readonly #limit: number;
  #last: Map<string, Seen> | undefined;
  #lastAt = -Infinity;
  readonly #events: MembershipEvent[] = [];

  constructor(limit = 200) {
    this.#limit = limit;
  }

  /** Diffs `members` against the previous list; returns the new events, oldest first. */
  observe(atMs: number, members: readonly MemberView[]): MembershipEvent[] {
    const now = new Map<string, Seen>(
      members.map((m) => [m.id, { state: m.state, incarnation: m.incarnation, address: m.address, since: Date.parse(m.stateSince ?? "") }]),
    );
    const added: MembershipEvent[] = [];
    const from = this.#lastAt;
    const push = (kind: MembershipEventKind, node: string, seen: Seen, detail?: string) => {
      const at = seen.since > from && seen.since <= atMs ? seen.since : atMs;
      added.push({ at, kind, node, address: seen.address, ...(detail === undefined ? {} : { detail }) });
    };
    const last = this.#last;
    if (last === undefined) {
      const counts = new Map<string, number>();
      for (const m of now.values()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
      const detail = [...counts].map(([state, n]) => `${n} ${state}`).join(", ");
      for (const [id, seen] of now) if (seen.state !== "alive") push(kindOf(seen.state), id, seen);
      added.sort((a, b) => a.at - b.at);
      added.push({ at: atMs, kind: "watching", node: "", address: "", detail: `${now.size} members: ${detail}` });
    } else {
      for (const [id, seen] of now) {
        const before = last.get(id);
        if (before === undefined) {
          push(seen.state === "alive" || seen.state === "suspect" ? "joined" : kindOf(seen.state), id, seen);
        } else if (before.state !== seen.state) {
          const revived = (before.state === "dead" || before.state === "left") && seen.state === "alive";
          push(revived ? "rejoined" : before.state === "suspect" && seen.state === "alive" ? "recovered" : kindOf(seen.state), id, seen);
        } else if (seen.state === "alive" && before.address !== seen.address) {
          // A restart under the same id with a new address is a rejoin too.
          push("rejoined", id, seen);
        }
      }
      for (const [id, before] of last) if (!now.has(id)) push("forgotten", id, before);
    }
    this.#last = now;
    this.#lastAt = atMs;
    for (const e of added) this.#events.push(e);
    if (this.#events.length > this.#limit) this.#events.splice(0, this.#events.length - this.#limit);
    return added;
  }

  /** Every kept event, oldest first. */
  get events(): readonly MembershipEvent[] {
    return this.#events;
  }
}

function kindOf(state: MemberView["state"]): MembershipEventKind {
  switch (state) {
    case "suspect":
      return "suspected";
    case "dead":
      return "died";
    case "left":
      return "left";
    default:
      return "joined";
  }
}
