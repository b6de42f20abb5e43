// Many nodes in one process, no sockets: the Transport twin for tests and deterministic simulations.
//
// It mirrors TlsTransport wherever a fake can, so code that passes here behaves the same on sockets:
// - Payloads sent in one turn of the event loop form one batch (control first, then data: one TLS
//   write), sealed on the next immediate and handed over after the pair's latency: at once when it is
//   0, through the injected clock otherwise. Nothing is delivered inside `send`; every timer is the clock's.
// - `send` copies the payload. A payload over the sender's maxFrameBytes throws INVALID_ARGUMENT; one
//   over the receiver's closes the link as a protocol error. Queued bytes count 5 header bytes per
//   frame; `send` refuses once the next frame would pass maxQueuedBytes (an empty queue takes any
//   frame), and `whenWritable` resolves when the queue is down to half that bound.
// - A link whose receiver has not called `onMessage` holds what arrives, and the sender feels it.
// - Dialing an address nobody listens on rejects with an Error whose code is ECONNREFUSED, untouched,
//   like net.connect; a refused hello rejects with INCOMPATIBLE_PEER, a malformed one PROTOCOL_ERROR.
// - When two nodes dial each other at once, both keep the link dialed by the smaller node id.
//
// Nodes are named by their listen address; InProcessNetwork (in-process-network.ts) makes the
// transports and injects the faults: partitions, kills, paused delivery, latency.

import { KaffixError } from "../errors.js";
import type { Clock } from "../clock.js";
import { helloProblem, refusalReason } from "./hello.js";
import { InProcessLink } from "./in-process-link.js";
import { rethrowLater } from "./rethrow-later.js";
import { systemError, type InProcessWire } from "./in-process-network.js";
import { DEFAULT_TRANSPORT_LIMITS, type Hello, type Link, type Transport, type TransportLimits } from "./transport.js";

// The network is this module's entry point too: tests import everything in-process from here.
export { InProcessNetwork, type InProcessNetworkOptions, type InProcessWire, type LatencyOptions } from "./in-process-network.js";

export interface InProcessTransportOptions {
  /** This node's hello; an empty address is filled in by `listen()`. Copied. */
  hello: Hello;
  limits?: Partial<TransportLimits>;
  /** How long a dial may wait on a partition before it fails with TIMEOUT. Default 5000, like TlsTransport. */
  handshakeTimeoutMs?: number;
}

interface Dial {
  promise: Promise<Link>;
  resolve: (link: Link) => void;
  reject: (error: Error) => void;
  settled: boolean;
}

export class InProcessTransport implements Transport {
  // Fixed after construction.
  readonly #wire: InProcessWire;
  readonly #hello: Hello;
  readonly #limits: TransportLimits;
  readonly #handshakeTimeoutMs: number;

  // Mutable state.
  readonly #links = new Map<string, InProcessLink>();
  readonly #dialing = new Map<string, Dial>();
  readonly #linkHandlers: ((link: Link) => void)[] = [];
  #listening = false;
  #closed = false;

  /** Made by `InProcessNetwork.transport()`, which owns the wire. */
  constructor(wire: InProcessWire, options: InProcessTransportOptions) {
    this.#wire = wire;
    this.#limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    this.#hello = { ...cloneHello(options.hello), maxFrameBytes: this.#limits.maxFrameBytes };
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
  }

  /** This node's hello as sent, with the address `listen()` filled in. */
  get hello(): Hello {
    return this.#hello;
  }

