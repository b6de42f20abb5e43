// A node's links to its peers: the TLS transport on the cluster port, the dials to --peer addresses, and their log lines.

import type { Logger } from "pino";
import { KaffixError } from "../errors.js";
import type { Clock, TimerHandle } from "../clock.js";
import { connectWithRetry } from "./connect-with-retry.js";
import { mismatchedServices, PROTOCOL_VERSION } from "./hello.js";
import { TlsTransport } from "./tls-transport.js";
import type { Link } from "./transport.js";

export interface NodeLinksOptions {
  app: string;
  nodeId: string;
  incarnation: number;
  /** Service id → contract fingerprint, for the hello. */
  services: Record<string, string>;
  tokens: readonly string[];
  host: string;
  port: number;
  peers: readonly string[];
  /** Largest payload in one frame, both ways. */
  maxFrameBytes: number;
  logger: Logger;
  clock: Clock;
  random: () => number;
}

/** A link that lived this long was healthy: its loss is redialed at once. */
const STABLE_LINK_MS = 10_000;
const MAX_REDIAL_DELAY_MS = 30_000;

/** What /cluster shows of one linked peer. */
export interface PeerLink {
  id: string;
  address: string;
  incarnation: number;
  /** True when this node dialed. */
  outbound: boolean;
  /** The peer's services. */
  services: string[];
  /** Services both nodes have whose contracts differ: messages for them never go to this peer. */
  mismatched: string[];
}

export class NodeLinks {
  readonly transport: TlsTransport;
  readonly #options: NodeLinksOptions;
  readonly #dials = new AbortController();
  /** Timers of redials waiting out a backoff. */
  readonly #redials = new Set<TimerHandle>();
  #port = 0;

  private constructor(options: NodeLinksOptions) {
    this.#options = options;
    this.transport = new TlsTransport({
      hello: {
        protocol: PROTOCOL_VERSION,
        app: options.app,
        nodeId: options.nodeId,
        incarnation: options.incarnation,
        address: "",
        services: options.services,
      },
      tokens: options.tokens,
      host: options.host,
      port: options.port,
      // The send queue holds at least two of the largest frames.
      limits: { maxFrameBytes: options.maxFrameBytes, maxQueuedBytes: Math.max(16 * 1024 * 1024, 2 * options.maxFrameBytes) },
      logger: options.logger,
      clock: options.clock,
    });
    this.transport.onLink((link) => this.#linked(link));
  }

  /** Binds the cluster port, then starts dialing the peers in the background. */
  static async start(options: NodeLinksOptions): Promise<NodeLinks> {
    const links = new NodeLinks(options);
    links.#port = await links.transport.listen();
    for (const peer of options.peers) links.#dial(peer);
    return links;
  }

  get port(): number {
    return this.#port;
  }

  /** host:port this node tells peers to dial (never a wildcard). */
  get address(): string {
    return this.transport.hello.address;
  }

  peers(): PeerLink[] {
    return [...this.transport.links.values()].map((link) => ({
      id: link.remote.nodeId,
      address: link.remote.address,
      incarnation: link.remote.incarnation,
      outbound: link.outbound,
      services: Object.keys(link.remote.services),
      mismatched: mismatchedServices({ services: this.#options.services }, link.remote),
    }));
  }

  /**
   * Linked peers that run `serviceId` under the same contract as this node: the only ones a message
   * for it may be routed to (a node with another contract is mid-upgrade, not a valid target).
   */
  linksServing(serviceId: string): Link[] {
    const mine = this.#options.services[serviceId];
    if (mine === undefined) return [];
    return [...this.transport.links.values()].filter(
      (link) => Object.hasOwn(link.remote.services, serviceId) && link.remote.services[serviceId] === mine,
    );
  }

  async close(): Promise<void> {
    this.#dials.abort(new KaffixError("STOPPING", "the node is stopping"));
    for (const timer of this.#redials) this.#options.clock.clearTimeout(timer);
    this.#redials.clear();
    await this.transport.close();
  }

  /**
   * Dials until linked, and again whenever that link is lost, until the node stops. A link that keeps
   * dying soon after it came up is redialed with a growing, jittered delay rather than in a loop.
   */
  #dial(address: string, quickDrops = 0): void {
    const { logger, clock, random } = this.#options;
    const linked = connectWithRetry(this.transport, address, {
      signal: this.#dials.signal,
      clock,
      random,
      onRetry: (error, attempt, delayMs) => {
        // A refusal is logged by the transport itself, rate-limited.
        if (error instanceof KaffixError && error.code === "INCOMPATIBLE_PEER") return;
        // Attempts 1, 2, 4, 8, …: a peer that stays away costs a few lines, not one per backoff step.
        if ((attempt & (attempt - 1)) !== 0) return;
        const reason = error instanceof Error ? error.message : String(error);
        logger.warn({ peer: address, attempt, retryInMs: Math.round(delayMs) }, `cannot link to peer ${address}: ${reason}`);
      },
    });
    linked.then(
      (link) => {
        const upAt = clock.now();
        link.onClose(() => {
          if (this.#dials.signal.aborted || this.transport.closed) return;
          const drops = clock.now() - upAt < STABLE_LINK_MS ? quickDrops + 1 : 0;
          if (drops === 0) return this.#dial(address, 0);
          const ceilingMs = Math.min(MAX_REDIAL_DELAY_MS, 100 * 2 ** Math.min(drops, 20));
          const timer = clock.setTimeout(() => {
            this.#redials.delete(timer);
            if (!this.#dials.signal.aborted) this.#dial(address, drops);
          }, ceilingMs * (0.5 + random() / 2));
          this.#redials.add(timer);
        });
      },
      () => {
        // Only abort or transport close end the retries: both mean the node is stopping.
      },
    );
  }

  #linked(link: Link): void {
    const { logger } = this.#options;
    // The transport logs the link coming up; only its end is news here.
    const peer = { peer: link.remote.nodeId, address: link.remote.address, outbound: link.outbound };
    link.onClose((reason) => logger.info(peer, `link to node ${link.remote.nodeId} closed: ${reason}`));
  }
}
