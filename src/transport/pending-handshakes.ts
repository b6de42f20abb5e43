// Inbound connections still in their handshake, bounded overall and per source by dropping the oldest.

import type { Socket } from "node:net";

/**
 * Keeps the pending handshakes within bounds by dropping the OLDEST one, never the newcomer: idle
 * connections cannot fill the slots and lock out a real peer, whose handshake takes milliseconds.
 * A source (remote address) at its own bound loses its oldest connection first, so one host cannot
 * push out everyone else's.
 */
export class PendingHandshakes {
  readonly #max: number;
  readonly #maxPerSource: number;
  /** Oldest first. */
  readonly #sockets = new Set<Socket>();
  /** Dropped to make room: already reported as such, not to be reported again as a failed handshake. */
  readonly #evicted = new WeakSet<Socket>();

  constructor(max: number, maxPerSource: number) {
    this.#max = max;
    this.#maxPerSource = maxPerSource;
  }

  /**
   * Admits `socket`, destroying the pending connection it displaces, if any. Returns why one was
   * displaced (for the log) with its address, or undefined.
   */
  admit(socket: Socket): { peer: string; why: string } | undefined {
    const source = socket.remoteAddress ?? "";
    let fromSource = 0;
    let oldestFromSource: Socket | undefined;
    for (const pending of this.#sockets) {
      if (pending.remoteAddress !== source) continue;
      fromSource++;
      oldestFromSource ??= pending;
    }
    let victim: Socket | undefined;
    let why = "";
    if (fromSource >= this.#maxPerSource) {
      victim = oldestFromSource;
      why = `more than ${this.#maxPerSource} pending handshakes from ${source}: the oldest was dropped`;
    } else if (this.#sockets.size >= this.#max) {
      victim = this.#sockets.values().next().value;
      why = `more than ${this.#max} pending handshakes: the oldest was dropped`;
    }
    this.#sockets.add(socket);
    if (victim === undefined) return undefined;
    this.#sockets.delete(victim);
    this.#evicted.add(victim);
    victim.destroy();
    return { peer: `${victim.remoteAddress}:${victim.remotePort}`, why };
  }

  /** The handshake of `socket` is over, one way or another. */
  done(socket: Socket): void {
    this.#sockets.delete(socket);
  }

  wasEvicted(socket: Socket): boolean {
    return this.#evicted.has(socket);
  }
}
