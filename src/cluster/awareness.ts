// Lifeguard local health awareness: a node that sees signs of its own slowness waits longer before accusing others.

/**
 * How much each observation moves the score. A node that is itself overloaded (GC pause, starved
 * event loop, saturated link) misses acks and nacks through no fault of its peers; raising the
 * score stretches its probe intervals and timeouts, so it stops falsely suspecting healthy nodes.
 */
export const AWARENESS_DELTA = {
  /** A probe was acked, directly or indirectly: evidence that our own timing is fine. */
  probeSucceeded: -1,
  /** A probe failed with no peer to ask for indirect probes, so no nack could tell us anything. */
  probeFailedAlone: 1,
  /** Each nack we expected from an indirect prober and did not get (see `failedProbeDelta`). */
  missedNack: 1,
  /** Someone suspects or declared us dead and we refute it: others think we are slow. */
  refutedSuspicion: 1,
} as const;

/**
 * The score change after a probe that got no ack. Indirect probers answer with a nack when they
 * cannot reach the target either; a missing nack means *we* could not hear a live peer, which
 * points at ourselves. When no indirect probe was possible, the failure alone counts once.
 */
export function failedProbeDelta(expectedNacks: number, receivedNacks: number): number {
  if (expectedNacks <= 0) return AWARENESS_DELTA.probeFailedAlone;
  return Math.max(0, expectedNacks - receivedNacks) * AWARENESS_DELTA.missedNack;
}

export class Awareness {
  /** The score stays in [0, max); a score of s scales timeouts by s + 1, so by at most `max`. */
  readonly max: number;
  #score = 0;

  constructor(max = 8) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Awareness max must be a positive integer, got ${max}`);
    }
    this.max = max;
  }

  /** 0 when healthy; higher means we have seen more signs of our own trouble. */
  get score(): number {
    return this.#score;
  }

  /** Moves the score by `delta`, clamped to [0, max − 1]. */
  apply(delta: number): void {
    if (!Number.isInteger(delta)) {
      throw new RangeError(`Awareness delta must be an integer, got ${delta}`);
    }
    this.#score = Math.min(this.max - 1, Math.max(0, this.#score + delta));
  }

  /** The probe interval or timeout to use now: `baseMs · (score + 1)`. */
  scaleMs(baseMs: number): number {
    return baseMs * (this.#score + 1);
  }
}
