// A bounded list of messages that could not be processed, newest last, oldest dropped first.

import type { WireError } from "../errors.js";
import { RingQueue } from "./ring-queue.js";

export interface DeadLetter {
  service: string;
  message: unknown;
  error: WireError;
  attempts: number;
  /** Wall-clock time it was dead-lettered, ISO 8601. */
  at: string;
}

export class DeadLetters {
  #entries: RingQueue<DeadLetter>;
  #total = 0;

  constructor(limit: number) {
    this.#entries = new RingQueue(limit);
  }

  /** Dead letters recorded since start, including those the bound has since dropped. */
  get total(): number {
    return this.#total;
  }

  add(entry: DeadLetter): void {
    this.#total++;
    if (this.#entries.isFull) this.#entries.shift();
    this.#entries.push(entry);
  }

  list(): DeadLetter[] {
    const out = this.#entries.drain();
    for (const entry of out) this.#entries.push(entry);
    return out;
  }
}
