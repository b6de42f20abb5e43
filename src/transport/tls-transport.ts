// Links between nodes over TLS 1.3 with a pre-shared key derived from the cluster token; no certificates.

import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext, type TLSSocketOptions } from "node:tls";
import type { Logger } from "pino";
import { KaffixError } from "../errors.js";
import { systemClock, type Clock } from "../clock.js";
import { closeGracefully, FramedLink } from "./framed-link.js";
import { rethrowLater } from "./rethrow-later.js";
import { describeFailure, dialError } from "./handshake-failure.js";
import { encodeHello, exchangeHellos } from "./hello-exchange.js";
import { mismatchedServices } from "./hello.js";
import { formatAddress, parseAddress } from "./host-port.js";
import { LogLimiter } from "./log-limiter.js";
import { PendingHandshakes } from "./pending-handshakes.js";
import { derivePsk, keyIdOf, pskIdentity, type Psk } from "./psk.js";
import { DEFAULT_TRANSPORT_LIMITS, WIRE_FEATURES, type Hello, type Link, type Transport, type TransportLimits } from "./transport.js";

export interface TlsTransportOptions {
  /** This node's hello; an empty address is filled in by `listen()`. Copied. */
  hello: Hello;
  /** Accepted tokens, newest first: links are dialed with the first, accepted with any. */
  tokens: readonly string[];
  host: string;
  /** 0 picks a free port. */
  port: number;
  limits?: Partial<TransportLimits>;
  /** Time for TCP, TLS and the hello together. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Inbound connections in their handshake at once; beyond it the oldest is dropped. Default 64. */
  maxPendingHandshakes?: number;
  /** The same bound per remote address. Default 8. */
  maxPendingPerSource?: number;
  /** Largest hello accepted (and sent). Default 256 KiB. */
  maxHelloBytes?: number;
  /** How long a closed link waits for the peer before destroying the socket. Default 1000. */
  closeGraceMs?: number;
  /** How far data may run ahead in the socket, which bounds how long control frames wait. Default 64 KiB. */
  socketDataBudgetBytes?: number;
  logger: Logger;
  clock?: Clock;
  /** Turns a token into its key; tests inject a memoized one, because a derivation takes ~60 ms of CPU. */
  derivePsk?: (token: string) => Promise<Psk>;
}

const TLS_SETTINGS = {
  minVersion: "TLSv1.3",
  maxVersion: "TLSv1.3",
  ciphers: "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
} as const;

/** Distinct (service, foreign contract) pairs remembered for the once-only warning. */
const MAX_WARNED_SERVICES = 1024;

/** Both ends of a TLS connection export the same value: a name for the connection both sides agree on. */
const CONNECTION_ID_LABEL = "kaffix link id";

interface LinkOrigin {
  /** Node id of the side that dialed. */
  dialer: string;
  connectionId: string;
}

export class TlsTransport implements Transport {
  // Fixed after construction.
  readonly #hello: Hello;
  readonly #limits: TransportLimits;
  readonly #options: Required<Omit<TlsTransportOptions, "hello" | "tokens" | "limits" | "derivePsk" | "maxHelloBytes">>;
  readonly #maxHelloBytes: number;
  readonly #psks: Promise<Psk[]>;
  readonly #secureContext: SecureContext = createSecureContext(TLS_SETTINGS);
  readonly #badConnectionLogs: LogLimiter;

  // Mutable state.
  #server: Server | undefined;
  #helloFrame: Buffer | undefined;
  #keysById = new Map<string, Buffer>();
  readonly #links = new Map<string, FramedLink>();
  readonly #origins = new WeakMap<FramedLink, LinkOrigin>();
  readonly #dialing = new Map<string, Promise<Link>>();
  /** Every socket not yet closed, inbound raw ones included, so that `close()` can wait for them. */
  readonly #sockets = new Set<Socket>();
  /** Sockets between accept/dial and a link: nothing on them is worth a goodbye. */
  readonly #handshaking = new Set<Socket>();
  readonly #pending: PendingHandshakes;
  readonly #linkHandlers: ((link: Link) => void)[] = [];
  /** Service id + foreign fingerprint pairs already reported (at most MAX_WARNED_SERVICES). */
  readonly #warnedServices = new Set<string>();
  #closed = false;

