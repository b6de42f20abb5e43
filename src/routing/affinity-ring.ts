// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam): the same affinity key reaches
// the same node while membership is stable, and a hot key spills clockwise instead of swamping one node.

import { KaffixError } from "../errors.js";
import { hash32 } from "../hash.js";

export interface AffinityRingOptions {
  /** Points per node on the ring (default 64): more points, a more even share of keys. */
  virtualNodes?: number;
  /** How far above the average load a node may go before keys spill past it (default 0.25). */
  epsilon?: number;
}

// Ring points are sorted as one float each: hash × 2^21 + node index, exact below 2^53. This orders
// equal hashes by node index, so every node that sees the same set builds the same ring.
const INDEX_BITS = 2 ** 21;

export class AffinityRing {
  // Fixed after construction.
  readonly #virtualNodes: number;
  readonly #epsilon: number;

  // Replaced together by setNodes.
  #nodeIds: readonly string[] = []; // sorted, distinct
  #members = new Set<string>();
  #lastInput: readonly string[] = []; // a copy of the last argument, for the no-change fast path
  #pointHashes = new Uint32Array(0); // sorted ascending
  #pointNodes = new Uint32Array(0); // index into #nodeIds, parallel to #pointHashes

  // Per pick: nodes already offered to `load`, marked with the pick's number.
  #seen = new Uint32Array(0);
  #pickNumber = 0;

  constructor(options: AffinityRingOptions = {}) {
    const virtualNodes = options.virtualNodes ?? 64;
    const epsilon = options.epsilon ?? 0.25;
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > 4096) {
      throw new KaffixError("INVALID_ARGUMENT", `virtualNodes must be an integer from 1 to 4096, got ${virtualNodes}`);
    }
    if (!(epsilon >= 0) || epsilon === Infinity) {
      throw new KaffixError("INVALID_ARGUMENT", `epsilon must be a finite number ≥ 0, got ${epsilon}`);
    }
    this.#virtualNodes = virtualNodes;
    this.#epsilon = epsilon;
  }

  /**
   * Replaces the node set. Order and duplicates do not matter: the same set always gives the same
   * ring. When the set did not change this only compares, so it is fine to call on every update.
   */
  setNodes(nodeIds: readonly string[]): void {
    if (this.#sameAsLast(nodeIds)) return;
    const members = new Set(nodeIds);
    if (members.size !== this.#members.size || [...members].some((id) => !this.#members.has(id))) {
      if (members.size >= INDEX_BITS) {
        throw new KaffixError("INVALID_ARGUMENT", `an affinity ring holds at most ${INDEX_BITS - 1} nodes`);
      }
      this.#members = members;
      this.#nodeIds = [...members].sort();
      this.#build();
    }
    this.#lastInput = nodeIds.slice();
  }

  /** How many distinct nodes are on the ring. */
  get size(): number {
    return this.#nodeIds.length;
  }

  /**
   * The node for `key`: walking clockwise from hash32(key), the first node whose load is under
   * ceil((1 + epsilon) × (totalLoad + 1) / size); undefined when there are no nodes.
   *
   * `load` is called at most once per node, in walk order, and must not call back into this ring.
   * When `totalLoad` is the sum of the loads some node is always under the cap; if the caller's
   * numbers disagree and every node is at the cap, the least loaded one (first in walk order) is returned.
   */
  pick(key: string, load: (nodeId: string) => number, totalLoad: number): string | undefined {
    const nodeCount = this.#nodeIds.length;
    if (nodeCount === 0) return undefined;
    const cap = Math.ceil(((1 + this.#epsilon) * (totalLoad + 1)) / nodeCount);

    const pickNumber = this.#nextPickNumber();
    const hashes = this.#pointHashes;
    const pointCount = hashes.length;
    let point = lowerBound(hashes, hash32(key));
    let fallback = -1;
    let fallbackLoad = Infinity;
    for (let visited = 0; visited < nodeCount; point++) {
      if (point === pointCount) point = 0;
      const node = this.#pointNodes[point]!;
      if (this.#seen[node] === pickNumber) continue;
      this.#seen[node] = pickNumber;
      visited++;
      const nodeLoad = load(this.#nodeIds[node]!);
      if (nodeLoad < cap) return this.#nodeIds[node];
      if (fallback < 0 || nodeLoad < fallbackLoad) {
        fallback = node;
        fallbackLoad = nodeLoad;
      }
    }
    return this.#nodeIds[fallback];
  }

  #sameAsLast(nodeIds: readonly string[]): boolean {
    const last = this.#lastInput;
    if (nodeIds.length !== last.length) return false;
    for (let i = 0; i < last.length; i++) if (nodeIds[i] !== last[i]) return false;
    return true;
  }

  #build(): void {
    const nodeCount = this.#nodeIds.length;
    const keys = new Float64Array(nodeCount * this.#virtualNodes);
    let k = 0;
    for (let node = 0; node < nodeCount; node++) {
      const prefix = `${this.#nodeIds[node]}\u0000`;
      for (let v = 0; v < this.#virtualNodes; v++) keys[k++] = hash32(prefix + v) * INDEX_BITS + node;
    }
    keys.sort();
    this.#pointHashes = new Uint32Array(keys.length);
    this.#pointNodes = new Uint32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const node = keys[i]! % INDEX_BITS;
      this.#pointNodes[i] = node;
      this.#pointHashes[i] = (keys[i]! - node) / INDEX_BITS;
    }
    this.#seen = new Uint32Array(nodeCount);
    this.#pickNumber = 0;
  }

  #nextPickNumber(): number {
    if (this.#pickNumber === 0xffff_ffff) {
      this.#seen.fill(0);
      this.#pickNumber = 0;
    }
    return ++this.#pickNumber;
  }
}

/** Index of the first value ≥ `target` in the ascending `values`, or values.length when none is. */
function lowerBound(values: Uint32Array, target: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! < target) low = middle + 1;
    else high = middle;
  }
  return low;
}
