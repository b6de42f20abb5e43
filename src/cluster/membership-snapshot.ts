// A frozen, versioned view of a member table, and what changed between two such views.

import type { Member } from "./member-table.js";

/** One version of a table's view; frozen, members sorted by node id. */
export class MembershipSnapshot {
  readonly version: number;
  readonly members: readonly Member[];
  readonly #byId: ReadonlyMap<string, Member>;
  #alive: readonly Member[] | undefined;
  #live: readonly Member[] | undefined;

  constructor(version: number, members: Iterable<Member>) {
    this.version = version;
    this.members = Object.freeze([...members].map((m) => Object.freeze(m)).sort(byNodeId));
    this.#byId = new Map(this.members.map((m) => [m.nodeId, m]));
    Object.freeze(this);
  }

  get size(): number {
    return this.members.length;
  }

  get(nodeId: string): Member | undefined {
    return this.#byId.get(nodeId);
  }

  /** Members in state "alive". */
  alive(): readonly Member[] {
    return (this.#alive ??= Object.freeze(this.members.filter((m) => m.state === "alive")));
  }

  /** Members not known to be gone: "alive" or "suspect" (a suspect is often just slow). */
  live(): readonly Member[] {
    return (this.#live ??= Object.freeze(this.members.filter(isLive)));
  }
}

/**
 * What changed from `older` to `newer`. Each member is in at most one list (the newer record, or
 * the older one when it is gone): `joined` = live now, absent or dead/left before (a rejoin
 * included); `died`/`left` = live before, dead/left now (live before and reaped since counts as
 * died: we cannot tell); `suspected`/`recovered` = alive↔suspect; `updated` = same state, new
 * incarnation, address or meta version. A node that came and went between the two is in none.
 */
export interface MembershipDiff {
  readonly joined: readonly Member[];
  readonly left: readonly Member[];
  readonly died: readonly Member[];
  readonly suspected: readonly Member[];
  readonly recovered: readonly Member[];
  readonly updated: readonly Member[];
}

export function diff(older: MembershipSnapshot, newer: MembershipSnapshot): MembershipDiff {
  const out = { joined: [], left: [], died: [], suspected: [], recovered: [], updated: [] } as Record<
    keyof MembershipDiff,
    Member[]
  >;
  if (older === newer) return out;
  for (const member of newer.members) {
    const kind = classify(older.get(member.nodeId), member);
    if (kind !== undefined) out[kind].push(member);
  }
  for (const member of older.members) {
    if (isLive(member) && newer.get(member.nodeId) === undefined) out.died.push(member);
  }
  out.died.sort(byNodeId);
  return out;
}

function classify(before: Member | undefined, now: Member): keyof MembershipDiff | undefined {
  const wasLive = before !== undefined && isLive(before);
  if (!isLive(now)) return wasLive ? (now.state === "dead" ? "died" : "left") : undefined;
  if (!wasLive) return "joined";
  if (before.state !== now.state) return now.state === "suspect" ? "suspected" : "recovered";
  const same = before.incarnation === now.incarnation && before.address === now.address;
  return same && before.meta.version === now.meta.version ? undefined : "updated";
}

export function isLive(member: Member): boolean {
  return member.state === "alive" || member.state === "suspect";
}

function byNodeId(a: Member, b: Member): number {
  return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
}
