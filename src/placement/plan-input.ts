// What the placement planner reads: the cluster as every node sees it through gossip.

import type { PlannerOptions } from "./planner-options.js";

/**
 * A node as placement sees it. Nodes that are dead or have left are simply not listed: their
 * replicas are replaced at once.
 */
export interface PlanNode {
  /** Member id; unique among the nodes. */
  readonly id: string;
  /** Failure domain (gossiped `region`). Replicas of one service spread over regions when there are several. */
  readonly region: string;
  /**
   * The work the node sustains, in busy seconds per second: 1 is one core's worth, so a node
   * with twice the capacity takes about twice the load (e.g. cores × `--weight`). Demand is
   * measured in the same unit, which is why it is not merely relative. A node whose capacity is
   * not a finite number > 0 gets no replicas.
   */
  readonly capacity: number;
  /** Operator labels (e.g. `["postgres"]`); a service's `near` hint prefers nodes carrying it. */
  readonly labels: readonly string[];
  /** Service ids this node may run (compiled in and allowed by `--services`). */
  readonly services: readonly string[];
  /**
   * "alive", or "suspect" while the failure detector doubts it. A suspect node keeps the
   * replicas it has (suspicion often ends in a refutation; moving on every GC pause is churn)
   * but gets no new ones.
   */
  readonly status: NodeStatus;
}

export type NodeStatus = "alive" | "suspect";

/** The hints a service declares in `ServiceOptions`, as placement reads them. */
export interface PlacementHints {
  /** Replicas to keep on distinct nodes (default `defaultMinReplicas`; 0 means 1: a service with no replica cannot take its first message). */
  readonly minReplicas?: number;
  /** Most replicas; wins over `minReplicas` and `spread`. */
  readonly maxReplicas?: number;
  /** One replica on every eligible node (within `region` when given). */
  readonly spread?: boolean;
  /** A label that nodes near something this service needs carry (e.g. "postgres"): a strong preference, not a filter. */
  readonly near?: string;
  /** Only nodes of this region, as long as any node of it may run the service; all eligible nodes otherwise. */
  readonly region?: string;
}

/** One named external dependency a service calls (`ctx.dependency(name, fn)`). */
export interface DependencyUse {
  readonly name: string;
  /** Calls per second, summed over every replica of the service. */
  readonly callsPerSec: number;
  /**
   * Mean latency of this service's calls to `name`, in ms, measured from each node (node id →
   * ms) where known. For nodes without a number the planner estimates one from the measured
   * nodes and the RTT to them (see score.ts); with no number at all the dependency does not
   * sway placement.
   */
  readonly latencyMsByNode?: Readonly<Record<string, number>>;
}

export interface PlanService {
  /** Wire id; unique among the services. */
  readonly id: string;
  readonly hints?: PlacementHints;
  /** Messages per second arriving for this service, summed over every replica. */
  readonly arrivalPerSec: number;
  /**
   * The node's own work per message in ms: the handler's duration minus the time it awaited
   * dependencies (waiting costs the node nothing; the dependency term counts it instead).
   */
  readonly serviceTimeMs: number;
  readonly dependencies?: readonly DependencyUse[];
}

/** Measured messages per second from one service to another (publishes and requests, summed over nodes). */
export interface TrafficFlow {
  readonly from: string;
  readonly to: string;
  readonly perSec: number;
}

export interface PlanInput {
  readonly nodes: readonly PlanNode[];
  /**
   * Estimated round trip between two listed nodes in ms (from network coordinates). Must be
   * pure and the same on every node; anything but a finite number ≥ 0 counts as 0.
   */
  readonly rttMs: (a: string, b: string) => number;
  readonly services: readonly PlanService[];
  /** Service-to-service message rates; flows naming unknown services are ignored. */
  readonly traffic?: readonly TrafficFlow[];
  /** Service id → node ids where it is active now. Unknown services and nodes are ignored. */
  readonly current?: Readonly<Record<string, readonly string[]>>;
  /** Service id → when its placement last changed (same clock as `nowMs`). */
  readonly lastMoveMs?: Readonly<Record<string, number>>;
  /** The time of this round, passed in so the planner reads no clock. */
  readonly nowMs: number;
  readonly options?: Partial<PlannerOptions>;
}
