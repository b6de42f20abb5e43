// At most one log line per reason per interval, so that a flood of bad connections cannot fill a disk.

import type { Clock } from "../clock.js";

interface Window {
  openedAt: number;
  suppressed: number;
}

export class LogLimiter {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #maxReasons: number;
  readonly #windows = new Map<string, Window>();

  /** Reasons beyond `maxReasons` distinct ones within an interval share one budget. */
  constructor(clock: Clock, intervalMs = 10_000, maxReasons = 64) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#maxReasons = maxReasons;
  }

  /**
   * Returns how many lines for `reason` were suppressed since the last one that was let through, or
   * undefined when this one must be suppressed too.
   */
  admit(reason: string): number | undefined {
    const now = this.#clock.now();
    if (!this.#windows.has(reason) && this.#windows.size >= this.#maxReasons) {
      for (const [key, window] of this.#windows) if (now - window.openedAt >= this.#intervalMs) this.#windows.delete(key);
      if (this.#windows.size >= this.#maxReasons) reason = "(other reasons)";
    }
    const window = this.#windows.get(reason);
    if (window === undefined) {
      this.#windows.set(reason, { openedAt: now, suppressed: 0 });
      return 0;
    }
    if (now - window.openedAt < this.#intervalMs) {
      window.suppressed++;
      return undefined;
    }
    const suppressed = window.suppressed;
    window.openedAt = now;
    window.suppressed = 0;
    return suppressed;
  }
}