  constructor(options: TlsTransportOptions) {
    if (options.tokens.length === 0) throw new KaffixError("INVALID_ARGUMENT", "TlsTransport needs at least one token");
    this.#limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    this.#hello = { ...options.hello, services: { ...options.hello.services }, maxFrameBytes: this.#limits.maxFrameBytes, features: [...WIRE_FEATURES] };
    this.#maxHelloBytes = options.maxHelloBytes ?? 256 * 1024;
    encodeHello(this.#hello, this.#maxHelloBytes); // throws now if this node's hello is too large
    this.#options = {
      host: options.host,
      port: options.port,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      maxPendingHandshakes: options.maxPendingHandshakes ?? 64,
      maxPendingPerSource: options.maxPendingPerSource ?? 8,
      closeGraceMs: options.closeGraceMs ?? 1000,
      socketDataBudgetBytes: options.socketDataBudgetBytes ?? 64 * 1024,
      logger: options.logger,
      clock: options.clock ?? systemClock,
    };
    this.#badConnectionLogs = new LogLimiter(this.#options.clock);
    this.#pending = new PendingHandshakes(this.#options.maxPendingHandshakes, this.#options.maxPendingPerSource);
    this.#psks = Promise.all(options.tokens.map(options.derivePsk ?? derivePsk));
    this.#psks.then((psks) => (this.#keysById = new Map(psks.map((p) => [p.keyId, p.key]))), () => {});
  }

