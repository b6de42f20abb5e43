// Vivaldi network coordinates as in HashiCorp serf: learn a position from probe RTTs, estimate the RTT to any node.

/**
 * A node's place in the latency space: a snapshot, frozen, safe to share and to send.
 * Every length is in milliseconds of round-trip time (serf uses seconds; divide by 1000 to compare).
 */
export interface Coordinate {
  /** The Euclidean part; all nodes of a cluster use the same dimensionality. */
  readonly vec: readonly number[];
  /** The non-Euclidean part, ≥ 0: the latency of the node's own access link, paid on every path. */
  readonly height: number;
  /** How wrong this node believes its coordinate is, as a relative error (0.1 ≈ 10 %). */
  readonly error: number;
  /** Half the recent mean of (measured − estimated) RTT: corrects what the embedding cannot fit. */
  readonly adjustment: number;
}

export interface VivaldiConfig {
  /** Euclidean dimensions. More help up to about 7 ("Network Coordinates in the Wild"). */
  dimensionality: number;
  /** The error of a fresh coordinate, and the cap on the error. */
  vivaldiErrorMax: number;
  /** The largest share of one observation's error that enters our error estimate. */
  vivaldiCE: number;
  /** The largest share of one observation's error by which our coordinate moves. */
  vivaldiCC: number;
  /** Observations averaged into the adjustment term; 0 disables it. */
  adjustmentWindowSize: number;
  /** The smallest height; keeps the height positive so it can grow again. */
  heightMinMs: number;
  /** RTT samples per peer whose median is used, to ride out a single slow probe. */
  latencyFilterSize: number;
  /**
   * How weakly coordinates are pulled back to the origin so the system does not drift. serf's
   * default `GravityRho: 150.0` divides a distance in *seconds*, so it is 150 s, not 150 ms.
   */
  gravityRhoMs: number;
  /** Samples above this are rejected as bogus (serf: 10 s). */
  maxRttMs: number;
  /** Peers whose RTT samples we keep; the least recently updated is forgotten beyond this. */
  maxTrackedPeers: number;
}

/** serf's defaults, converted to milliseconds; `maxTrackedPeers` is ours (serf keeps every peer). */
export const DEFAULT_VIVALDI_CONFIG: Readonly<VivaldiConfig> = Object.freeze({
  dimensionality: 8,
  vivaldiErrorMax: 1.5,
  vivaldiCE: 0.25,
  vivaldiCC: 0.25,
  adjustmentWindowSize: 20,
  heightMinMs: 0.01,
  latencyFilterSize: 3,
  gravityRhoMs: 150_000,
  maxRttMs: 10_000,
  maxTrackedPeers: 1024,
});

/**
 * The largest |vec|, height or |adjustment| accepted from a peer. Honest coordinates stay within
 * about the largest RTT (≤ 10 s); anything far beyond is a bug or an attack, and one such value
 * would fling our own coordinate away.
 */
export const MAX_COORDINATE_MS = 100_000;

/** serf's 1 µs: below it two positions coincide and an RTT counts as this small. */
const ZERO_MS = 1e-3;
/** serf computes gravity in seconds: force = −(distance / ρ)² seconds. We keep that force, in ms. */
const MS_PER_SECOND = 1000;

/**
 * True when `value` is a coordinate we can learn from: `dimensionality` finite components with
 * |vec| ≤ MAX_COORDINATE_MS, 0 ≤ height ≤ MAX_COORDINATE_MS, |adjustment| ≤ MAX_COORDINATE_MS, and
 * a finite error ≥ 0 (a negative error would turn the weight of the sample upside down).
 */
export function isValidCoordinate(
  value: unknown,
  dimensionality = DEFAULT_VIVALDI_CONFIG.dimensionality,
): value is Coordinate {
  if (typeof value !== "object" || value === null) return false;
  const { vec, height, error, adjustment } = value as Record<string, unknown>;
  if (!Array.isArray(vec) || vec.length !== dimensionality) return false;
  for (let i = 0; i < dimensionality; i++) if (!Number.isFinite(vec[i])) return false; // also rejects holes
  if (magnitude(vec as number[]) > MAX_COORDINATE_MS) return false;
  return (
    isNumberIn(height, 0, MAX_COORDINATE_MS) &&
    isNumberIn(adjustment, -MAX_COORDINATE_MS, MAX_COORDINATE_MS) &&
    isNumberIn(error, 0, Number.MAX_VALUE)
  );
}

/**
 * The estimated RTT between two nodes: the Euclidean distance plus both heights, plus both
 * adjustments unless that would make it ≤ 0. Symmetric, and never negative.
 */
