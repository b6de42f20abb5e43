// One placement followed through a run: re-evaluated every few rounds with its own routers' memory, its latency and load recorded.

import type { SimCluster } from "./cluster.js";
import { LatencyHistogram } from "./histogram.js";
import { sampleRequests } from "./request-sampler.js";
import { evaluateRouting, type Policy, type Replicas, RouterMemory } from "./routing-model.js";
import { newWorldStats, type WorldStats } from "./run-stats.js";
import type { Workload } from "./workload.js";

/** Latency-model iterations per evaluation: the routers' view is refreshed once before the measured one. */
const ITERATIONS = 2;
/** At the first evaluation the routers know nothing yet: a few more iterations warm their view up. */
const WARM_UP_ITERATIONS = 6;
/**
 * After this many evaluations with nothing changed (cluster, load, placement), the routers' view
 * has settled and the model would give the same answer: the last one is counted again instead.
 */
const REUSE_AFTER = 4;

interface Evaluated {
  readonly latency: LatencyHistogram;
  readonly unavailable: number;
  readonly busiest: number;
  readonly messagesPerSec: number;
  readonly remotePerSec: number;
  readonly replicas: number;
}

export class World {
  readonly stats: WorldStats = newWorldStats();
  readonly #policy: Policy;
  readonly #replicas: () => Replicas;
  readonly #memory: RouterMemory;
  #signature = "";
  #unchanged = 0;
  #last: Evaluated | undefined;

  /** `replicas` gives the placement now; `maxNodes` bounds the node indices the run will see. */
  constructor(policy: Policy, replicas: () => Replicas, maxNodes: number, workload: Workload, regions: number) {
    this.#policy = policy;
    this.#replicas = replicas;
    this.#memory = new RouterMemory(maxNodes, workload.services.length, regions);
  }

  /**
   * Evaluates the placement now and records it. `signature` names everything it depends on
   * (cluster, load, placement): while it stays the same, a settled evaluation is reused.
   */
  evaluate(cluster: SimCluster, workload: Workload, samples: number, random: () => number, minute: number, steady: boolean, signature: string): void {
    this.#unchanged = signature === this.#signature ? this.#unchanged + 1 : 0;
    this.#signature = signature;
    const result = this.#unchanged >= REUSE_AFTER && this.#last !== undefined ? this.#last : this.#evaluateNow(cluster, workload, samples, random);
    this.#last = result;
    const s = this.stats;
    s.latency.merge(result.latency);
    if (steady) s.steadyLatency.merge(result.latency);
    s.evaluations++;
    s.messagesPerSec += result.messagesPerSec;
    s.remotePerSec += result.remotePerSec;
    s.busiestSum += result.busiest;
    s.busiestMax = Math.max(s.busiestMax, result.busiest);
    s.unavailableCalls += result.unavailable;
    s.replicaSum += result.replicas;
    s.series.push({ min: minute, meanMs: result.latency.meanMs, busiest: result.busiest, replicas: result.replicas });
  }

  #evaluateNow(cluster: SimCluster, workload: Workload, samples: number, random: () => number): Evaluated {
    const replicas = this.#replicas();
    const iterations = this.stats.evaluations === 0 ? WARM_UP_ITERATIONS : ITERATIONS;
    let model = evaluateRouting(cluster, workload, replicas, this.#policy, this.#memory);
    for (let i = 1; i < iterations; i++) model = evaluateRouting(cluster, workload, replicas, this.#policy, this.#memory);
    const latency = new LatencyHistogram();
    const unavailable = sampleRequests(model, cluster, workload, samples, random, latency);
    let busiest = 0;
    for (const n of cluster.nodes) if (cluster.isUp(n.index)) busiest = Math.max(busiest, model.utilization[n.index]!);
    return {
      latency,
      unavailable,
      busiest,
      messagesPerSec: model.messagesPerSec,
      remotePerSec: model.remotePerSec,
      replicas: replicas.reduce((sum, nodes) => sum + nodes.length, 0),
    };
  }
}
