// A node's links to its peers: the TLS transport on the cluster port, the dials to --peer addresses, and their log lines.

import type { Logger } from "pino";
import { KaffixError } from "../errors.js";
import type { Clock } from "../clock.js";
import { connectWithRetry } from "./connect-with-retry.js";
import { PROTOCOL_VERSION } from "./hello.js";
import { TlsTransport } from "./tls-transport.js";
import type { Link, Transport } from "./transport.js";

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

/** What /cluster shows of one linked peer. */
export interface PeerLink {
  id: string;
  address: string;
  incarnation: number;
  /** True when this node dialed. */
  outbound: boolean;
  services: string[];
}

export class NodeLinks {
  readonly transport: Transport & { readonly closed: boolean };
  readonly #options: NodeLinksOptions;
  readonly #dials = new AbortController();
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
      limits: { maxFrameBytes: options.maxFrameBytes },
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

  peers(): PeerLink[] {
    return [...this.transport.links.values()].map((link) => ({
      id: link.remote.nodeId,
      address: link.remote.address,
      incarnation: link.remote.incarnation,
      outbound: link.outbound,
      services: Object.keys(link.remote.services),
    }));
  }

  async close(): Promise<void> {
    this.#dials.abort(new KaffixError("STOPPING", "the node is stopping"));
    await this.transport.close();
  }

  /** Dials until linked, and again whenever that link is lost, until the node stops. */
  #dial(address: string): void {
    const { logger, clock, random } = this.#options;
    const linked = connectWithRetry(this.transport, address, {
      signal: this.#dials.signal,
      clock,
      random,
      onRetry: (error, attempt, delayMs) => {
        // Attempts 1, 2, 4, 8, …: a peer that stays away costs a few lines, not one per backoff step.
        if ((attempt & (attempt - 1)) !== 0) return;
        const reason = error instanceof Error ? error.message : String(error);
        logger.warn({ peer: address, attempt, retryInMs: Math.round(delayMs) }, `cannot link to peer ${address}: ${reason}`);
      },
    });
    linked.then(
      (link) => link.onClose(() => {
        if (!this.#dials.signal.aborted && !this.transport.closed) this.#dial(address);
      }),
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
