// Lifeguard's suspicion timer: a suspected member is declared dead sooner the more peers independently confirm it.

import type { Clock, TimerHandle } from "../clock.js";

/** memberlist's LAN defaults (design §5); every duration in milliseconds. */
export const LAN_DEFAULTS = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  gossipFanout: 3,
  gossipIntervalMs: 200,
  pushPullIntervalMs: 30_000,
  awarenessMax: 8,
} as const;

/**
 * The shortest and longest suspicion timeouts for a cluster of `n` members. The timeout grows with
 * log10(n) because gossip needs about that many rounds to reach everyone, and a suspected member must
 * hear of its suspicion in time to refute it. Like memberlist, the scale never drops below 1, so
 * clusters of up to 10 members get `suspicionMult` probe intervals rather than (almost) none.
 */
export function suspicionTimeoutsMs(
  n: number,
  probeIntervalMs: number,
  suspicionMult: number = LAN_DEFAULTS.suspicionMult,
  suspicionMaxTimeoutMult: number = LAN_DEFAULTS.suspicionMaxTimeoutMult,
): { minMs: number; maxMs: number } {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  const minMs = suspicionMult * nodeScale * probeIntervalMs;
  return { minMs, maxMs: suspicionMaxTimeoutMult * minMs };
}

/**
 * How many independent confirmations a suspicion waits for in a cluster of `n`: memberlist's
 * `suspicionMult − 2`, or none when too few other members (n − 2) could ever confirm that many.
 */
export function expectedConfirmations(n: number, suspicionMult: number = LAN_DEFAULTS.suspicionMult): number {
  const k = suspicionMult - 2;
  return n - 2 < k ? 0 : Math.max(0, k);
}

/**
 * The suspicion timeout, counted from its start, after `confirmations` of `k` expected:
 * `maxMs` with none, falling logarithmically to `minMs` at `k`. The first confirmations shrink it
 * the most: one extra voice is strong evidence, the k-th adds little.
 */
export function suspicionTimeoutMs(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(minMs, maxMs - (maxMs - minMs) * fraction);
}

export interface SuspicionOptions {
  /** Independent confirmations expected; below 1 the timeout is simply `minMs`. */
  k: number;
  minMs: number;
  maxMs: number;
  /** The node that raised the suspicion; its own later reports are not independent, so never count. */
  from: string;
  clock: Clock;
  /** Called at most once, when the member should be declared dead; never after `stop()`. */
  onTimeout: (confirmations: number) => void;
}

/**
 * The timer for one suspected member. Guarantees: `onTimeout` runs at most once, no earlier than
 * `startedAt + suspicionTimeoutMs(confirmations, …)` for the confirmations counted by then, and never
 * after `stop()`.
 */
export class Suspicion {
  // Fixed after construction.
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly startedAt: number;
  readonly #clock: Clock;
  readonly #onTimeout: (confirmations: number) => void;

  // Mutable state.
  /** Everyone whose word is already counted, starting with the originator. */
  readonly #heardFrom: Set<string>;
  #confirmations = 0;
  #timer: TimerHandle | undefined;
  #over = false;

  constructor(options: SuspicionOptions) {
    const { k, minMs, maxMs } = options;
    if (!Number.isInteger(k)) throw new RangeError(`Suspicion k must be an integer, got ${k}`);
    if (!(minMs >= 0 && maxMs >= minMs)) {
      throw new RangeError(`Suspicion needs 0 <= minMs <= maxMs, got minMs ${minMs}, maxMs ${maxMs}`);
    }
    this.k = k;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.#clock = options.clock;
    this.#onTimeout = options.onTimeout;
    this.#heardFrom = new Set([options.from]);
    this.startedAt = this.#clock.now();
    this.#timer = this.#clock.setTimeout(() => this.#fire(), this.timeoutMs);
  }

  /** Distinct confirmations counted so far, not including the originator. */
  get confirmations(): number {
    return this.#confirmations;
  }

  /** The current timeout, measured from `startedAt`. */
  get timeoutMs(): number {
    return suspicionTimeoutMs(this.#confirmations, this.k, this.minMs, this.maxMs);
  }

  /** False once the timeout fired or `stop()` was called. */
  get active(): boolean {
    return !this.#over;
  }

  /**
   * Counts a confirmation from `fromNodeId` and shortens the timeout. Returns true only when it was
   * counted (new information, worth gossiping on): not from the originator, not a repeat, fewer than
   * `k` so far, and the suspicion still active. If the shortened deadline has already passed,
   * `onTimeout` runs before this returns.
   */
  confirm(fromNodeId: string): boolean {
    if (this.#over || this.#confirmations >= this.k || this.#heardFrom.has(fromNodeId)) return false;
    this.#heardFrom.add(fromNodeId);
    this.#confirmations++;
    this.#cancelTimer();
    const remainingMs = this.startedAt + this.timeoutMs - this.#clock.now();
    if (remainingMs > 0) {
      this.#timer = this.#clock.setTimeout(() => this.#fire(), remainingMs);
    } else {
      this.#fire();
    }
    return true;
  }

  /** Cancels the timer (the member refuted or left); `onTimeout` will not run. Idempotent. */
  stop(): void {
    this.#over = true;
    this.#cancelTimer();
  }

  #fire(): void {
    if (this.#over) return;
    this.#over = true;
    this.#timer = undefined;
    this.#onTimeout(this.#confirmations);
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