export function estimateRttMs(a: Coordinate, b: Coordinate): number {
  const raw = rawDistanceMs(a, b);
  const adjusted = raw + (a.adjustment + b.adjustment);
  return adjusted > 0 ? adjusted : Math.max(0, raw);
}

/** Counters a metrics collector reads. */
export interface VivaldiStats {
  /** Samples ignored: an invalid peer coordinate, or an RTT that is not a number in [0, maxRttMs]. */
  rejectedSamples: number;
  /** Times our coordinate went invalid anyway and was reset to the origin. */
  resets: number;
}

/**
 * Learns this node's coordinate from (peer coordinate, measured RTT) samples, e.g. the acks of
 * membership probes. Not a failure detector: it never decides anything about the peer.
 */
export class VivaldiClient {
  // Fixed after construction.
  readonly config: Readonly<VivaldiConfig>;
  readonly #random: () => number;
  readonly #origin: Coordinate;

  // Mutable state.
  #coordinate: Coordinate;
  /** Recent RTTs per peer, oldest first; Map order is least recently updated first. */
  readonly #rttSamples = new Map<string, number[]>();
  readonly #adjustmentSamples: Float64Array;
  #adjustmentIndex = 0;
  readonly #stats: VivaldiStats = { rejectedSamples: 0, resets: 0 };

  /** `random` (in [0, 1)) picks a direction when two coordinates coincide; inject a seeded one in tests. */
  constructor(options: Partial<VivaldiConfig> = {}, random: () => number = Math.random) {
    this.config = Object.freeze(checkConfig({ ...DEFAULT_VIVALDI_CONFIG, ...options }));
    this.#random = random;
    this.#origin = this.#fresh();
    this.#coordinate = this.#origin;
    this.#adjustmentSamples = new Float64Array(this.config.adjustmentWindowSize);
  }

  /** Our current coordinate; a new snapshot after every accepted sample. */
  get coordinate(): Coordinate {
    return this.#coordinate;
  }

  get stats(): Readonly<VivaldiStats> {
    return { ...this.#stats };
  }

  /** Peers whose RTT samples are kept; at most `maxTrackedPeers`. */
  get trackedPeers(): number {
    return this.#rttSamples.size;
  }

  /**
   * Learns from one probe of `peerId`, which reported `peerCoordinate`, answered in `rttMs`.
   * A sample with an invalid coordinate or RTT is ignored (counted in `stats`) and changes nothing.
   * Returns our coordinate afterwards.
   */
  update(peerId: string, peerCoordinate: Coordinate, rttMs: number): Coordinate {
    const { config } = this;
    if (!isValidCoordinate(peerCoordinate, config.dimensionality) || !isNumberIn(rttMs, 0, config.maxRttMs)) {
      this.#stats.rejectedSamples++;
      return this.#coordinate;
    }
    const filteredRttMs = Math.max(this.#medianRttMs(peerId, rttMs), ZERO_MS);
    let next = this.#applyVivaldi(this.#coordinate, peerCoordinate, filteredRttMs);
    next = this.#applyAdjustment(next, peerCoordinate, filteredRttMs);
    // Gravity: a weak pull toward the origin, growing with the square of the distance from it.
    const fromOriginMs = estimateRttMs(this.#origin, next);
    const gravity = -MS_PER_SECOND * (fromOriginMs / config.gravityRhoMs) ** 2;
    next = this.#applyForce(next, gravity, this.#origin);
    if (!isValidCoordinate(next, config.dimensionality)) {
      // Never keep (or send) a coordinate our peers would reject.
      this.#stats.resets++;
      this.#adjustmentSamples.fill(0);
      next = this.#origin;
    }
    this.#coordinate = Object.freeze({ ...next, vec: Object.freeze(next.vec) });
    return this.#coordinate;
  }

  /** Drops the RTT samples of a peer that left the cluster. */
  forgetPeer(peerId: string): void {
    this.#rttSamples.delete(peerId);
  }

  #fresh(): Coordinate {
    const vec = Object.freeze(new Array<number>(this.config.dimensionality).fill(0));
    return Object.freeze({ vec, height: this.config.heightMinMs, error: this.config.vivaldiErrorMax, adjustment: 0 });
  }

  /** Adds the sample to the peer's window and returns the window's median (the upper one if even). */
  #medianRttMs(peerId: string, rttMs: number): number {
    const samples = this.#rttSamples.get(peerId) ?? [];
    this.#rttSamples.delete(peerId); // re-inserted below, as the most recently updated
    samples.push(rttMs);
    if (samples.length > this.config.latencyFilterSize) samples.shift();
    this.#rttSamples.set(peerId, samples);
    if (this.#rttSamples.size > this.config.maxTrackedPeers) {
      const oldest = this.#rttSamples.keys().next().value as string;
      this.#rttSamples.delete(oldest);
    }
    const sorted = [...samples].sort((x, y) => x - y);
    return sorted[sorted.length >> 1]!;
  }

  /** The spring step: move along the line to the peer by a share of the error, weighted by confidence. */
  #applyVivaldi(own: Coordinate, peer: Coordinate, rttMs: number): Coordinate {
    const { vivaldiCE, vivaldiCC, vivaldiErrorMax } = this.config;
    const distMs = estimateRttMs(own, peer);
    const wrongness = Math.abs(distMs - rttMs) / rttMs;
    // Trust the sample more when we are unsure of ourselves and the peer is sure of itself.
    const weight = own.error / Math.max(own.error + peer.error, 1e-6);
    const error = Math.min(vivaldiCE * weight * wrongness + own.error * (1 - vivaldiCE * weight), vivaldiErrorMax);
    return this.#applyForce({ ...own, error }, vivaldiCC * weight * (rttMs - distMs), peer);
  }

