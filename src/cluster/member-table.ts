// A node's view of the cluster (SWIM): gossip applied with memberlist's precedence rules, read as versioned snapshots.

import {
  isAddress,
  isCount,
  isNodeId,
  MEMBER_TABLE_LIMITS,
  parseGossipMessage,
  parseMeta,
  type AliveMessage,
  type GossipMessage,
  type LeaveMessage,
  type NodeMeta,
} from "./gossip-message.js";
import { isLive, MembershipSnapshot } from "./membership-snapshot.js";

// The membership API stays importable from here as one module.
export { MEMBER_TABLE_LIMITS, parseGossipMessage } from "./gossip-message.js";
export type {
  AliveMessage,
  DeadMessage,
  GossipMessage,
  LeaveMessage,
  NodeMeta,
  SuspectMessage,
} from "./gossip-message.js";
export { diff, MembershipSnapshot } from "./membership-snapshot.js";
export type { MembershipDiff } from "./membership-snapshot.js";

export type MemberState = "alive" | "suspect" | "dead" | "left";

export interface Member {
  readonly nodeId: string;
  readonly address: string;
  /** Raised only by the node itself, to outrank gossip about an older life of it. */
  readonly incarnation: number;
  readonly state: MemberState;
  /** When this table last saw `state` change (the caller's clock); reaping counts from here. */
  readonly stateChangedAtMs: number;
  readonly meta: NodeMeta;
}

/** `previous` is the member before the change (undefined for a node new to the table). */
export type MemberEvent =
  | { type: "joined" | "recovered" | "updated" | "left"; member: Member; previous: Member | undefined }
  | { type: "suspected" | "died"; member: Member; previous: Member; from: string };

export type IgnoredReason =
  /** Wrong shape, type or length: dropped without looking further. */
  | "malformed"
  /** A suspect, dead or leave about a node we do not know (memberlist ignores these too). */
  | "unknown-node"
  /** Nothing newer than what we know: an older incarnation, an old meta version, our own echo. */
  | "stale"
  /** A suspect, dead or leave about a node already dead or left. */
  | "gone"
  /** About ourselves while we are leaving: we no longer refute. */
  | "leaving"
  /** A new node while the table holds `maxMembers`. */
  | "table-full"
  /** An accusation at the largest safe incarnation: we cannot outrank it. */
  | "unrefutable";

/**
 * What applying one message did. `changed` says whether to re-gossip the message.
 * - `event`: the view changed.
 * - `refute`: the message accused us (or described an older life of us). It was not applied; our
 *   incarnation is now `refute`: broadcast `table.localAlive()` instead of the message.
 * - `confirmed`: another suspect about a node already suspect at this incarnation; `confirmed` is
 *   the accuser, for the suspicion timer to count. Nothing changed.
 */
export type ApplyResult =
  | { changed: true; event: MemberEvent }
  | { changed: false; refute: number }
  | { changed: false; confirmed: string }
  | { changed: false; ignored: IgnoredReason };

export interface MemberTableOptions {
  /**
   * This node. Start a process with `incarnation: Date.now()` (as ringpop does): a restarted node
   * then outranks every record and tombstone of its previous life without a refutation round.
   */
  self: { nodeId: string; address: string; incarnation?: number; meta?: NodeMeta };
  nowMs: number;
  /** Members of any state, this node included; new nodes beyond it are refused until a reap. */
  maxMembers?: number;
  /** Reaped node ids remembered with their last incarnation; the oldest is forgotten first. */
  maxTombstones?: number;
}

/**
 * The membership list of one node. Pure: no I/O, no timers; time comes in as `nowMs`.
 * Every change increments `version`; `snapshot()` hands out that version, frozen.
 */
export class MemberTable {
  // Fixed after construction.
  readonly selfId: string;
  readonly maxMembers: number;
  readonly maxTombstones: number;
  // Mutable state.
  #members = new Map<string, Member>();
  /** Node id → incarnation at reaping, in insertion order so the oldest is evicted first. */
  #tombstones = new Map<string, number>();
  #leaving = false;
  #version = 1;
  #snapshot: MembershipSnapshot | undefined;