  /** This node's hello as sent, with the address `listen()` filled in. */
  get hello(): Hello {
    return structuredClone(this.#hello);
  }

  /**
   * Changes the address this node's hello advertises, for links made from now on; existing links keep
   * the hello they exchanged.
   */
  setAddress(address: string): void {
    parseAddress(address); // throws INVALID_ARGUMENT on anything but host:port
    this.#hello.address = address;
    this.#helloFrame = undefined;
  }

  get links(): ReadonlyMap<string, Link> {
    return this.#links;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async listen(): Promise<number> {
    this.#checkOpen();
    if (this.#server !== undefined) throw new KaffixError("INVALID_ARGUMENT", "listen() was already called");
    const server = createServer((raw) => this.#accept(raw));
    this.#server = server;
    try {
      await this.#psks;
      this.#checkOpen();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: this.#options.host, port: this.#options.port, exclusive: true }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.#server = undefined;
      throw error;
    }
    if (this.#closed) {
      server.close();
      throw transportClosed();
    }
    server.on("error", (error) => this.#options.logger.error({ err: error }, "cluster listener failed"));
    const port = (server.address() as AddressInfo).port;
    if (this.#hello.address === "") {
      this.#hello.address = formatAddress(this.#options.host, port);
      this.#helloFrame = undefined;
    }
    return port;
  }

  connect(address: string): Promise<Link> {
    if (this.#closed) return Promise.reject(transportClosed());
    for (const link of this.#links.values()) if (link.remote.address === address) return Promise.resolve(link);
    let dial = this.#dialing.get(address);
    if (dial === undefined) {
      dial = this.#dial(address).finally(() => this.#dialing.delete(address));
      this.#dialing.set(address, dial);
    }
    return dial;
  }

  onLink(handler: (link: Link) => void): void {
    this.#linkHandlers.push(handler);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of [...this.#links.values()]) link.close("transport closed");
    const closing = [...this.#sockets].map((socket) => new Promise<void>((resolve) => socket.once("close", () => resolve())));
    for (const socket of this.#handshaking) socket.destroy();
    const server = this.#server;
    if (server?.listening === true) closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
  }

  async #dial(address: string): Promise<Link> {
    const { host, port } = parseAddress(address);
    const [psk] = await this.#psks;
    this.#checkOpen();
    const socket = tlsConnect({
      ...TLS_SETTINGS,
      host,
      port,
      pskCallback: () => ({ psk: psk!.key, identity: pskIdentity(psk!.keyId) }),
      checkServerIdentity: () => undefined,
    });
    try {
      return await this.#handshake(socket, "secureConnect");
    } catch (error) {
      const wrapped = dialError(error, address, this.#options.handshakeTimeoutMs);
      if (wrapped instanceof KaffixError && wrapped.code === "INCOMPATIBLE_PEER") this.#logRefusal(address, wrapped.message);
      throw wrapped;
    }
  }

  #accept(raw: Socket): void {
    const peer = `${raw.remoteAddress}:${raw.remotePort}`;
    raw.on("error", () => {});
    if (this.#closed) {
      raw.destroy();
      return;
    }
    const displaced = this.#pending.admit(raw);
    if (displaced !== undefined) this.#logBadConnection(displaced.peer, "pending", displaced.why);
    this.#track(raw);
    this.#handshaking.add(raw);
    let unknownKeyId: string | undefined;
    // Node reads pskCallback from a server-side TLSSocket's options; @types/node only declares it for tls.Server.
    const tlsOptions: TLSSocketOptions & { pskCallback: (socket: TLSSocket, identity: string) => Buffer | null } = {
      isServer: true,
      secureContext: this.#secureContext,
      pskCallback: (_socket, identity) => {
        const key = this.#keysById.get(keyIdOf(identity) ?? "");
        // Sent before any authentication: printable ASCII only, so it cannot mangle a terminal showing the log.
        if (key === undefined) unknownKeyId = identity.slice(0, 64).replace(/[^\x20-\x7e]/g, "?");
        return key ?? null;
      },
    };
    const socket = new TLSSocket(raw, tlsOptions);
    // A TLSSocket made outside tls.Server reports TLS errors after the handshake (a record that fails
    // authentication) only through this internal event, which tls.Server itself listens to; without it
    // a tampered connection would stay open until the next write. Turn it into an ordinary error.
    socket.on("_tlsError", (error: Error) => socket.destroy(error));
    const done = (): void => {
      this.#pending.done(raw);
      this.#handshaking.delete(raw);
    };
    this.#handshake(socket, "secure").then(done, (error: unknown) => {
      done();
      if (this.#pending.wasEvicted(raw)) return;
      if (error instanceof KaffixError && error.code === "INCOMPATIBLE_PEER") return this.#logRefusal(peer, error.message);
      if (unknownKeyId !== undefined) {
        const reason = `TLS handshake failed: unknown PSK identity "${unknownKeyId}" (is the token the same on both nodes?)`;
        return this.#logBadConnection(peer, "unknown key", reason);
      }
      const { category, reason } = describeFailure(error);
      this.#logBadConnection(peer, category, reason);
    });
  }

  /** TLS, then hellos, then a unique link; all within the handshake timeout. Rejects with what went wrong. */
  async #handshake(socket: TLSSocket, secureEvent: "secure" | "secureConnect"): Promise<Link> {
    const outbound = secureEvent === "secureConnect";
    this.#track(socket);
    this.#handshaking.add(socket);
    socket.on("error", () => {}); // each phase listens for errors itself; this keeps a gap between them from crashing.
    let timedOut = false;
    const timer = this.#options.clock.setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, this.#options.handshakeTimeoutMs);
    try {
      await secured(socket, secureEvent);
      this.#helloFrame ??= encodeHello(this.#hello, this.#maxHelloBytes);
      const { remote, leftover } = await exchangeHellos(socket, this.#hello, this.#helloFrame, this.#maxHelloBytes);
      this.#checkOpen();
      // Frames are already batched per turn of the event loop; Nagle's algorithm would only add delay.
      socket.setNoDelay(true);
      const link = new FramedLink(socket, { remote, outbound, leftover, limits: this.#limits, clock: this.#options.clock, closeGraceMs: this.#options.closeGraceMs, socketDataBudgetBytes: this.#options.socketDataBudgetBytes });
      const connectionId = socket.exportKeyingMaterial(16, CONNECTION_ID_LABEL, Buffer.alloc(0)).toString("hex");
      return this.#adopt(link, { dialer: outbound ? this.#hello.nodeId : remote.nodeId, connectionId });
    } catch (error) {
      if (error instanceof KaffixError && (error.data as { refusedBy?: string } | undefined)?.refusedBy === "local") {
        closeGracefully(socket, this.#options.closeGraceMs); // the REFUSE is on its way
      } else {
        socket.destroy();
      }
      if (timedOut) throw new KaffixError("TIMEOUT", `handshake not done within ${this.#options.handshakeTimeoutMs} ms`, { cause: error });
      throw error;
    } finally {
      this.#options.clock.clearTimeout(timer);
      this.#handshaking.delete(socket);
    }
  }

  /** Registers a new link unless one to the same node is preferred; returns the link kept. */
  #adopt(link: FramedLink, origin: LinkOrigin): Link {
    if (link.closed) throw new KaffixError("LINK_CLOSED", `link to node ${link.remote.nodeId} closed during the handshake`);
    const { nodeId } = link.remote;
    this.#origins.set(link, origin);
    link.onClose((reason) => this.#onLinkClosed(link, reason));
    const existing = this.#links.get(nodeId);
    if (existing !== undefined && !preferred(link, origin, existing, this.#origins.get(existing)!)) {
      link.retireInto(existing);
      return existing;
    }
    this.#links.set(nodeId, link);
    existing?.retireInto(link);
    const { logger } = this.#options;
    logger.info({ peer: nodeId, address: link.remote.address, outbound: link.outbound }, `link to node ${nodeId} is up`);
    for (const service of mismatchedServices(this.#hello, link.remote)) {
      // Once per service and foreign contract, not per peer: node ids change with every restart. The
      // set is cleared when full, so even a member announcing endless contracts cannot grow it.
      const key = `${service}\u0000${link.remote.services[service]}`;
      if (this.#warnedServices.has(key)) continue;
      if (this.#warnedServices.size >= MAX_WARNED_SERVICES) this.#warnedServices.clear();
      this.#warnedServices.add(key);
      logger.warn({ peer: nodeId, service }, `service ${service} has another contract on node ${nodeId}: it is not routed between the two`);
    }
    for (const handler of this.#linkHandlers) {
      try {
        handler(link);
      } catch (error) {
        rethrowLater(error); // a bug in a handler, not a reason to drop the link or skip the other handlers
      }
    }
    return link;
  }

  #onLinkClosed(link: FramedLink, reason: string): void {
    const { nodeId } = link.remote;
    if (this.#links.get(nodeId) === link) this.#links.delete(nodeId);
    const level = reason === "duplicate link" || this.#closed ? "debug" : "info";
    this.#options.logger[level]({ peer: nodeId, reason }, `link to node ${nodeId} closed: ${reason}`);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  #checkOpen(): void {
    if (this.#closed) throw transportClosed();
  }

  #logRefusal(peer: string, reason: string): void {
    const suppressed = this.#badConnectionLogs.admit(`refused: ${reason}`);
    if (suppressed !== undefined) this.#options.logger.warn({ peer, reason, suppressed }, `refused a link with ${peer}: ${reason}`);
  }

  #logBadConnection(peer: string, category: string, reason: string): void {
    if (this.#closed) return;
    const suppressed = this.#badConnectionLogs.admit(category);
    if (suppressed !== undefined) this.#options.logger.warn({ peer, reason, suppressed }, `rejected a connection from ${peer}: ${reason}`);
  }
}

/**
 * Which of two links to one node both sides keep: the newer incarnation of the peer, then the link
 * dialed by the node with the smaller id, then the smaller connection id. Every input is the same
 * on both sides, so both close the same link.
 */
function preferred(a: FramedLink, aOrigin: LinkOrigin, b: FramedLink, bOrigin: LinkOrigin): boolean {
  if (a.remote.incarnation !== b.remote.incarnation) return a.remote.incarnation > b.remote.incarnation;
  if (aOrigin.dialer !== bOrigin.dialer) return aOrigin.dialer < bOrigin.dialer;
  return aOrigin.connectionId < bOrigin.connectionId;
}

function secured(socket: TLSSocket, event: "secure" | "secureConnect"): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      socket.off(event, onSecure);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onSecure = (): void => settle();
    const onError = (error: Error): void => settle(error);
    const onClose = (): void => settle(new KaffixError("LINK_CLOSED", "connection closed during the TLS handshake"));
    socket.once(event, onSecure);
    socket.on("error", onError);
    socket.once("close", onClose);
  });
}

function transportClosed(): KaffixError {
  return new KaffixError("NOT_RUNNING", "the transport is closed");
}