  get links(): ReadonlyMap<string, Link> {
    return this.#links;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async listen(): Promise<number> {
    if (this.#closed) throw transportClosed();
    if (this.#listening) throw new KaffixError("INVALID_ARGUMENT", "listen() was already called");
    this.#hello.address = this.#wire.listen(this, this.#hello.address, () => this.#kill());
    this.#listening = true;
    return Number(/:(\d+)$/.exec(this.#hello.address)?.[1] ?? 0);
  }

  connect(address: string): Promise<Link> {
    if (this.#closed) return Promise.reject(transportClosed());
    for (const link of this.#links.values()) if (link.remote.address === address) return Promise.resolve(link);
    const pending = this.#dialing.get(address);
    if (pending !== undefined) return pending.promise;
    const dial = newDial();
    this.#dialing.set(address, dial);
    after(this.#wire.clock, this.#wire.delayMs(this.#hello.address, address), () => this.#arrive(address, dial));
    return dial.promise;
  }

  onLink(handler: (link: Link) => void): void {
    this.#linkHandlers.push(handler);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stop();
    for (const link of linksOf(this)) link.close("transport closed");
  }

  /** Kill -9: no goodbyes, nothing queued leaves. */
  #kill(): void {
    if (this.#closed) return;
    this.#stop();
    const { nodeId, address } = this.#hello;
    for (const link of linksOf(this)) link.abort("killed", `connection reset: node ${nodeId} at ${address} was killed`);
  }

  #stop(): void {
    this.#closed = true;
    this.#wire.unlisten(this);
    for (const [address, dial] of this.#dialing) this.#settle(address, dial, transportClosed());
  }

  /** The dial reaches `address`; runs on the dialer. */
  #arrive(address: string, dial: Dial): void {
    if (dial.settled) return;
    const acceptor = this.#wire.listener(address);
    if (acceptor === undefined) {
      return this.#settle(address, dial, systemError("ECONNREFUSED", `connect ECONNREFUSED ${address}`));
    }
    if (this.#wire.reachable(this.#hello.address, address)) return acceptor.#accept(this, address, dial);
    const { clock } = this.#wire;
    const timer = clock.setTimeout(() => {
      stopWaiting();
      const error = new KaffixError("TIMEOUT", `no link to ${address} within ${this.#handshakeTimeoutMs} ms`, { data: { address } });
      this.#settle(address, dial, error);
    }, this.#handshakeTimeoutMs);
    const stopWaiting = this.#wire.afterHeal(() => {
      if (!this.#wire.reachable(this.#hello.address, address)) return;
      stopWaiting();
      clock.clearTimeout(timer);
      this.#arrive(address, dial);
    });
  }

  /** Runs on the acceptor: checks the hellos, keeps one link per pair of nodes, makes the link. */
  #accept(dialer: InProcessTransport, address: string, dial: Dial): void {
    const refusal = refusalOf(dialer.#hello, this.#hello);
    if (refusal !== undefined) return dialer.#settle(address, dial, refusal);
    const theirs = dialer.#links.get(this.#hello.nodeId);
    const mine = this.#links.get(dialer.#hello.nodeId);
    if (theirs !== undefined && theirs.peer === mine) return dialer.#settle(address, dial, theirs);
    const rival = this.#dialing.get(dialer.#hello.address);
    if (rival !== undefined && this.#hello.nodeId < dialer.#hello.nodeId) {
      // Both dialed at once: like TlsTransport, keep the link dialed by the smaller node id.
      const retry = (): void => dialer.#arrive(address, dial);
      rival.promise.then(retry, retry);
      return;
    }
    // Leftovers of an earlier life of either node (a restart, a half-open link): the new link wins.
    theirs?.abort("duplicate link", "duplicate link");
    mine?.abort("duplicate link", "duplicate link");
    const outbound = dialer.#makeLink(this.#hello, true);
    const inbound = this.#makeLink(dialer.#hello, false);
    InProcessLink.pair(outbound, inbound);
    this.#announce(inbound);
    dialer.#announce(outbound);
    dialer.#settle(address, dial, outbound);
  }

  #makeLink(remote: Hello, outbound: boolean): InProcessLink {
    const link = new InProcessLink(this.#wire, {
      remote: cloneHello(remote),
      outbound,
      localAddress: this.#hello.address,
      limits: this.#limits,
      forget: (closed) => {
        if (this.#links.get(closed.remote.nodeId) === closed) this.#links.delete(closed.remote.nodeId);
      },
    });
    this.#links.set(remote.nodeId, link);
    return link;
  }

  #announce(link: InProcessLink): void {
    for (const handler of this.#linkHandlers) {
      try {
        handler(link);
      } catch (error) {
        rethrowLater(error);
      }
    }
  }

  #settle(address: string, dial: Dial, outcome: Link | Error): void {
    if (dial.settled) return;
    dial.settled = true;
    if (this.#dialing.get(address) === dial) this.#dialing.delete(address);
    if (outcome instanceof Error) dial.reject(outcome);
    else dial.resolve(outcome);
  }
}

/** Why the dialer gets no link, said from its side as TlsTransport says it; undefined when the two agree. */
function refusalOf(dialer: Hello, acceptor: Hello): Error | undefined {
  const malformed = helloProblem(acceptor);
  if (malformed !== undefined) return new KaffixError("PROTOCOL_ERROR", malformed);
  // The acceptor finds the dialer's hello malformed and drops the connection without a word.
  if (helloProblem(dialer) !== undefined) return new KaffixError("LINK_CLOSED", "connection closed during the hello");
  const local = refusalReason(dialer, acceptor);
  if (local !== undefined) return new KaffixError("INCOMPATIBLE_PEER", local, { data: { refusedBy: "local", reason: local } });
  const remote = refusalReason(acceptor, dialer);
  if (remote !== undefined) {
    return new KaffixError("INCOMPATIBLE_PEER", `refused by peer: ${remote}`, { data: { refusedBy: "peer", reason: remote } });
  }
  return undefined;
}

/** Runs `fn` on the next immediate when there is no delay, else on the clock: never in the caller's stack. */
function after(clock: Clock, delayMs: number, fn: () => void): void {
  if (delayMs > 0) clock.setTimeout(fn, delayMs);
  else setImmediate(fn);
}

/** A transport's links as what they are: every link an InProcessTransport makes is an InProcessLink. */
export function linksOf(transport: InProcessTransport): InProcessLink[] {
  return [...transport.links.values()] as InProcessLink[];
}

function cloneHello(hello: Hello): Hello {
  return { ...hello, services: { ...hello.services } };
}

function newDial(): Dial {
  const dial = { settled: false } as Dial;
  dial.promise = new Promise<Link>((resolve, reject) => {
    dial.resolve = resolve;
    dial.reject = reject;
  });
  return dial;
}

function transportClosed(): KaffixError {
  return new KaffixError("NOT_RUNNING", "the transport is closed");
}
