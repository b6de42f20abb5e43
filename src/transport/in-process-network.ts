// The world InProcessTransports live in: who listens where, and the faults a test injects between them.
//
// Nodes are named by their listen address. Faults:
// - partition(a, b): traffic between a and b is held, as TCP holds it while it retransmits. Healed
//   within idleTimeoutMs, everything arrives and nothing is lost; otherwise each side closes its link
//   after its idleTimeoutMs ("peer silent for … ms") and what was held is lost. Dials across the
//   partition wait and fail with TIMEOUT after handshakeTimeoutMs unless it heals first.
// - kill(address): the node's links close at once on both sides (the peer sees a connection reset;
//   across a partition only once it heals or times out); the address is free for a restarted node.
// - pauseDelivery(address) / resumeDelivery(address): the node stops reading; senders feel back-pressure.
// - setLatency(ms, { jitterMs, between }): one-way delay per batch, with seeded jitter, FIFO kept.
// - setLoss(probability, { lanes }): each payload sent on those lanes is dropped whole with that
//   probability (seeded), as a lossy datagram network would; `send` still reports it queued.

import { KaffixError } from "../errors.js";
import { systemClock, type Clock } from "../clock.js";
import type { InProcessLink } from "./in-process-link.js";
import type { Lane } from "./transport.js";
import { InProcessTransport, linksOf, type InProcessTransportOptions } from "./in-process-transport.js";

export interface InProcessNetworkOptions {
  /**
   * Drives latency, idle and handshake timeouts. A ManualClock makes a run fully deterministic; with
   * latency 0 (the default) dials and batches still complete on the next immediate (`await settle()`).
   */
  clock?: Clock;
  /** A number in [0, 1); draws latency jitter. Default Math.random. */
  random?: () => number;
}

export interface LossOptions {
  /** The lanes that lose payloads. Default both. */
  lanes?: readonly Lane[];
}

export interface LatencyOptions {
  /** Up to this much is added to each batch's delay, drawn from the network's `random`. */
  jitterMs?: number;
  /** Only between these two addresses (both directions); otherwise the default for every pair. */
  between?: readonly [string, string];
}

/** What a transport sees of its network. Made by InProcessNetwork, for InProcessTransport only. */
export interface InProcessWire {
  readonly clock: Clock;
  /** One-way delay of the next batch (or dial) from `from` to `to`, jitter included. */
  delayMs(from: string, to: string): number;
  reachable(a: string, b: string): boolean;
  /** Whether the next payload on `lane` is lost (see `setLoss`). */
  drops(lane: Lane): boolean;
  /** Reachable, and `to` is reading. */
  canDeliver(from: string, to: string): boolean;
  /** Registers a listener; returns its address, made up when `address` is "". */
  listen(transport: InProcessTransport, address: string, kill: () => void): string;
  unlisten(transport: InProcessTransport): void;
  listener(address: string): InProcessTransport | undefined;
  /** Calls `retry` after every heal until the returned function is called. */
  afterHeal(retry: () => void): () => void;
}

interface Latency {
  ms: number;
  jitterMs: number;
}

export class InProcessNetwork {
  // Fixed after construction.
  readonly clock: Clock;
  readonly #random: () => number;
  readonly #wire: InProcessWire;

  // Mutable state.
  readonly #listeners = new Map<string, { transport: InProcessTransport; kill: () => void }>();
  readonly #partitions = new Set<string>();
  readonly #paused = new Set<string>();
  readonly #healWatchers = new Set<() => void>();
  #latency: Latency = { ms: 0, jitterMs: 0 };
  readonly #pairLatency = new Map<string, Latency>();
  #loss: { probability: number; lanes: ReadonlySet<Lane> } | undefined;
  #madeUpAddresses = 0;

