// What a receiver remembers of one sending node: messages in progress, recently finished ones, and acks to send.

import type { CustodyOwner, Delivery } from "../core/delivery.js";
import { RangeList } from "./frames.js";

/** Finished sequence numbers remembered per sender (above its floor) to spot redeliveries; the oldest go first. */
export const MAX_REMEMBERED_DONE = 16_384;
/** Messages one sender may have in progress here; more is a misbehaving sender and is refused. */
export const MAX_OPEN_PER_SENDER = 16_384;

export type Redelivery = "new" | "in-progress" | "done";

export class SenderState {
  readonly nodeId: string;
  /** Every sequence number below this that the sender sent here is finished (the sender says so). */
  floor = 0;
  /** Messages received and not finished: seq → true. */
  readonly open = new Map<number, true>();
  /** Finished messages at or above the floor, oldest first. */
  readonly #done = new Set<number>();
  readonly received = new RangeList();
  readonly finished = new RangeList();
  /** An ack flush is scheduled for this sender. */
  flushScheduled = false;

  constructor(nodeId: string) {
    this.nodeId = nodeId;
  }

  /** Raises the floor the sender reported; finished numbers below it are forgotten. */
  advance(floor: number): void {
    if (floor <= this.floor) return;
    this.floor = floor;
    if (this.#done.size > 1024) for (const seq of this.#done) if (seq < floor) this.#done.delete(seq);
  }

  /** Whether `seq` was seen before, and in which state. */
  classify(seq: number): Redelivery {
    if (seq < this.floor || this.#done.has(seq)) return "done";
    return this.open.has(seq) ? "in-progress" : "new";
  }

  get hasAcks(): boolean {
    return !this.received.isEmpty || !this.finished.isEmpty;
  }

  /** Marks `seq` finished: it leaves the open set and is acked as done. */
  finish(seq: number, remember: boolean): void {
    this.open.delete(seq);
    if (remember) {
      this.#done.add(seq);
      if (this.#done.size > MAX_REMEMBERED_DONE) for (const oldest of this.#done) {
        this.#done.delete(oldest);
        break;
      }
    }
    this.finished.add(seq);
  }
}

/** The custody owner of a message that came from another node: when it is safe, its sender hears "done". */
export class RemoteOrigin implements CustodyOwner {
  readonly #state: SenderState;
  readonly #seq: number;
  readonly #onDone: (state: SenderState) => void;

  constructor(state: SenderState, seq: number, onDone: (state: SenderState) => void) {
    this.#state = state;
    this.#seq = seq;
    this.#onDone = onDone;
  }

  childSafe(_delivery: Delivery): void {
    this.#state.finish(this.#seq, true);
    this.#onDone(this.#state);
  }
}
