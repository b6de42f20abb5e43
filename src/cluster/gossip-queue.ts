// The broadcast queue: news waiting to be piggybacked, each sent a bounded number of times (memberlist's TransmitLimitedQueue).

import { encode } from "../wire/codec.js";
import type { GossipMessage } from "./gossip-message.js";

interface Entry {
  message: GossipMessage;
  /** Encoded size, measured once. */
  bytes: number;
  transmits: number;
  /** Larger is newer: among equally sent news, the newest goes first. */
  order: number;
}

/** How many times each piece of news is sent in a cluster of `n` (memberlist: mult × ceil(log10(n + 1))). */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

export class GossipQueue {
  readonly maxEntries: number;
  /** One entry per node: newer news about a node replaces older news about it. */
  readonly #entries = new Map<string, Entry>();
  #order = 0;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  push(message: GossipMessage): void {
    this.#entries.delete(message.nodeId);
    this.#entries.set(message.nodeId, { message, bytes: encode(message).length, transmits: 0, order: this.#order++ });
    if (this.#entries.size > this.maxEntries) this.#evictMostSent();
  }

  /**
   * At most `maxCount` pieces of news to send now, least sent first, within `budgetBytes`. Each one
   * handed out counts as sent once, and is dropped after its `limit`-th time.
   */
  take(budgetBytes: number, limit: number, maxCount: number): GossipMessage[] {
    if (this.#entries.size === 0) return [];
    const ranked = [...this.#entries.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order);
    const out: GossipMessage[] = [];
    let left = budgetBytes;
    for (const entry of ranked) {
      if (out.length === maxCount) break;
      if (entry.bytes > left) continue;
      left -= entry.bytes;
      out.push(entry.message);
      if (++entry.transmits >= limit) this.#entries.delete(entry.message.nodeId);
    }
    return out;
  }

  clear(): void {
    this.#entries.clear();
  }

  #evictMostSent(): void {
    let worst: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (worst === undefined || entry.transmits > worst.transmits) worst = entry;
    }
    if (worst !== undefined) this.#entries.delete(worst.message.nodeId);
  }
}
