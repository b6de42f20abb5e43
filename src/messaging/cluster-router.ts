// Chooses the node for each message: this node's mailbox when it is about as cheap, else the cheaper of sampled peers.

import type { Mailbox } from "../core/mailbox.js";
import { readNodeState } from "../cluster/node-state.js";
import type { MembershipSnapshot } from "../cluster/membership-snapshot.js";
import { AffinityRing } from "../routing/affinity-ring.js";
import { pickByCost, type Candidate } from "../routing/cost-picker.js";
import type { Link } from "../transport/transport.js";
import type { PeerStream } from "./peer-stream.js";

/** What the router reads of the cluster. */
export interface RouterView {
  readonly selfId: string;
  /** This node's relative capacity (cores × weight). */
  readonly capacity: number;
  /** This node's contract fingerprints, by service id. */
  readonly contracts: Readonly<Record<string, string>>;
  snapshot(): MembershipSnapshot;
  link(nodeId: string): Link | undefined;
  stream(nodeId: string): PeerStream;
  rttMs(nodeId: string): number | undefined;
  random(): number;
  now(): number;
}

/** A routing candidate whose load figures are refreshed before each pick. */
interface Slot extends Candidate<PeerStream | Mailbox> {
  destination: PeerStream | Mailbox;
  outstanding: number;
  serviceTimeMs: number;
  /** Queued there at its last gossip. */
  gossipQueued: number;
}

/** Round trip assumed for a peer whose coordinate is not known yet: a LAN hop. */
const UNKNOWN_RTT_MS = 1;
/** How long a peer that refused a service is skipped for it. */
export const REFUSAL_MS = 1000;

/**
 * A destination; "saturated" when the nodes running the service are all out of credit; "unreachable"
 * when they are all unlinked or refused it a moment ago (both: wait and try again); undefined when no
 * node runs it.
 */
export type Pick = Mailbox | PeerStream | "saturated" | "unreachable" | undefined;

export class ClusterRouter {
  readonly #view: RouterView;
  /** Peers that may take each service now; rebuilt lazily after any membership or link change. */
  readonly #peers = new Map<string, Slot[]>();
  /** Services no peer runs now but some alive peer may run (placement is moving them): messages wait. */
  readonly #awaited = new Set<string>();
  readonly #rings = new Map<string, AffinityRing>();
  /** "nodeId service" → clock time until which that node is skipped for that service. */
  readonly #refusals = new Map<string, number>();
  /** When the latest refusal expires; past it the map is cleared, and picks stop reading the clock. */
  #refusalsUntil = 0;
  #local: Slot | undefined;
  readonly #slots: Slot[] = [];

  constructor(view: RouterView) {
    this.#view = view;
  }

  /** Forget the cached candidates: membership, links or gossiped state changed. */
  invalidate(): void {
    this.#peers.clear();
    this.#awaited.clear();
  }

