// SWIM gossip on the wire: the message shapes, the bounds on their fields, and the check that admits untrusted input.

/** Gossiped node state. The table compares only `version`; `data` is opaque and never mutated. */
export interface NodeMeta {
  readonly version: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Bounds on what the network may make a table hold. Longer ids or addresses are malformed. */
export const MEMBER_TABLE_LIMITS = {
  nodeIdChars: 128,
  addressChars: 300,
  maxMembers: 10_000,
  maxTombstones: 10_000,
} as const;

export interface AliveMessage {
  type: "alive";
  nodeId: string;
  incarnation: number;
  address: string;
  meta: NodeMeta;
}
/** `from` is the accuser; a suspicion timer counts distinct accusers (Lifeguard). */
export interface SuspectMessage {
  type: "suspect";
  nodeId: string;
  incarnation: number;
  from: string;
}
export interface DeadMessage {
  type: "dead";
  nodeId: string;
  incarnation: number;
  from: string;
}
/** Sent by the leaving node itself: it goes to "left" at once, with no suspicion. */
export interface LeaveMessage {
  type: "leave";
  nodeId: string;
  incarnation: number;
}
export type GossipMessage = AliveMessage | SuspectMessage | DeadMessage | LeaveMessage;

/** Checks one message from the network; returns a clean copy, or undefined if malformed. */
export function parseGossipMessage(input: unknown): GossipMessage | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const { type, nodeId, incarnation, address, meta, from } = input as Record<string, unknown>;
  if (!isNodeId(nodeId) || !isCount(incarnation)) return undefined;
  switch (type) {
    case "alive": {
      const cleanMeta = parseMeta(meta);
      if (!isAddress(address) || cleanMeta === undefined) return undefined;
      return { type, nodeId, incarnation, address, meta: cleanMeta };
    }
    case "suspect":
    case "dead":
      return isNodeId(from) ? { type, nodeId, incarnation, from } : undefined;
    case "leave":
      return { type, nodeId, incarnation };
    default:
      return undefined;
  }
}

export function parseMeta(input: unknown): NodeMeta | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const { version, data } = input as Record<string, unknown>;
  if (!isCount(version) || typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  return Object.freeze({ version, data: Object.freeze({ ...data }) });
}

export function isNodeId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MEMBER_TABLE_LIMITS.nodeIdChars;
}

export function isAddress(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MEMBER_TABLE_LIMITS.addressChars;
}

/** Incarnations, meta versions and limits: safe non-negative integers. */
export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
