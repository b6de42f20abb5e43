// Runs mailbox drains on microtasks for speed, but yields to the event loop after a budget so I/O and timers still run.

/**
 * Message handlers that publish to each other could otherwise keep the microtask queue busy forever
 * and starve sockets and timers. After `budget` messages in one event-loop turn, further drains go
 * through setImmediate, which lets the loop breathe before continuing.
 */
/**
 * Drains run as reactions to one settled promise rather than through queueMicrotask: both are
 * microtasks, but Node wraps each queueMicrotask callback for async context tracking, which measured
 * at about a tenth of a local request's cost.
 */
const RESOLVED = Promise.resolve();

export class DrainScheduler {
  readonly #budget: number;
  #dispatched = 0;
  #resetArmed = false;
  readonly #reset = () => {
    this.#dispatched = 0;
    this.#resetArmed = false;
  };

  constructor(budget = 2048) {
    this.#budget = budget;
  }

  schedule(drain: () => void): void {
    if (this.#dispatched < this.#budget) RESOLVED.then(drain);
    else setImmediate(drain);
  }

  /** True while this turn may still dispatch at once; when it does, the caller counts what it ran. */
  get hasBudget(): boolean {
    return this.#dispatched < this.#budget;
  }

  /** Counts messages dispatched in this turn; the count resets once the event loop gets a turn. */
  count(messages: number): void {
    this.#dispatched += messages;
    if (!this.#resetArmed) {
      this.#resetArmed = true;
      setImmediate(this.#reset);
    }
  }
}
