// Second copies: the ones this node placed on peers for messages it accepted, and the ones it holds for peers.

import { deferred, type Deferred } from "../core/deferred.js";
import type { CustodyOwner, Delivery } from "../core/delivery.js";
import type { KaffixError } from "../errors.js";

/** A copy this node placed on a peer; it owns the message's custody and releases the copy once the message is safe. */
export class PlacedCopy implements CustodyOwner {
  readonly delivery: Delivery;
  readonly body: Uint8Array;
  seq = 0;
  /** The peer holding the copy; undefined while none can. */
  nodeId: string | undefined;
  /** The peer said it holds the copy (or none is needed any more). */
  held = false;
  /** Maintenance round the copy was last sent in. */
  sentRound = 0;
  #acceptance: Deferred<void> | undefined;
  #outcome: "held" | KaffixError | undefined;
  /** Peers that refused this copy; not asked again. */
  refusedBy: string[] | undefined;
  readonly #onSafe: (copy: PlacedCopy) => void;

  constructor(delivery: Delivery, body: Uint8Array, onSafe: (copy: PlacedCopy) => void) {
    this.delivery = delivery;
    this.body = body;
    this.#onSafe = onSafe;
  }

  /** Resolves once a peer holds the copy (or the message is already safe, or no peer can take it). */
  accepted(): Promise<void> {
    if (this.#acceptance === undefined) {
      this.#acceptance = deferred<void>();
      if (this.#outcome === "held") this.#acceptance.resolve();
      else if (this.#outcome !== undefined) this.#acceptance.reject(this.#outcome);
    }
    return this.#acceptance.promise;
  }

  /** The publisher may go on: a peer holds the copy, or there is no longer any need for one. */
  markHeld(): void {
    this.held = true;
    if (this.#outcome !== undefined) return;
    this.#outcome = "held";
    this.#acceptance?.resolve();
  }

  /** The node stops before the message is safe: a publisher still waiting hears `error`. */
  abandon(error: KaffixError): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = error;
    this.#acceptance?.reject(error);
  }

  childSafe(): void {
    this.markHeld();
    this.#onSafe(this);
  }
}

interface Held {
  readonly service: string;
  readonly body: Uint8Array;
}

/** Copies held for other nodes, by origin node and sequence number; bounded in count and bytes. */
export class HeldCopies {
  readonly maxCount: number;
  readonly maxBytes: number;
  readonly #byOrigin = new Map<string, Map<number, Held>>();
  #count = 0;
  #bytes = 0;

  constructor(maxCount = 100_000, maxBytes = 256 * 1024 * 1024) {
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  get count(): number {
    return this.#count;
  }

  /** Keeps a copy of `body` (copied: the caller's bytes may be a view into a socket buffer); false when full. */
  hold(origin: string, seq: number, service: string, body: Uint8Array): boolean {
    let held = this.#byOrigin.get(origin);
    if (held?.has(seq)) return true;
    if (this.#count >= this.maxCount || this.#bytes + body.length > this.maxBytes) return false;
    if (held === undefined) this.#byOrigin.set(origin, (held = new Map()));
    held.set(seq, { service, body: Uint8Array.prototype.slice.call(body) });
    this.#count++;
    this.#bytes += body.length;
    return true;
  }

  /** The origin's copies, for a release to look up by range. */
  of(origin: string): ReadonlyMap<number, Held> | undefined {
    return this.#byOrigin.get(origin);
  }

  release(origin: string, seq: number): void {
    const held = this.#byOrigin.get(origin);
    const copy = held?.get(seq);
    if (copy === undefined) return;
    held!.delete(seq);
    if (held!.size === 0) this.#byOrigin.delete(origin);
    this.#count--;
    this.#bytes -= copy.body.length;
  }

  /** Takes every copy held for `origin` (it is gone), oldest first. */
  takeAll(origin: string): Held[] {
    const held = this.#byOrigin.get(origin);
    if (held === undefined) return [];
    this.#byOrigin.delete(origin);
    const copies = [...held.values()];
    for (const copy of copies) {
      this.#count--;
      this.#bytes -= copy.body.length;
    }
    return copies;
  }
}