  constructor(options: InProcessNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    const unreachable = (a: string, b: string): boolean => this.#partitions.has(pairKey(a, b));
    this.#wire = {
      clock: this.clock,
      delayMs: (from, to) => {
        const { ms, jitterMs } = this.#pairLatency.get(pairKey(from, to)) ?? this.#latency;
        return jitterMs > 0 ? ms + this.#random() * jitterMs : ms;
      },
      reachable: (a, b) => !unreachable(a, b),
      drops: (lane) => {
        const loss = this.#loss;
        return loss !== undefined && loss.lanes.has(lane) && this.#random() < loss.probability;
      },
      canDeliver: (from, to) => !unreachable(from, to) && !this.#paused.has(to),
      listen: (transport, address, kill) => {
        if (address === "") {
          const n = ++this.#madeUpAddresses;
          address = `inproc-${n}:${10_000 + n}`;
        }
        if (this.#listeners.has(address)) throw systemError("EADDRINUSE", `listen EADDRINUSE: address already in use ${address}`);
        this.#listeners.set(address, { transport, kill });
        return address;
      },
      unlisten: (transport) => {
        for (const [address, entry] of this.#listeners) if (entry.transport === transport) this.#listeners.delete(address);
      },
      listener: (address) => this.#listeners.get(address)?.transport,
      afterHeal: (retry) => {
        this.#healWatchers.add(retry);
        return () => this.#healWatchers.delete(retry);
      },
    };
  }

  transport(options: InProcessTransportOptions): InProcessTransport {
    return new InProcessTransport(this.#wire, options);
  }

  /** Addresses with a listening node. */
  get addresses(): string[] {
    return [...this.#listeners.keys()];
  }

  /** Holds traffic between two addresses, both ways, until `heal`; see the file comment for what follows. */
  partition(a: string, b: string): void {
    if (a === b) throw new KaffixError("INVALID_ARGUMENT", "a node cannot be partitioned from itself");
    this.#partitions.add(pairKey(a, b));
    for (const link of this.#linksBetween(a, b)) link.partitioned();
  }

  heal(a: string, b: string): void {
    if (!this.#partitions.delete(pairKey(a, b))) return;
    for (const link of this.#linksBetween(a, b)) link.healed();
    for (const retry of [...this.#healWatchers]) retry();
  }

  /** Sets the one-way delay of every batch, by default for every pair or, with `between`, for one. */
  setLatency(ms: number, options: LatencyOptions = {}): void {
    const jitterMs = options.jitterMs ?? 0;
    if (!(ms >= 0 && jitterMs >= 0 && Number.isFinite(ms + jitterMs))) {
      throw new KaffixError("INVALID_ARGUMENT", `latency must be finite and not negative, got ${ms} ms ± ${jitterMs} ms`);
    }
    if (options.between === undefined) this.#latency = { ms, jitterMs };
    else this.#pairLatency.set(pairKey(...options.between), { ms, jitterMs });
  }

  /** Drops each payload on `lanes` with `probability` in [0, 1]; 0 turns loss off. */
  setLoss(probability: number, options: LossOptions = {}): void {
    if (!(probability >= 0 && probability <= 1)) {
      throw new KaffixError("INVALID_ARGUMENT", `loss probability must be in [0, 1], got ${probability}`);
    }
    const lanes = new Set<Lane>(options.lanes ?? ["control", "data"]);
    this.#loss = probability === 0 ? undefined : { probability, lanes };
  }

  /** The node at `address` stops reading: what is sent to it waits, and its senders' queues fill. */
  pauseDelivery(address: string): void {
    this.#paused.add(address);
  }

  resumeDelivery(address: string): void {
    if (!this.#paused.delete(address)) return;
    const transport = this.#listeners.get(address)?.transport;
    for (const link of transport === undefined ? [] : linksOf(transport)) link.peer.pump();
  }

  /** Ends the node at `address` as kill -9 would; a new transport may then listen there. */
  kill(address: string): void {
    const entry = this.#listeners.get(address);
    if (entry === undefined) throw new KaffixError("INVALID_ARGUMENT", `no node listens on ${address}`);
    entry.kill();
  }

  /** Both sides of every link between the nodes at `a` and `b`, even where one side is already closed. */
  #linksBetween(a: string, b: string): InProcessLink[] {
    const links = new Set<InProcessLink>();
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const transport = this.#listeners.get(from)?.transport;
      if (transport === undefined) continue;
      for (const link of linksOf(transport)) {
        if (link.remote.address === to) links.add(link).add(link.peer);
      }
    }
    return [...links];
  }
}

/** An error shaped like the one node:net gives, so callers handle both transports alike. */
export function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}
