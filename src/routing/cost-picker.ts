// Picks where one message for a service goes: the cheaper of a few sampled remotes (power of two
// choices, Prequal-style cost), unless this node's own mailbox is about as cheap. Pure; runs per message.

export interface Candidate<D> {
  readonly destination: D;
  readonly nodeId: string;
  /** True for this node's own mailbox. */
  readonly local: boolean;
  /** Estimated round trip to the node in ms (0 for local). */
  readonly rttMs: number;
  /**
   * Messages for this service already in flight or queued there, as far as this node knows
   * (including the ones this node sent and that are not acknowledged yet).
   */
  readonly outstanding: number;
  /** Relative capacity of the node (> 0; e.g. cores × weight). */
  readonly capacity: number;
  /** Estimated handler time per message on that node, ms (0 when unknown: a floor applies). */
  readonly serviceTimeMs: number;
}

export interface PickOptions {
  /** Remote candidates sampled per pick (default 2; values below 1 count as 1). */
  sample?: number;
  /** Local wins when its cost ≤ best × (1 + localSlack) + localSlackMs (default 0.05). */
  localSlack?: number;
  /**
   * Absolute slack added to the relative one (default 0.02 ms). With tiny costs — an idle node, a
   * zero-rtt test cluster — a 5 % margin of a few microseconds is below estimation noise, and
   * leaving the node for it costs more than it saves.
   */
  localSlackMs?: number;
}

/** Handler time assumed when a node has no estimate yet: small, but enough to make queue depth count. */
export const SERVICE_TIME_FLOOR_MS = 0.05;
const DEFAULT_SAMPLE = 2;
const DEFAULT_LOCAL_SLACK = 0.05;
const DEFAULT_LOCAL_SLACK_MS = 0.02;

/**
 * Expected time until a message sent now is handled: the trip there plus the wait behind the
 * work already queued, shared over the node's capacity. A node without a positive capacity costs
 * Infinity, so it is only chosen when nothing else is available.
 */
export function estimateCostMs(c: Candidate<unknown>): number {
  if (!(c.capacity > 0)) return Infinity;
  const rttMs = c.rttMs > 0 ? c.rttMs : 0;
  const outstanding = c.outstanding > 0 ? c.outstanding : 0;
  const serviceTimeMs = c.serviceTimeMs > SERVICE_TIME_FLOOR_MS ? c.serviceTimeMs : SERVICE_TIME_FLOOR_MS;
  const costMs = rttMs + ((outstanding + 1) / c.capacity) * serviceTimeMs;
  return Number.isNaN(costMs) ? Infinity : costMs; // Infinity × 0 and the like: never a NaN to compare
}

/**
 * The candidate for one message, or undefined for an empty list. Always returns an element of
 * `candidates`, and throws only if `random` does.
 *
 * The first candidate marked `local` competes as this node's mailbox; any other is sampled like a
 * remote (there should be at most one). When there are more remotes than `sample`, `random` is
 * called once per sampled remote; it is called once more per exact tie. It may return 1.
 */
export function pickByCost<D>(
  candidates: readonly Candidate<D>[],
  random: () => number,
  options?: PickOptions,
): Candidate<D> | undefined {
  const count = candidates.length;
  if (count <= 1) return candidates[0];

  let localIndex = -1;
  for (let i = 0; i < count; i++) {
    if (candidates[i]!.local) {
      localIndex = i;
      break;
    }
  }
  const remoteCount = localIndex < 0 ? count : count - 1;
  const requested = options?.sample ?? DEFAULT_SAMPLE;
  const sample = requested >= 1 ? Math.floor(requested) : 1;
  const everyRemote = remoteCount <= sample;
  const evaluated = everyRemote ? remoteCount : sample;

  let best: Candidate<D> | undefined;
  let bestCostMs = Infinity;
  let ties = 0;
  for (let step = 0; step < evaluated; step++) {
    const ordinal = everyRemote ? step : drawOrdinal(remoteCount - sample + step, step, random);
    // Remote ordinals skip the local candidate's slot.
    const c = candidates[localIndex >= 0 && ordinal >= localIndex ? ordinal + 1 : ordinal]!;
    const costMs = estimateCostMs(c);
    if (best === undefined || costMs < bestCostMs || (costMs === bestCostMs && c.rttMs < best.rttMs)) {
      best = c;
      bestCostMs = costMs;
      ties = 1;
    } else if (costMs === bestCostMs && !(c.rttMs > best.rttMs) && random() * ++ties < 1) {
      best = c; // an exact tie: each of the tied candidates ends up chosen with equal chance
    }
  }

  if (localIndex < 0) return best;
  const local = candidates[localIndex]!;
  if (best === undefined) return local;
  const slack = options?.localSlack ?? DEFAULT_LOCAL_SLACK;
  const slackMs = options?.localSlackMs ?? DEFAULT_LOCAL_SLACK_MS;
  return estimateCostMs(local) <= bestCostMs * (1 + slack) + slackMs ? local : best;
}

// Ordinals already drawn in the current pick: Floyd's sampling needs a membership test. Reused
// across calls so that a pick allocates nothing; safe because a pick never yields, and `random` has
// no reason to call back into pickByCost.
let drawn = new Int32Array(8);

/**
 * Step `taken` of Floyd's algorithm: a uniform ordinal in [0, limit], or `limit` itself when that
 * one was drawn already. Over `sample` steps this yields `sample` distinct, uniformly chosen ordinals.
 */
function drawOrdinal(limit: number, taken: number, random: () => number): number {
  let ordinal = Math.floor(random() * (limit + 1));
  if (!(ordinal <= limit)) ordinal = limit; // random() returned 1 (or NaN)
  if (ordinal < 0) ordinal = 0;
  for (let k = 0; k < taken; k++) {
    if (drawn[k] === ordinal) {
      ordinal = limit;
      break;
    }
  }
  if (taken >= drawn.length) {
    // Only for a `sample` above 8; grows once and stays.
    const larger = new Int32Array(drawn.length * 2);
    larger.set(drawn);
    drawn = larger;
  }
  drawn[taken] = ordinal;
  return ordinal;
}