  constructor(options: MemberTableOptions) {
    const { self, nowMs } = options;
    const meta = parseMeta(self.meta ?? { version: 0, data: {} });
    const incarnation = self.incarnation ?? 0;
    if (!isNodeId(self.nodeId) || !isAddress(self.address) || !isCount(incarnation) || meta === undefined) {
      throw new RangeError("MemberTable self needs a valid node id, address, incarnation and meta");
    }
    this.maxMembers = options.maxMembers ?? MEMBER_TABLE_LIMITS.maxMembers;
    this.maxTombstones = options.maxTombstones ?? MEMBER_TABLE_LIMITS.maxTombstones;
    if (!isCount(this.maxMembers) || this.maxMembers < 1 || !isCount(this.maxTombstones)) {
      throw new RangeError("MemberTable maxMembers must be a positive integer, maxTombstones a non-negative one");
    }
    this.selfId = self.nodeId;
    const member = { nodeId: self.nodeId, address: self.address, incarnation, state: "alive", meta } as const;
    this.#members.set(self.nodeId, Object.freeze({ ...member, stateChangedAtMs: nowMs }));
  }

  /** Incremented by every change to any member, ours included. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#members.size;
  }

  get leaving(): boolean {
    return this.#leaving;
  }

  get(nodeId: string): Member | undefined {
    return this.#members.get(nodeId);
  }

  self(): Member {
    return this.#members.get(this.selfId)!;
  }

  /** The alive message that describes this node now: what to broadcast after a refutation. */
  localAlive(): AliveMessage {
    const { nodeId, incarnation, address, meta } = this.self();
    return { type: "alive", nodeId, incarnation, address, meta };
  }

  /** The same view, frozen; the same object until the next change. */
  snapshot(): MembershipSnapshot {
    if (this.#snapshot?.version !== this.#version) {
      this.#snapshot = new MembershipSnapshot(this.#version, this.#members.values());
    }
    return this.#snapshot;
  }

  /**
   * Applies one gossip message straight from the network (anything malformed is ignored), with
   * memberlist's precedence: about another node, `alive` wins with a greater incarnation (at the
   * same one it only brings newer meta, and never revives a dead or left node); `suspect`, `dead`
   * and `leave` win at the same incarnation or above, over a live node only. About ourselves nothing
   * is applied: anything at our incarnation or above that is not our own news is refuted.
   */
  apply(message: unknown, nowMs: number): ApplyResult {
    const msg = parseGossipMessage(message);
    if (msg === undefined) return ignored("malformed");
    if (msg.nodeId === this.selfId) return this.#applyAboutSelf(msg);
    const known = this.#members.get(msg.nodeId);
    if (msg.type === "alive") return this.#applyAlive(msg, known, nowMs);
    if (known === undefined) return ignored("unknown-node");
    if (msg.incarnation < known.incarnation) return ignored("stale");
    if (!isLive(known)) return ignored("gone");
    if (msg.type === "suspect") {
      // The same suspicion heard again is an independent confirmation, not a change; at a newer
      // incarnation it is a new suspicion (the suspicion timer restarts).
      if (known.state === "suspect" && msg.incarnation === known.incarnation) {
        return { changed: false, confirmed: msg.from };
      }
      const member = { ...known, incarnation: msg.incarnation, state: "suspect", stateChangedAtMs: nowMs } as const;
      return this.#put(member, { type: "suspected", member, previous: known, from: msg.from });
    }
    const state = msg.type === "dead" ? "dead" : "left";
    const member = { ...known, incarnation: msg.incarnation, state, stateChangedAtMs: nowMs } as const;
    if (msg.type === "dead") return this.#put(member, { type: "died", member, previous: known, from: msg.from });
    return this.#put(member, { type: "left", member, previous: known });
  }

