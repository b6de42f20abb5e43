// The seam between nodes: a Transport makes authenticated Links to peers; a Link carries opaque payloads on two lanes.
//
// Two implementations honour this contract (and run one shared contract suite): TlsTransport over
// real sockets, and InProcessTransport for tests and simulations of many nodes in one process.

/** Control traffic (probes, acks) is written before data traffic, so it never waits behind bulk data. */
export type Lane = "control" | "data";

/** What a node says about itself right after a connection is secured. */
export interface Hello {
  /** Wire protocol version; nodes with different major versions refuse each other. */
  protocol: number;
  /** The app (cluster) name; nodes of different apps refuse each other. */
  app: string;
  nodeId: string;
  /** Raised by the node itself each time it starts; tells a restarted node from its old self. */
  incarnation: number;
  /** host:port where this node accepts links. */
  address: string;
  /** Compiled-in services: id → fingerprint of its contract. Different sets are normal. */
  services: Record<string, string>;
  /**
   * Largest payload this node accepts in one frame; a transport fills it in from its limits, and sends
   * a peer nothing larger than the peer's own limit.
   */
  maxFrameBytes?: number;
  /**
   * Optional wire features this node understands, e.g. "trace" (trace context in messages). A
   * sender uses a feature only toward peers that list it, so nodes of different builds interoperate.
   */
  features?: string[];
}

/** The optional wire features this build understands. */
export const WIRE_FEATURES: readonly string[] = ["trace"];

export interface Link {
  /** The peer's hello. */
  readonly remote: Hello;
  /** True on the side that dialed. */
  readonly outbound: boolean;
  /** The IP this link's connection comes from, as this side sees it; undefined when there is none (in-process). */
  readonly remoteIp?: string;
  readonly closed: boolean;
  /**
   * Queues a payload for the peer; payloads queued within one tick leave in one write. Returns false
   * when the link's send queue is over its bound: the payload was not queued and the caller should
   * wait for `whenWritable()`. Throws LINK_CLOSED on a closed link.
   */
  send(lane: Lane, payload: Uint8Array): boolean;
  /** Resolves when `send` may succeed again; rejects with LINK_CLOSED if the link closes first. */
  whenWritable(): Promise<void>;
  /** The one receiver of this link's payloads, in the order the peer sent them per lane. */
  onMessage(handler: (lane: Lane, payload: Uint8Array) => void): void;
  /** Called once, when the link closes for any reason. */
  onClose(handler: (reason: string) => void): void;
  /** Sends a goodbye with the reason (best effort) and closes. */
  close(reason: string): void;
}

export interface Transport {
  /** Starts accepting links; resolves with the port actually bound. */
  listen(): Promise<number>;
  /**
   * Dials `address` (host:port) and resolves with an authenticated link once hellos matched. If a
   * link to that node already exists, or both sides dialed at once, resolves with the one link kept.
   * Rejects with INCOMPATIBLE_PEER when refused, or with the network error.
   */
  connect(address: string): Promise<Link>;
  /** Called for every new link, inbound or outbound, once it is authenticated and unique. */
  onLink(handler: (link: Link) => void): void;
  /** Open links by the peer's node id. */
  readonly links: ReadonlyMap<string, Link>;
  /** Closes every link and stops listening. */
  close(): Promise<void>;
}

/** Settings shared by every transport. */
export interface TransportLimits {
  /** Largest payload accepted in one frame. Default 4 MiB. */
  maxFrameBytes: number;
  /** Bytes queued per link before `send` returns false. Default 16 MiB. */
  maxQueuedBytes: number;
  /** A peer that sends nothing (not even a PONG) for this long is dropped. Default 5000. */
  idleTimeoutMs: number;
  /** A PING is sent on a link that has been quiet for this long. Default 1000. */
  heartbeatMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  idleTimeoutMs: 5000,
  heartbeatMs: 1000,
};