  /** Skips `nodeId` for `service` for a while (it said it does not run it, or is stopping). */
  refuse(nodeId: string, service: string): void {
    if (this.#refusals.size > 10_000) this.#refusals.clear();
    this.#refusalsUntil = this.#view.now() + REFUSAL_MS;
    this.#refusals.set(`${nodeId} ${service}`, this.#refusalsUntil);
  }

  /**
   * The destination for one message. `local` is this node's mailbox when the service is active here.
   * "saturated" when peers run it but none has credit left (and it is not active here);
   * "unreachable" also when no peer runs it now but one may (placement is moving it); undefined
   * when no node runs it or may. `exclude` lists nodes not to use (they refused this very message).
   */
  pick(service: string, local: Mailbox | undefined, key: string | undefined, exclude?: readonly string[]): Pick {
    const peers = this.#candidates(service);
    if (peers.length === 0) return local ?? (this.#awaited.has(service) ? "unreachable" : undefined);
    // Filled by index, not emptied and pushed: `length = 0` would drop the array's storage each time.
    const slots = this.#slots;
    let n = 0;
    if (local !== undefined) slots[n++] = this.#localSlot(local);
    let saturated = 0;
    let refusals = this.#refusals.size > 0;
    const now = refusals ? this.#view.now() : 0;
    if (refusals && now >= this.#refusalsUntil) {
      this.#refusals.clear();
      refusals = false;
    }
    for (const slot of peers) {
      const stream = slot.destination as PeerStream;
      if (exclude !== undefined && exclude.includes(slot.nodeId)) continue;
      if (refusals && (this.#refusals.get(`${slot.nodeId} ${service}`) ?? 0) > now) continue;
      const link = this.#view.link(slot.nodeId);
      if (link === undefined || link.closed) continue;
      if (stream.saturated) {
        saturated++;
        continue;
      }
      slot.outstanding = stream.outstanding(service) + slot.gossipQueued;
      slots[n++] = slot;
    }
    if (n === 0) return saturated > 0 ? "saturated" : "unreachable";
    if (n === 1) return slots[0]!.destination;
    if (slots.length !== n) slots.length = n;
    if (key !== undefined) return this.#byKey(service, key, slots);
    return pickByCost(slots, this.#view.random)?.destination;
  }

  /** Consistent hashing with bounded loads over the nodes that may take the message now. */
  #byKey(service: string, key: string, slots: Slot[]): Mailbox | PeerStream | undefined {
    let ring = this.#rings.get(service);
    if (ring === undefined) {
      if (this.#rings.size > 1000) this.#rings.clear();
      this.#rings.set(service, (ring = new AffinityRing()));
    }
    const byNode = new Map<string, Slot>();
    let total = 0;
    for (const slot of slots) {
      byNode.set(slot.nodeId, slot);
      total += slot.outstanding;
    }
    ring.setNodes([...byNode.keys()]);
    const chosen = ring.pick(key, (nodeId) => byNode.get(nodeId)?.outstanding ?? 0, total);
    return chosen === undefined ? undefined : byNode.get(chosen)?.destination;
  }

  #localSlot(mailbox: Mailbox): Slot {
    const slot = (this.#local ??= {
      destination: mailbox,
      nodeId: this.#view.selfId,
      local: true,
      rttMs: 0,
      outstanding: 0,
      capacity: this.#view.capacity,
      serviceTimeMs: 0,
      gossipQueued: 0,
    });
    slot.destination = mailbox;
    slot.outstanding = mailbox.inFlight + mailbox.queued;
    slot.serviceTimeMs = mailbox.serviceTimeMs;
    return slot;
  }

  #candidates(service: string): Slot[] {
    let slots = this.#peers.get(service);
    if (slots !== undefined) return slots;
    slots = [];
    const mine = this.#view.contracts[service];
    let mayRun = false;
    for (const member of this.#view.snapshot().alive()) {
      if (member.nodeId === this.#view.selfId) continue;
      const state = readNodeState(member.meta.data);
      // Active there now (placement decides), not merely allowed to run there.
      const load = state?.running[service];
      if (state !== undefined && load === undefined && state.services.includes(service)) mayRun = true;
      if (state === undefined || load === undefined) continue;
      const link = this.#view.link(member.nodeId);
      // A node whose contract for the service differs is mid-upgrade: never a target.
      if (link !== undefined && link.remote.services[service] !== mine) continue;
      slots.push({
        destination: this.#view.stream(member.nodeId),
        nodeId: member.nodeId,
        local: false,
        rttMs: this.#view.rttMs(member.nodeId) ?? UNKNOWN_RTT_MS,
        outstanding: 0,
        capacity: Math.max(1, state.capacity.cores) * state.capacity.weight,
        serviceTimeMs: load.serviceTimeMs,
        gossipQueued: load.queued,
      });
    }
    this.#peers.set(service, slots);
    // A moment with no replica in sight (one moved while another stops) is waited out, not failed.
    if (slots.length === 0 && mayRun) this.#awaited.add(service);
    return slots;
  }
}
