// Publishers waiting for room in a full queue: bounded, FIFO, timed out by one sweeping timer.

import type { KaffixError } from "../errors.js";
import type { Clock, TimerHandle } from "../clock.js";
import type { Delivery } from "./delivery.js";
import { RingQueue } from "./ring-queue.js";

interface Waiter {
  delivery: Delivery;
  deadline: number;
  resolve(): void;
  reject(error: KaffixError): void;
  done: boolean;
}

/** How late a waiting publisher may learn that its deadline passed. */
const SWEEP_MS = 10;

/**
 * Back-pressure without a timer per waiting publisher: under sustained overload every publish waits,
 * and a timer each would cost more than the message. A sweep every 10 ms fails the expired ones.
 */
export class WaitingPublishers {
  readonly #clock: Clock;
  readonly #waiters: RingQueue<Waiter>;
  /** Waiters not yet admitted, timed out or cancelled; the ring may also hold finished ones. */
  #live = 0;
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, capacity: number) {
    this.#clock = clock;
    this.#waiters = new RingQueue(capacity);
  }

  get length(): number {
    return this.#live;
  }

  get isFull(): boolean {
    return this.#waiters.isFull;
  }

  /** Waits until `admit` takes the delivery, or fails with `onTimeout()` once `waitMs` has passed. */
  wait(delivery: Delivery, waitMs: number, onTimeout: () => KaffixError): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({
        delivery,
        deadline: this.#clock.now() + waitMs,
        resolve,
        reject,
        done: false,
      });
      this.#live++;
      if (this.#timer === undefined) this.#arm(onTimeout);
    });
  }

  /** The oldest live waiter's delivery, its publisher told it was accepted; undefined when none waits. */
  admit(): Delivery | undefined {
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) {
      if (w.done) continue;
      w.done = true;
      this.#live--;
      w.resolve();
      return w.delivery;
    }
    return undefined;
  }

  /** Fails every waiter with `error`. */
  rejectAll(error: KaffixError): void {
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) {
      if (w.done) continue;
      w.done = true;
      w.reject(error);
    }
    this.#live = 0;
    this.#disarm();
  }

  #arm(onTimeout: () => KaffixError): void {
    this.#timer = this.#clock.setTimeout(() => this.#sweep(onTimeout), SWEEP_MS);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sweep(onTimeout: () => KaffixError): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    const waiters = this.#waiters;
    // Rotate through the ring once, dropping the expired and the finished.
    for (let i = waiters.length; i > 0; i--) {
      const w = waiters.shift()!;
      if (w.done) continue;
      if (w.deadline <= now) {
        w.done = true;
        this.#live--;
        w.reject(onTimeout());
      } else {
        waiters.push(w);
      }
    }
    if (this.#live > 0) this.#arm(onTimeout);
  }
}
