// The router's choices in the mean: which region a remote pick lands in (the cheaper of a random pair, softly), and how a region's replicas fill up.

/** Relative spread of a choice's live cost around its mean, as the picker sees it (in-flight counts are about Poisson). */
export const COST_NOISE = 0.25;

/**
 * Share of picks per tier (region) when a pair of distinct replicas is drawn uniformly and the
 * cheaper tier of the two wins, softly; a single replica takes every pick, none takes none.
 */
export function pairMasses(counts: readonly number[], costs: readonly number[]): Float64Array {
  const mass = new Float64Array(counts.length);
  const m = counts.reduce((a, b) => a + b, 0);
  if (m === 0) return mass;
  if (m === 1) {
    mass[counts.findIndex((c) => c === 1)] = 1;
    return mass;
  }
  const pairs = (m * (m - 1)) / 2;
  for (let a = 0; a < counts.length; a++) {
    const n = counts[a]!;
    mass[a]! += (n * (n - 1)) / 2 / pairs;
    for (let b = a + 1; b < counts.length; b++) {
      const p = (n * counts[b]!) / pairs;
      if (p === 0) continue;
      const aWins = cheaperChance(costs[a]!, costs[b]!);
      mass[a]! += p * aWins;
      mass[b]! += p * (1 - aWins);
    }
  }
  return mass;
}

/** Chance that the picker finds a choice of mean cost `a` cheaper than one of mean cost `b`. */
export function cheaperChance(a: number, b: number): number {
  const spread = COST_NOISE * ((a + b) / 2) + 1e-9;
  return normalCdf((b - a) / spread);
}

/** Φ, the standard normal distribution function (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * Fills one region's replicas of a service with `total` messages per second: each keeps what it
 * keeps anyway (`kept`, calls from its own node), and the rest tops them up so that every replica
 * carries at least `level × spare` (spare: capacity not used by other work), the level chosen so
 * the rates add up to `total`. Returns the rates (exact: the replicas sorted by kept / spare).
 */
export function fillTier(kept: Float64Array, spare: Float64Array, total: number): Float64Array {
  const m = kept.length;
  const rate = new Float64Array(m);
  let keptTotal = 0;
  let spareTotal = 0;
  for (let i = 0; i < m; i++) {
    keptTotal += kept[i]!;
    spareTotal += spare[i]!;
  }
  const extra = total - keptTotal;
  if (!(extra > 1e-12) || !(spareTotal > 0)) return rate.fill(0).map((_, i) => kept[i]!);
  let level: number;
  if (keptTotal === 0) {
    level = total / spareTotal;
  } else {
    // Rates are max(kept, level × spare): below a replica's threshold kept / spare it keeps its own.
    const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => kept[a]! / spare[a]! - kept[b]! / spare[b]!);
    let lowSpare = 0; // spare of the replicas below the level
    let highKept = keptTotal; // kept of those above it
    level = total / spareTotal;
    for (let j = 0; j < m; j++) {
      const i = order[j]!;
      lowSpare += spare[i]!;
      highKept -= kept[i]!;
      const candidate = (total - highKept) / lowSpare;
      const next = j + 1 < m ? kept[order[j + 1]!]! / spare[order[j + 1]!]! : Infinity;
      if (candidate <= next) {
        level = candidate;
        break;
      }
    }
  }
  for (let i = 0; i < m; i++) rate[i] = Math.max(kept[i]!, level * spare[i]!);
  return rate;
}
