// What the node runtime needs from the rest of the cluster: where a message goes, and a peer to hold copies.

import type { Delivery } from "./delivery.js";
import type { Mailbox } from "./mailbox.js";

/** Another node running a service: messages for it leave through this node's outbox. */
export interface RemoteRoute {
  readonly nodeId: string;
  /**
   * Sends a published message. Resolves once the receiver holds it (queued there, or processed);
   * waits up to `waitMs` for credit when the cluster is saturated. `parent`, when given, is told
   * through childSafe at that same moment (or when the send fails).
   */
  publish(serviceId: string, message: unknown, parent: Delivery | undefined, waitMs: number, key: string | undefined): Promise<void>;
  /** Sends a request; resolves with the reply. Retried on another node if this one dies before replying. */
  request(serviceId: string, message: unknown, deadline: number, key: string | undefined): Promise<unknown>;
}

export type Route = Mailbox | RemoteRoute;

export interface ClusterSide {
  /** True while no other member is alive: every message stays here and nothing is copied (the fast path). */
  readonly alone: boolean;
  /**
   * Where the next message for `serviceId` goes: `local` (this node's mailbox, when the service is
   * active here), a remote node, or undefined when no node runs it now.
   */
  route(serviceId: string, local: Mailbox | undefined, key: string | undefined): Route | undefined;
  /**
   * Gives a copy of a message accepted here from outside any handler to a peer, which re-injects it
   * should this node die before the message is safe. Makes `delivery` tracked (its owner releases the
   * copy). Resolves once the peer holds it; undefined when no peer can (a cluster of one).
   */
  copy(delivery: Delivery): Promise<void> | undefined;
}
