// The membership engine's settings: memberlist's LAN defaults plus the bounds and intervals of our own.

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { KaffixError } from "../errors.js";
import type { Lane, Link, Transport } from "../transport/transport.js";
import type { NodeMeta } from "./gossip-message.js";
import { LAN_DEFAULTS } from "./suspicion.js";

export interface MembershipOptions {
  /** One probe per interval (scaled by local health awareness). */
  probeIntervalMs: number;
  /** How long a direct ping may take before indirect probes are asked for (scaled likewise). */
  probeTimeoutMs: number;
  /** Members asked to probe on our behalf after a direct probe timed out. */
  indirectProbes: number;
  /** Suspicion lasts at least suspicionMult × max(1, log10 n) probe intervals. */
  suspicionMult: number;
  /** …and at most this multiple of that, when nobody confirms it. */
  suspicionMaxTimeoutMult: number;
  /** Members sent the queued gossip every gossip interval. */
  gossipFanout: number;
  gossipIntervalMs: number;
  /** A full state exchange with one random member, repairing whatever gossip missed. */
  pushPullIntervalMs: number;
  /** Awareness scales timeouts by at most this factor. */
  awarenessMax: number;
  /** Each piece of news is sent retransmitMult × ceil(log10(n + 1)) times (memberlist). */
  retransmitMult: number;
  /** Dead members still receive gossip this long, so a false death can be refuted (memberlist). */
  gossipToTheDeadMs: number;
  /** A full state exchange with one random dead member, healing partitions (serf's reconnect). */
  reconnectIntervalMs: number;
  /** Dead or left members are forgotten (as tombstones) after this long. */
  reapAfterMs: number;
  /** How long a push-pull waits for the answer. */
  pushPullTimeoutMs: number;
  /** How long `leave()` waits for dials that carry the leave news. */
  leaveTimeoutMs: number;
  /** Gossip piggybacked on one ping or ack, in encoded bytes. */
  maxPiggybackBytes: number;
  /** Gossip in one gossip message, in encoded bytes. */
  maxGossipBytes: number;
  /** News waiting to be gossiped; the most sent is dropped beyond it. */
  maxQueuedBroadcasts: number;
  /** Probes in flight, ours and those relayed for others. */
  maxPendingProbes: number;
  /** Dials in flight carrying messages, and messages waiting on each. */
  maxPendingDials: number;
  maxMessagesPerDial: number;
}

export const DEFAULT_MEMBERSHIP_OPTIONS: Readonly<MembershipOptions> = Object.freeze({
  ...LAN_DEFAULTS,
  retransmitMult: 4,
  gossipToTheDeadMs: 30_000,
  reconnectIntervalMs: 30_000,
  reapAfterMs: 24 * 60 * 60 * 1000,
  pushPullTimeoutMs: 5000,
  leaveTimeoutMs: 1000,
  maxPiggybackBytes: 4096,
  maxGossipBytes: 64 * 1024,
  maxQueuedBroadcasts: 4096,
  maxPendingProbes: 1024,
  maxPendingDials: 256,
  maxMessagesPerDial: 64,
});

/** The defaults overridden by `options`; throws INVALID_ARGUMENT for anything out of range. */
export function membershipOptions(options: Partial<MembershipOptions> = {}): Readonly<MembershipOptions> {
  for (const name of Object.keys(options)) {
    if (!(name in DEFAULT_MEMBERSHIP_OPTIONS)) {
      throw new KaffixError("INVALID_ARGUMENT", `unknown membership option "${name}"; known: ${Object.keys(DEFAULT_MEMBERSHIP_OPTIONS).join(", ")}`);
    }
  }
  const merged = { ...DEFAULT_MEMBERSHIP_OPTIONS, ...options };
  for (const [name, value] of Object.entries(merged)) {
    const positive = name !== "indirectProbes";
    if (!Number.isSafeInteger(value) || value < (positive ? 1 : 0)) {
      throw new KaffixError("INVALID_ARGUMENT", `membership option ${name} must be an integer ≥ ${positive ? 1 : 0}, got ${String(value)}`);
    }
  }
  if (merged.probeTimeoutMs >= merged.probeIntervalMs) {
    throw new KaffixError("INVALID_ARGUMENT", `probeTimeoutMs (${merged.probeTimeoutMs}) must be below probeIntervalMs (${merged.probeIntervalMs})`);
  }
  return Object.freeze(merged);
}

export interface MembershipConfig {
  transport: Transport;
  /** Start a process with a fresh, larger incarnation (e.g. its start time) so a restart outranks its old life. */
  self: { nodeId: string; address: string; incarnation: number; meta?: NodeMeta };
  clock: Clock;
  /** In [0, 1): picks probe order, relays, gossip targets. Inject a seeded one in simulations. */
  random: () => number;
  logger: Logger;
  options?: Partial<MembershipOptions>;
}

/** Counters a metrics collector reads. */
export interface MembershipStats {
  /** Payloads that did not decode or validate: dropped. */
  malformed: number;
  /** Messages not sent (see PeerSender.dropped). */
  sendDropped: number;
}

/** Receives the link payloads that are not membership's (see `Membership.onPayload`). */
export type PayloadHandler = (link: Link, lane: Lane, payload: Uint8Array) => void;

/** Told the IP a seed saw this node's connection come from, and the seed's address. */
export type ObservedAddressHandler = (ip: string, seed: string) => void;