  /** Keeps a window of (measured − raw estimate); half its mean is our share of the correction. */
  #applyAdjustment(own: Coordinate, peer: Coordinate, rttMs: number): Coordinate {
    const size = this.config.adjustmentWindowSize;
    if (size === 0) return own;
    this.#adjustmentSamples[this.#adjustmentIndex] = rttMs - rawDistanceMs(own, peer);
    this.#adjustmentIndex = (this.#adjustmentIndex + 1) % size;
    let sum = 0;
    for (const sample of this.#adjustmentSamples) sum += sample;
    return { ...own, adjustment: sum / (2 * size) };
  }

  /** Moves `own` by `force` ms away from `other` (toward it if negative); the height takes its share. */
  #applyForce(own: Coordinate, force: number, other: Coordinate): Coordinate {
    const diff = own.vec.map((x, i) => x - other.vec[i]!);
    const distMs = magnitude(diff);
    const unit = distMs > ZERO_MS ? diff.map((x) => x / distMs) : this.#randomUnit();
    const vec = own.vec.map((x, i) => x + unit[i]! * force);
    if (distMs <= ZERO_MS) return { ...own, vec };
    const height = Math.max(own.height + (force * (own.height + other.height)) / distMs, this.config.heightMinMs);
    return { ...own, vec, height };
  }

  /** A random direction, used to push apart two coordinates that sit on the same point. */
  #randomUnit(): number[] {
    const vec = Array.from({ length: this.config.dimensionality }, () => this.#random() - 0.5);
    const length = magnitude(vec);
    if (length > ZERO_MS) return vec.map((x) => x / length);
    return vec.map((_, i) => (i === 0 ? 1 : 0));
  }
}

function rawDistanceMs(a: Coordinate, b: Coordinate): number {
  let sum = 0;
  for (let i = 0; i < a.vec.length; i++) {
    const d = a.vec[i]! - b.vec[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum) + a.height + b.height;
}

function magnitude(vec: readonly number[]): number {
  let sum = 0;
  for (const x of vec) sum += x * x;
  return Math.sqrt(sum);
}

function isNumberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max;
}

function checkConfig(config: VivaldiConfig): VivaldiConfig {
  const integers = ["dimensionality", "latencyFilterSize", "maxTrackedPeers"] as const;
  for (const key of integers) {
    if (!Number.isInteger(config[key]) || config[key] < 1) {
      throw new RangeError(`Vivaldi ${key} must be a positive integer, got ${config[key]}`);
    }
  }
  if (!Number.isInteger(config.adjustmentWindowSize) || config.adjustmentWindowSize < 0) {
    throw new RangeError(`Vivaldi adjustmentWindowSize must be an integer ≥ 0, got ${config.adjustmentWindowSize}`);
  }
  // Gains above 1 overshoot: the error estimate could go negative and the coordinate oscillate.
  for (const key of ["vivaldiCE", "vivaldiCC"] as const) {
    if (!isNumberIn(config[key], Number.MIN_VALUE, 1)) {
      throw new RangeError(`Vivaldi ${key} must be a number in (0, 1], got ${config[key]}`);
    }
  }
  const positives = ["vivaldiErrorMax", "heightMinMs", "gravityRhoMs", "maxRttMs"] as const;
  for (const key of positives) {
    if (!isNumberIn(config[key], Number.MIN_VALUE, Number.MAX_VALUE)) {
      throw new RangeError(`Vivaldi ${key} must be a finite number > 0, got ${config[key]}`);
    }
  }
  return config;
}
