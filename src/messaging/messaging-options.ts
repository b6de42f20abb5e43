// What a Messaging is built from, and the counters it reports on /cluster and /metrics.

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Membership } from "../cluster/membership.js";
import type { NodeRuntime } from "../core/node-runtime.js";
import type { Transport } from "../transport/transport.js";

export interface MessagingOptions {
  runtime: NodeRuntime;
  transport: Transport;
  membership: Membership;
  /** This node's contract fingerprints by service id (its hello's services). */
  contracts: Record<string, string>;
  /** The operator's relative weight; capacity is cores × weight. */
  weight: number;
  clock: Clock;
  random: () => number;
  logger: Logger;
  /** Messages one peer may hold for this node at once. Default 4096. */
  window?: number;
  /** Largest payload in one frame (the transport's limit). Default 4 MiB. */
  maxFrameBytes?: number;
  /** Period of the maintenance round (resends, reroutes, timeouts). Default 200. */
  tickMs?: number;
}

export interface MessagingStats {
  sent: number;
  resent: number;
  rerouted: number;
  received: number;
  duplicates: number;
  refused: number;
  /** Messages held for peers now (the outbox). */
  outbox: number;
  parked: number;
  /** Copies this node holds for peers now. */
  heldCopies: number;
  malformed: number;
}
