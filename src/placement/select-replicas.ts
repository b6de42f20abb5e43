// Picks a service's nodes from ranked candidates: one per region first when there are several, then the best of the rest.

/** Ranks two node indices: negative when `a` is better. Must be a strict total order (no ties left). */
export type Ranking = (a: number, b: number) => number;

export interface Selection {
  /** Chosen nodes in pick order: the `regionSpread` region heads first, then the best of the rest. */
  readonly picked: number[];
  readonly regionSpread: number;
}

/**
 * With candidates in two or more regions and `replicas` ≥ 2, first the best node of each of the
 * min(replicas, regions) regions whose best nodes rank best (redundancy: losing a region leaves a
 * replica), then the best remaining candidates up to `replicas`. Only nodes `worthSpreading` (not
 * far costlier than the best) can head a region, so a region with none is not covered for its own sake.
 *
 * The result is the best-ranked set among those covering that many regions. So when the nodes
 * chosen rank better in the next round (a current replica gets the hysteresis bonus) and the
 * others no better, the same set comes out again: the planner's fixed point rests on this.
 */
export function selectReplicas(
  candidates: readonly number[],
  replicas: number,
  regionOf: (node: number) => number,
  better: Ranking,
  worthSpreading: (node: number) => boolean = () => true,
): Selection {
  if (replicas <= 0 || candidates.length === 0) return { picked: [], regionSpread: 0 };
  // Region heads come only from nodes worth spreading to (a set that does not depend on the current
  // placement), so a current replica's bonus cannot turn a region into one that is covered.
  const heads = new Map<number, number>();
  for (const node of candidates) {
    if (!worthSpreading(node)) continue;
    const region = regionOf(node);
    const head = heads.get(region);
    if (head === undefined || better(node, head) < 0) heads.set(region, node);
  }
  const spread = heads.size >= 2 && replicas >= 2 ? bestOf([...heads.values()], Math.min(replicas, heads.size), better) : [];
  const rest = bestOf(candidates, replicas - spread.length, better, new Set(spread));
  return { picked: [...spread, ...rest], regionSpread: spread.length };
}

// Below this many, an insertion into a short sorted list beats sorting every candidate.
const INSERTION_LIMIT = 24;

/** The `count` best of `items` (skipping `skip`), best first. */
export function bestOf(items: readonly number[], count: number, better: Ranking, skip?: ReadonlySet<number>): number[] {
  if (count <= 0) return [];
  if (count > INSERTION_LIMIT) {
    const pool = skip === undefined ? [...items] : items.filter((item) => !skip.has(item));
    return pool.sort(better).slice(0, count);
  }
  const best: number[] = [];
  for (const item of items) {
    if (skip?.has(item)) continue;
    if (best.length === count && better(item, best[count - 1]!) >= 0) continue;
    let at = best.length === count ? count - 1 : best.push(item) - 1;
    while (at > 0 && better(item, best[at - 1]!) < 0) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = item;
  }
  return best;
}