  /** Raises our incarnation above `accusedIncarnation` (and ours); returns the new one. */
  refute(accusedIncarnation: number): number {
    if (!isCount(accusedIncarnation) || accusedIncarnation >= Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`Cannot refute incarnation ${accusedIncarnation}`);
    }
    const me = this.self();
    const incarnation = Math.max(me.incarnation, accusedIncarnation) + 1;
    this.#set({ ...me, incarnation });
    return incarnation;
  }

  /** Raises our incarnation by one; returns the new one. */
  bumpIncarnation(): number {
    return this.refute(this.self().incarnation);
  }

  /** Replaces our gossiped state under the next meta version; returns the alive to broadcast. */
  updateLocalMeta(data: Record<string, unknown>): AliveMessage {
    const me = this.self();
    const meta = parseMeta({ version: me.meta.version + 1, data });
    if (meta === undefined) throw new RangeError("Node meta data must be a plain object");
    this.#set({ ...me, meta });
    return this.localAlive();
  }

  /**
   * Moves this node to `address` under a new incarnation, so the new address outranks every record of
   * the old one; returns the alive to broadcast.
   */
  setLocalAddress(address: string): AliveMessage {
    if (!isAddress(address)) throw new RangeError("MemberTable address must be a valid host:port");
    const me = this.self();
    if (address !== me.address) {
      const incarnation = me.incarnation + 1;
      if (!isCount(incarnation) || incarnation >= Number.MAX_SAFE_INTEGER) throw new RangeError("Cannot raise the incarnation further");
      this.#set({ ...me, address, incarnation });
    }
    return this.localAlive();
  }

  /** Marks this node as leaving: it stops refuting. Returns the leave message to broadcast. */
  leave(nowMs: number): LeaveMessage {
    const me = this.self();
    if (!this.#leaving) {
      this.#leaving = true;
      this.#set({ ...me, state: "left", stateChangedAtMs: nowMs });
    }
    return { type: "leave", nodeId: me.nodeId, incarnation: me.incarnation };
  }

  /**
   * Removes members dead or left for at least `keepMs`, remembering each one's incarnation as a
   * tombstone so that old gossip cannot bring it back. Never removes this node. Returns the ids.
   */
  reap(nowMs: number, keepMs: number): string[] {
    const removed: string[] = [];
    for (const member of this.#members.values()) {
      if (member.nodeId === this.selfId || isLive(member) || nowMs - member.stateChangedAtMs < keepMs) continue;
      this.#members.delete(member.nodeId);
      this.#tombstones.delete(member.nodeId);
      this.#tombstones.set(member.nodeId, member.incarnation);
      if (this.#tombstones.size > this.maxTombstones) this.#tombstones.delete(this.#tombstones.keys().next().value!);
      removed.push(member.nodeId);
    }
    if (removed.length > 0) this.#version++;
    return removed;
  }

  #applyAlive(msg: AliveMessage, known: Member | undefined, nowMs: number): ApplyResult {
    const { nodeId, incarnation, address, meta } = msg;
    if (known === undefined) {
      const tombstone = this.#tombstones.get(nodeId);
      if (tombstone !== undefined && incarnation <= tombstone) return ignored("stale");
      if (this.#members.size >= this.maxMembers) return ignored("table-full");
      this.#tombstones.delete(nodeId);
      const member = { nodeId, address, incarnation, state: "alive", stateChangedAtMs: nowMs, meta } as const;
      return this.#put(member, { type: "joined", member, previous: undefined });
    }
    if (incarnation > known.incarnation) {
      // A newer life: take it whole, meta included, even if its meta version restarted lower.
      const stateChangedAtMs = known.state === "alive" ? known.stateChangedAtMs : nowMs;
      const member = { nodeId, address, incarnation, state: "alive", stateChangedAtMs, meta } as const;
      const type = known.state === "alive" ? "updated" : known.state === "suspect" ? "recovered" : "joined";
      return this.#put(member, { type, member, previous: known });
    }
    // The same life (a dead one cannot come back at it): only newer meta is news.
    if (incarnation === known.incarnation && isLive(known) && meta.version > known.meta.version) {
      const member = { ...known, meta };
      return this.#put(member, { type: "updated", member, previous: known });
    }
    return ignored("stale");
  }

  #applyAboutSelf(msg: GossipMessage): ApplyResult {
    if (this.#leaving) return ignored("leaving");
    const me = this.self();
    if (msg.incarnation < me.incarnation) return ignored("stale");
    // Our own alive coming back, or an older meta of this life: nothing to answer.
    const sameLife = msg.type === "alive" && msg.incarnation === me.incarnation && msg.address === me.address;
    if (sameLife && msg.meta.version <= me.meta.version) return ignored("stale");
    if (msg.incarnation >= Number.MAX_SAFE_INTEGER) return ignored("unrefutable");
    return { changed: false, refute: this.refute(msg.incarnation) };
  }

  #put(member: Member, event: MemberEvent): ApplyResult {
    this.#set(member);
    return { changed: true, event };
  }

  #set(member: Member): void {
    this.#members.set(member.nodeId, Object.freeze(member));
    this.#version++;
  }
}

function ignored(reason: IgnoredReason): ApplyResult {
  return { changed: false, ignored: reason };
}
