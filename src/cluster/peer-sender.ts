// Sends membership messages to a node by id and address, dialing when there is no link yet; every wait is bounded.

import type { Link, Transport } from "../transport/transport.js";

export interface Peer {
  readonly nodeId: string;
  readonly address: string;
}

interface Waiting {
  nodeId: string;
  payload: Uint8Array;
}

export class PeerSender {
  // Fixed after construction.
  readonly #transport: Transport;
  readonly #maxDials: number;
  readonly #maxPerDial: number;

  // Mutable state.
  /** Dials in flight by address, with what waits to go out on them. */
  readonly #dials = new Map<string, { promise: Promise<Link>; waiting: Waiting[] }>();
  #dropped = 0;
  #stopped = false;

  constructor(transport: Transport, maxDials: number, maxPerDial: number) {
    this.#transport = transport;
    this.#maxDials = maxDials;
    this.#maxPerDial = maxPerDial;
  }

  /** Messages not sent: no room to wait for a dial, a failed dial, a full or closed link. */
  get dropped(): number {
    return this.#dropped;
  }

  get pendingDials(): number {
    return this.#dials.size;
  }

  /** Best effort: sends on the peer's link, or after dialing its address; never throws. */
  send(to: Peer, payload: Uint8Array): void {
    if (this.#stopped) return;
    const link = this.#transport.links.get(to.nodeId);
    if (link !== undefined && !link.closed) {
      this.#sendOn(link, payload);
      return;
    }
    const dial = this.#dials.get(to.address);
    if (dial !== undefined) {
      if (dial.waiting.length < this.#maxPerDial) dial.waiting.push({ nodeId: to.nodeId, payload });
      else this.#dropped++;
      return;
    }
    if (this.#dials.size >= this.#maxDials) {
      this.#dropped++;
      return;
    }
    this.dial(to.address, [{ nodeId: to.nodeId, payload }]).catch(() => {});
  }

  /** A link to `address` (the transport keeps one per pair); then sends what waited for it. */
  dial(address: string, waiting: Waiting[] = []): Promise<Link> {
    const pending = this.#dials.get(address);
    if (pending !== undefined) {
      pending.waiting.push(...waiting.slice(0, this.#maxPerDial - pending.waiting.length));
      return pending.promise;
    }
    const entry = { promise: this.#transport.connect(address), waiting };
    this.#dials.set(address, entry);
    entry.promise.then(
      (link) => {
        this.#dials.delete(address);
        for (const item of entry.waiting) {
          // An address may now belong to another node (a restart under a new id): never misdeliver.
          if (!this.#stopped && link.remote.nodeId === item.nodeId) this.#sendOn(link, item.payload);
          else this.#dropped++;
        }
      },
      () => {
        this.#dials.delete(address);
        this.#dropped += entry.waiting.length;
      },
    );
    return entry.promise;
  }

  /** Resolves once no dial is in flight (each ends in success, refusal or the transport's timeout). */
  async drained(): Promise<void> {
    while (this.#dials.size > 0) {
      await Promise.allSettled([...this.#dials.values()].map((dial) => dial.promise));
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const dial of this.#dials.values()) dial.waiting.length = 0;
  }

  #sendOn(link: Link, payload: Uint8Array): void {
    try {
      if (!link.send("control", payload)) this.#dropped++;
    } catch {
      this.#dropped++; // closed meanwhile, or over the peer's frame limit
    }
  }
}
