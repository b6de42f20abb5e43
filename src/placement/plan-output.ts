// What the placement planner returns: where each service runs, the changes from now, and why.

export interface Plan {
  /** Service id → node ids where it should be active after this round, sorted; [] when no node may run it. Every input service appears. */
  readonly placement: Record<string, string[]>;
  /**
   * The changes from the current placement, services in planning order. Within one service:
   * removals from nodes that are gone, then the rest as decided (an add before the removal it
   * replaces: make-before-break).
   */
  readonly moves: Move[];
  /** Service id → how its replica count and nodes were chosen, for a `/placement` endpoint. */
  readonly services: Record<string, ServicePlan>;
}

export interface Move {
  readonly service: string;
  readonly node: string;
  readonly action: "add" | "remove";
  readonly reason: MoveReason;
  /** False for changes that do not count against `maxMovesPerRound` (initial, replace, node-gone). */
  readonly budgeted: boolean;
}

/**
 * - initial: the service had no live replica, so it gets its whole placement at once.
 * - replace: brings the replica count back after nodes went away, or up to the redundancy floor.
 * - node-gone: the node is gone or may no longer run the service.
 * - scale-up / scale-down: the replica count changed (demand, hints, eligible nodes).
 * - rebalance: a better node was found (by more than the hysteresis), or the replica moves to cover another region.
 * - not-eligible: the node is alive but outside the service's `region` hint.
 * A change that is several of these (a replica dropped while scaling down is also the worst) names one.
 */
export type MoveReason = "initial" | "replace" | "node-gone" | "scale-up" | "scale-down" | "rebalance" | "not-eligible";

export interface ServicePlan {
  /** Position in the planning order (0 first): services earlier in it see fewer placed partners and less placed load. */
  readonly order: number;
  /** The service's measured work in busy seconds per second (arrival × service time). */
  readonly work: number;
  /** Nodes that may run it: alive (or suspect and running it now), allowed, capacity > 0, within the `region` hint. */
  readonly eligible: number;
  /** The replica count aimed for, and which rule set it. */
  readonly replicas: number;
  readonly replicasBecause: ReplicaRule;
  /** Where the planner would put it with no move limits, sorted; `placement` differs from it only when changes were deferred. */
  readonly target: string[];
  /** Set when wanted changes waited: the service moved too recently, or the round's move budget ran out. */
  readonly deferred?: "min-move-interval" | "move-budget";
  /** The chosen nodes, the current ones, and the best runners-up, best first. */
  readonly nodes: NodeScore[];
}

export type ReplicaRule = "demand" | "min-replicas" | "max-replicas" | "eligible-nodes" | "spread" | "no-eligible-node";

/** One node's score for one service. Costs are in ms of latency per second (msg/s × ms), lower is better. */
export interface NodeScore {
  readonly node: string;
  /** In the target (the planner wants a replica here). */
  readonly chosen: boolean;
  /** A replica is active here now (its cost gets the hysteresis bonus). */
  readonly current: boolean;
  /** Chosen first to cover its region (redundancy), before the best of the rest. */
  readonly regionSpread: boolean;
  /** The node's utilization with this replica's share added to the load placed before it. */
  readonly utilization: number;
  /** The replica's share of the work in busy ms per second, stretched by queueing at `utilization`. */
  readonly processingCost: number;
  /** Messages per second this replica would exchange with partners that have a replica on this node. */
  readonly localTrafficPerSec: number;
  /** Messages per second it would exchange with partners elsewhere. */
  readonly remoteTrafficPerSec: number;
  /** Those remote messages × (RTT to the partner's nearest replica + the per-message remote cost). */
  readonly partnerCost: number;
  /** Calls per second × latency to each dependency from this node. */
  readonly dependencyCost: number;
  /** Where the dependency latencies came from: all measured here, some estimated via other nodes, or none known. */
  readonly dependencyLatency: "measured" | "estimated" | "none";
  /** The node carries the service's `near` label (the cost was multiplied by `nearCostFactor`). */
  readonly near: boolean;
  /** (processing + partner + dependency) × near factor. */
  readonly cost: number;
  /** `cost`, less the hysteresis share when `current`: what the nodes were ranked by. */
  readonly rankedCost: number;
}
