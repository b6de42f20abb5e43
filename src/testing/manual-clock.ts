// A clock that moves only when a test says so: timeouts, retries and deadlines without sleeping.

import type { Clock, TimerHandle } from "../clock.js";

interface Timer {
  at: number;
  order: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #order = 0;
  #timers = new Set<Timer>();

  constructor(startMs = 1_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, delayMs), order: this.#order++, fn };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as Timer);
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; between timers it lets pending promise
   * callbacks and immediates run, so work a timer starts can schedule the next one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.order < next.order))) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(next);
      this.#now = next.at;
      next.fn();
      await settle();
    }
    this.#now = target;
  }
}

/** Lets queued microtasks and immediates run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
