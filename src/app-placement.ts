// Connects a node's placement loop to its runtime and its place in the cluster.

import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { ClusterNode } from "./cluster/cluster-node.js";
import { readNodeState } from "./cluster/node-state.js";
import type { NodeRuntime } from "./core/node-runtime.js";
import type { ServiceRegistry } from "./core/service-registry.js";
import { hintsOf, type GossipedNode } from "./placement/gossip-input.js";
import { PlacementLoop } from "./placement/placement-loop.js";
import type { ResolvedPlacementOptions } from "./placement/placement-options.js";

export interface PlacementWiring {
  runtime: NodeRuntime;
  links: ClusterNode;
  registry: ServiceRegistry;
  /** Services this node may run: placement never starts another one here. */
  runnable: readonly string[];
  options: ResolvedPlacementOptions;
  clock: Clock;
  logger: Logger;
}

/** A placement loop that plans from `links`' gossip and starts and stops services in `runtime`; not started yet. */
export function createPlacement({ runtime, links, registry, runnable, options, clock, logger }: PlacementWiring): PlacementLoop {
  const services = registry.ids.map((id) => ({ id, hints: hintsOf(registry.byId(id)!.options) }));
  const allowed = new Set(runnable);
  return new PlacementLoop(
    {
      selfId: runtime.nodeId,
      clock,
      log: logger,
      services,
      nodes(): GossipedNode[] {
        const out: GossipedNode[] = [];
        for (const member of links.membership.snapshot().live()) {
          const state = readNodeState(member.meta.data);
          if (state !== undefined) out.push({ id: member.nodeId, status: member.state === "suspect" ? "suspect" : "alive", state });
        }
        return out;
      },
      activate: (service) => (allowed.has(service) ? runtime.activate(service) : Promise.reject(new Error(`"${service}" may not run here`))),
      deactivate: (service) => runtime.deactivate(service),
      announce: () => links.announce(),
      // A keeper mid-upgrade (another contract) or not linked is not one this node's messages can reach.
      routable: (service, node) => links.linksServing(service).some((link) => link.remote.nodeId === node),
    },
    options,
  );
}
