// Membership traffic on the control lane: the message shapes, and the check that admits untrusted input.
//
// Every message is one codec-encoded map with a `t` field:
//   ping       { t, seq, target, gossip }              target = the node id the sender means to reach
//   ack        { t, seq, coord?, gossip }              coord = the acker's Vivaldi coordinate (direct acks)
//   nack       { t, seq }                              an indirect prober could not reach the target
//   ping-req   { t, seq, target, address, timeoutMs?, gossip }  probe `target` for me, answer with ack or nack
//                                                      (the nack within timeoutMs, the time I still wait)
//   gossip     { t, gossip }
//   push-pull  { t, id, reply, join, members, observed? }  a full state exchange; the answer has reply: true,
//                                                      and to a join `observed`: the IP the joiner's connection came from
// `gossip` holds at most MESSAGE_LIMITS.gossipPerMessage alive/suspect/dead/leave messages.

import { isIP } from "node:net";
import { isAddress, isCount, isNodeId, MEMBER_TABLE_LIMITS, parseGossipMessage, parseMeta, type GossipMessage, type NodeMeta } from "./gossip-message.js";
import type { MemberState } from "./member-table.js";

export const MESSAGE_LIMITS = {
  gossipPerMessage: 256,
  membersPerPushPull: MEMBER_TABLE_LIMITS.maxMembers,
  observedIpChars: 64,
} as const;

/** One member as a push-pull carries it. */
export interface MemberRecord {
  nodeId: string;
  address: string;
  incarnation: number;
  state: MemberState;
  meta: NodeMeta;
}

export type MembershipMessage =
  | { t: "ping"; seq: number; target: string; gossip: GossipMessage[] }
  | { t: "ack"; seq: number; coord?: unknown; gossip: GossipMessage[] }
  | { t: "nack"; seq: number }
  | { t: "ping-req"; seq: number; target: string; address: string; timeoutMs?: number; gossip: GossipMessage[] }
  | { t: "gossip"; gossip: GossipMessage[] }
  | { t: "push-pull"; id: number; reply: boolean; join: boolean; members: MemberRecord[]; observed?: string };

/** A message before its piggybacked gossip is attached. */
export type OutgoingMessage = DistributiveOmit<MembershipMessage, "gossip">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const STATES: ReadonlySet<string> = new Set<MemberState>(["alive", "suspect", "dead", "left"]);

/** Checks one decoded message; returns a clean copy, or undefined if anything in it is malformed. */
export function parseMembershipMessage(input: unknown): MembershipMessage | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const m = input as Record<string, unknown>;
  switch (m.t) {
    case "ping": {
      const gossip = parseGossipList(m.gossip);
      if (!isCount(m.seq) || !isNodeId(m.target) || gossip === undefined) return undefined;
      return { t: "ping", seq: m.seq, target: m.target, gossip };
    }
    case "ack": {
      const gossip = parseGossipList(m.gossip);
      if (!isCount(m.seq) || gossip === undefined) return undefined;
      return m.coord === undefined ? { t: "ack", seq: m.seq, gossip } : { t: "ack", seq: m.seq, coord: m.coord, gossip };
    }
    case "nack":
      return isCount(m.seq) ? { t: "nack", seq: m.seq } : undefined;
    case "ping-req": {
      const gossip = parseGossipList(m.gossip);
      if (!isCount(m.seq) || !isNodeId(m.target) || !isAddress(m.address) || gossip === undefined) return undefined;
      if (m.timeoutMs !== undefined && !(isCount(m.timeoutMs) && (m.timeoutMs as number) <= 60_000)) return undefined;
      const message: MembershipMessage = { t: "ping-req", seq: m.seq, target: m.target, address: m.address, gossip };
      if (m.timeoutMs !== undefined) message.timeoutMs = m.timeoutMs as number;
      return message;
    }
    case "gossip": {
      const gossip = parseGossipList(m.gossip);
      return gossip === undefined ? undefined : { t: "gossip", gossip };
    }
    case "push-pull": {
      if (!isCount(m.id) || typeof m.reply !== "boolean" || typeof m.join !== "boolean") return undefined;
      const members = parseMembers(m.members);
      if (members === undefined) return undefined;
      const message: MembershipMessage = { t: "push-pull", id: m.id, reply: m.reply, join: m.join, members };
      if (m.observed !== undefined) {
        if (!isObservedIp(m.observed)) return undefined;
        message.observed = m.observed;
      }
      return message;
    }
    default:
      return undefined;
  }
}

function isObservedIp(input: unknown): input is string {
  return typeof input === "string" && input.length <= MESSAGE_LIMITS.observedIpChars && isIP(input) !== 0;
}

/** Absent means none; any malformed entry makes the whole list (and message) malformed. */
function parseGossipList(input: unknown): GossipMessage[] | undefined {
  if (input === undefined) return [];
  if (!Array.isArray(input) || input.length > MESSAGE_LIMITS.gossipPerMessage) return undefined;
  const out: GossipMessage[] = [];
  for (const item of input) {
    const message = parseGossipMessage(item);
    if (message === undefined) return undefined;
    out.push(message);
  }
  return out;
}

function parseMembers(input: unknown): MemberRecord[] | undefined {
  if (!Array.isArray(input) || input.length > MESSAGE_LIMITS.membersPerPushPull) return undefined;
  const out: MemberRecord[] = [];
  for (const item of input) {
    if (typeof item !== "object" || item === null) return undefined;
    const { nodeId, address, incarnation, state, meta } = item as Record<string, unknown>;
    const cleanMeta = parseMeta(meta);
    if (!isNodeId(nodeId) || !isAddress(address) || !isCount(incarnation) || typeof state !== "string" || !STATES.has(state) || cleanMeta === undefined) {
      return undefined;
    }
    out.push({ nodeId, address, incarnation, state: state as MemberState, meta: cleanMeta });
  }
  return out;
}

/**
 * The gossip that merges a peer's record into our table, as memberlist merges remote state: a dead
 * record arrives as a suspicion, so the accused can still refute it; `from` is the peer that sent it.
 */
export function recordToGossip(record: MemberRecord, from: string): GossipMessage {
  const { nodeId, incarnation } = record;
  switch (record.state) {
    case "alive":
      return { type: "alive", nodeId, incarnation, address: record.address, meta: record.meta };
    case "left":
      return { type: "leave", nodeId, incarnation };
    default:
      return { type: "suspect", nodeId, incarnation, from };
  }
}
