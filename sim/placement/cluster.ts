// The simulated cluster: nodes with capacities and regions, an RTT matrix by region, who is up, and the load it serves.

/** Regions 20 ms apart, 0.2 ms within one (0 from a node to itself). */
export const REGIONS = ["eu-west", "us-east", "ap-south"] as const;
export const ACROSS_REGIONS_MS = 20;
export const WITHIN_REGION_MS = 0.2;
/** A database call from its own region: ~1 ms (0.5 fixed + an exponential mean 0.5). */
export const DB_BASE_MS = 0.5;
export const DB_JITTER_MS = 0.5;
/** How long a crashed node stays "suspect" before membership declares it dead (SWIM with Lifeguard: seconds). */
export const DETECTION_MS = 8_000;

export type NodeState = "up" | "crashed" | "left";

export interface SimNode {
  readonly index: number;
  readonly id: string;
  readonly region: number;
  /** Cores × weight: busy seconds per second it sustains. */
  readonly capacity: number;
  state: NodeState;
  /** When it crashed (state "crashed"). */
  crashedAtMs: number;
}

/** The capacities of a region's nodes cycle through these (1, 2 and 4 cores), so regions stay alike. */
const CAPACITIES = [2, 1, 4] as const;

export class SimCluster {
  readonly nodes: SimNode[] = [];
  /** Region × region RTT, ms. */
  readonly regionRttMs: number[][];
  /** Per pipeline: the region its database lives in now. */
  readonly dbRegion: number[];
  /** Multiplies every pipeline's base rate. */
  loadFactor = 1;
  /** Share of external requests entering in each region (sums to 1). */
  regionWeights: number[];
  #joined = 0;

  constructor(nodeCount: number, dbRegions: readonly number[]) {
    const r = REGIONS.length;
    this.regionRttMs = Array.from({ length: r }, (_, a) => Array.from({ length: r }, (_, b) => (a === b ? WITHIN_REGION_MS : ACROSS_REGIONS_MS)));
    this.dbRegion = [...dbRegions];
    for (let i = 0; i < nodeCount; i++) this.#add(i % r, CAPACITIES[Math.floor(i / r) % CAPACITIES.length]!, `n${String(i).padStart(4, "0")}`);
    // Users are where the servers are: each region's share of the requests is its share of the capacity.
    const byRegion = new Array<number>(r).fill(0);
    for (const n of this.nodes) byRegion[n.region]! += n.capacity;
    this.regionWeights = byRegion.map((c) => c / this.nodes.reduce((sum, n) => sum + n.capacity, 0));
  }

  get regionCount(): number {
    return this.regionRttMs.length;
  }

  /** A new node, up and running nothing yet; returns it. */
  join(region: number, capacity: number): SimNode {
    return this.#add(region, capacity, `j${String(this.#joined++).padStart(4, "0")}`);
  }

  #add(region: number, capacity: number, id: string): SimNode {
    const node: SimNode = { index: this.nodes.length, id, region, capacity, state: "up", crashedAtMs: 0 };
    this.nodes.push(node);
    return node;
  }

  /** RTT between two nodes by index, ms. */
  rttMs(a: number, b: number): number {
    return a === b ? 0 : this.regionRttMs[this.nodes[a]!.region]![this.nodes[b]!.region]!;
  }

  /** Mean latency of one call to pipeline `k`'s database from `region`, ms. */
  dbLatencyMs(k: number, region: number): number {
    const home = this.dbRegion[k]!;
    return DB_BASE_MS + DB_JITTER_MS + (region === home ? 0 : this.regionRttMs[region]![home]!);
  }

  /** Serving messages: up (a crashed node's links close at once, so routing skips it before membership knows). */
  isUp(node: number): boolean {
    return this.nodes[node]!.state === "up";
  }

  /** What membership says at `nowMs`: alive, suspect (crashed, not yet declared dead), or not listed. */
  membership(node: number, nowMs: number): "alive" | "suspect" | undefined {
    const n = this.nodes[node]!;
    if (n.state === "up") return "alive";
    if (n.state === "crashed" && nowMs - n.crashedAtMs < DETECTION_MS) return "suspect";
    return undefined;
  }

  upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.state === "up");
  }

  /** Total capacity of the nodes that are up. */
  upCapacity(): number {
    return this.upNodes().reduce((sum, n) => sum + n.capacity, 0);
  }
}
