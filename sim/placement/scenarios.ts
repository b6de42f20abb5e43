// The simulated runs: cluster sizes, workloads, and the timeline of changes (load shifts, crashes, joins, leaves).

export type SimEvent =
  | { readonly atMin: number; readonly kind: "load"; readonly factor: number; readonly regionWeights?: readonly number[] }
  /** Crash `count` nodes; "db-writer": nodes running a db-writer replica (those in its database's region first). */
  | { readonly atMin: number; readonly kind: "crash"; readonly count: number; readonly target: "db-writer" | "any"; readonly region?: number }
  | { readonly atMin: number; readonly kind: "join"; readonly count: number; readonly region: number; readonly capacity: number }
  | { readonly atMin: number; readonly kind: "leave"; readonly count: number; readonly region: number };

export interface Scenario {
  readonly name: string;
  readonly nodes: number;
  /** Requests per second entering each pipeline at load factor 1 (one pipeline = five services). */
  readonly pipelineRates: readonly number[];
  readonly minutes: number;
  readonly events: readonly SimEvent[];
  /** The steady window at the end (no change in it, nor in the preceding settling time): oscillation is counted here. */
  readonly steadyMinutes: number;
  /** The latency model runs every this many planning rounds (it changes only when placement or load does). */
  readonly evaluateEveryRounds: number;
  readonly samplesPerEvaluation: number;
  readonly seed: number;
  /** Declares each db-writer's `region` hint (its database's region) instead of leaving locality to measurement. */
  readonly declareDbRegion: boolean;
  /**
   * How nodes carry out plans. "brief": a removal once enough other nodes run the service (the rule
   * the simulation was specified with). "loop": as src/placement/placement-loop.ts does today: two-phase
   * removals (of two nodes keeping each other, the lower id first), joining nodes start every service,
   * latencies remembered for the runtime's REMEMBER_MS.
   */
  readonly runtime: "brief" | "loop";
}

export const ROUND_MS = 5_000;

/** Rates are set so that the base load is a quarter of the cluster's capacity (35 % at the +40 % peak). */
const LOAD_SHARE = 0.25;
/** Mean capacity of the nodes (cluster.ts cycles 2, 1, 4 within each region). */
const MEAN_CAPACITY = 7 / 3;
/** Ten pipelines of unequal popularity (their sum is 10). */
const POPULARITY = [1.6, 1.4, 1.2, 1.0, 1.0, 0.9, 0.8, 0.8, 0.7, 0.6] as const;

/**
 * Seven changes `stepMin` apart, then a steady tail: +40 % load; crash of nodes running the
 * database-bound stage; nodes joining in the database's region; nodes leaving ap-south; load back
 * to normal with half the requests now entering in us-east; a crash in eu-west; a big node
 * joining us-east.
 */
export function timeline(nodes: number, stepMin: number): SimEvent[] {
  const few = Math.max(1, Math.round(nodes / 100));
  return [
    { atMin: stepMin, kind: "load", factor: 1.4 },
    { atMin: 2 * stepMin, kind: "crash", count: few, target: "db-writer" },
    { atMin: 3 * stepMin, kind: "join", count: few, region: 0, capacity: 2 },
    { atMin: 4 * stepMin, kind: "leave", count: few, region: 2 },
    { atMin: 5 * stepMin, kind: "load", factor: 1, regionWeights: [0.25, 0.5, 0.25] },
    { atMin: 6 * stepMin, kind: "crash", count: few, target: "any", region: 0 },
    { atMin: 7 * stepMin, kind: "join", count: few, region: 1, capacity: 4 },
  ];
}

interface Sizing {
  /** Minutes between the changes, and of steady time after the last one. */
  readonly stepMin: number;
  readonly tailMin: number;
  /** The window at the end where moves count as oscillation. */
  readonly steadyMin: number;
  readonly evaluateEveryRounds: number;
  readonly samples: number;
}

function scenario(nodes: number, sizing: Sizing, declareDbRegion = false, runtime: Scenario["runtime"] = "brief"): Scenario {
  const pipelines = nodes >= 100 ? POPULARITY.length : 1;
  const workPerRequestMs = 2.0;
  const totalRate = (LOAD_SHARE * nodes * MEAN_CAPACITY * 1000) / workPerRequestMs;
  const pipelineRates = pipelines === 1 ? [Math.round(totalRate)] : POPULARITY.map((p) => Math.round((totalRate * p) / 10));
  return {
    name: `${nodes.toLocaleString("en-US")} nodes × ${pipelines * 5} services${declareDbRegion ? ", db-writer with region hint" : ""}${runtime === "loop" ? ", today's placement loop" : ""}`,
    nodes,
    pipelineRates,
    minutes: 7 * sizing.stepMin + sizing.tailMin,
    events: timeline(nodes, sizing.stepMin),
    steadyMinutes: sizing.steadyMin,
    evaluateEveryRounds: sizing.evaluateEveryRounds,
    samplesPerEvaluation: sizing.samples,
    seed: nodes,
    declareDbRegion,
    runtime,
  };
}

/**
 * Full: 6 h at 10 nodes and 4 h at 100 (each ending in a steady hour), 75 min at 1,000 (the
 * planner's 30–60 ms per round bound the run; a steady half hour); at 10 and 100 nodes also a run
 * where each db-writer declares its database's region, and one where plans are carried out as the
 * placement loop does today. Quick: about a fifth, for a smoke test.
 */
export function scenarios(quick: boolean): Scenario[] {
  if (quick) {
    const small: Sizing = { stepMin: 6, tailMin: 30, steadyMin: 15, evaluateEveryRounds: 6, samples: 400 };
    const medium: Sizing = { stepMin: 4, tailMin: 24, steadyMin: 12, evaluateEveryRounds: 6, samples: 400 };
    return [
      scenario(10, small),
      scenario(10, small, true),
      scenario(10, small, false, "loop"),
      scenario(100, medium),
      scenario(1000, { stepMin: 3, tailMin: 12, steadyMin: 6, evaluateEveryRounds: 24, samples: 300 }),
    ];
  }
  const small: Sizing = { stepMin: 30, tailMin: 150, steadyMin: 60, evaluateEveryRounds: 6, samples: 1000 };
  const medium: Sizing = { stepMin: 20, tailMin: 100, steadyMin: 60, evaluateEveryRounds: 6, samples: 1000 };
  return [
    scenario(10, small),
    scenario(10, small, true),
    scenario(10, small, false, "loop"),
    scenario(100, medium),
    scenario(100, medium, true),
    // Far from settled after hours (removals are serialized), so a shorter run shows it at less cost.
    scenario(100, { stepMin: 8, tailMin: 34, steadyMin: 30, evaluateEveryRounds: 12, samples: 1000 }, false, "loop"),
    scenario(1000, { stepMin: 5, tailMin: 40, steadyMin: 30, evaluateEveryRounds: 12, samples: 1000 }),
  ];
}
