// The messages this node holds for one receiving node, in the order they were sent, and the credit left.

import type { Outgoing } from "./outgoing.js";

/** Messages one receiver may hold for one sender before the sender waits: the credit per link. */
export const DEFAULT_WINDOW = 4096;

export class PeerStream {
  readonly nodeId: string;
  readonly window: number;
  /** Unfinished messages by sequence number; insertion order is sequence order. */
  readonly entries = new Map<number, Outgoing>();
  readonly #perService = new Map<string, number>();
  /** The floor as last computed; 0 when a removal may have raised it. */
  #floor = 0;

  constructor(nodeId: string, window = DEFAULT_WINDOW) {
    this.nodeId = nodeId;
    this.window = window;
  }

  get size(): number {
    return this.entries.size;
  }

  /** No credit left: the receiver holds a full window of this node's messages. */
  get saturated(): boolean {
    return this.entries.size >= this.window;
  }

  /** Messages for `service` this node sent there and that are not done yet. */
  outstanding(service: string): number {
    return this.#perService.get(service) ?? 0;
  }

  /** Lowest sequence number still unfinished, or `next` when none is: the floor the receiver may forget below. */
  floor(next: number): number {
    if (this.#floor !== 0) return this.#floor;
    for (const seq of this.entries.keys()) return (this.#floor = seq);
    return next; // not cached: `next` moves on
  }

  add(outgoing: Outgoing): void {
    outgoing.nodeId = this.nodeId;
    this.entries.set(outgoing.seq, outgoing);
    this.#perService.set(outgoing.service, (this.#perService.get(outgoing.service) ?? 0) + 1);
  }

  remove(seq: number): Outgoing | undefined {
    const outgoing = this.entries.get(seq);
    if (outgoing === undefined) return undefined;
    this.entries.delete(seq);
    if (seq === this.#floor) this.#floor = 0;
    const left = (this.#perService.get(outgoing.service) ?? 1) - 1;
    if (left === 0) this.#perService.delete(outgoing.service);
    else this.#perService.set(outgoing.service, left);
    return outgoing;
  }

  /** Empties the stream (its node is gone), returning what it held in sequence order. */
  takeAll(): Outgoing[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    this.#perService.clear();
    this.#floor = 0;
    return all;
  }
}
