// SWIM's failure detector with Lifeguard: one probe per interval, round-robin; indirect probes and nacks on a timeout.

import type { Clock } from "../clock.js";
import { Awareness, failedProbeDelta, AWARENESS_DELTA } from "./awareness.js";
import type { Member } from "./member-table.js";
import type { OutgoingMessage } from "./membership-messages.js";
import type { MembershipOptions } from "./membership-options.js";
import type { Peer } from "./peer-sender.js";
import type { TimerSet } from "./timer-set.js";

/** A relay sends its nack at this fraction of the time the requester waits, so the nack arrives in time. */
const NACK_AT = 0.8;

/** What the probe loop needs from the membership engine around it. */
export interface ProbeHost {
  readonly clock: Clock;
  readonly random: () => number;
  readonly timers: TimerSet;
  /** Members worth probing: alive or suspect, not ourselves. */
  probeTargets(): readonly Member[];
  /** The member by id if it is still worth probing. */
  probeTarget(nodeId: string): Member | undefined;
  /** Up to `count` random alive members other than ourselves and `excludeId`. */
  randomAlive(count: number, excludeId: string): Member[];
  send(to: Peer, message: OutgoingMessage): void;
  /** A probe got no ack, directly or indirectly, within its interval. */
  probeFailed(target: Member): void;
  /** A direct ack, with the round trip measured on our clock and the coordinate the target sent. */
  acked(target: Member, rttMs: number, coordinate: unknown): void;
}

interface OwnProbe {
  kind: "own";
  target: Member;
  sentAtMs: number;
  acked: boolean;
  relays: Set<string>;
  nacks: Set<string>;
}

/** A probe we run for another member's ping-req. */
interface RelayedProbe {
  kind: "relayed";
  target: Peer;
  requester: Peer;
  requesterSeq: number;
}

export class ProbeLoop {
  // Fixed after construction.
  readonly #host: ProbeHost;
  readonly #options: Readonly<MembershipOptions>;
  readonly awareness: Awareness;

  // Mutable state.
  #order: string[] = [];
  #next = 0;
  #seq = 0;
  readonly #pending = new Map<number, OwnProbe | RelayedProbe>();
  #started = false;

  constructor(host: ProbeHost, options: Readonly<MembershipOptions>) {
    this.#host = host;
    this.#options = options;
    this.awareness = new Awareness(options.awarenessMax);
  }

  /** Starts probing after a random part of one interval, so nodes do not probe in lockstep. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#host.timers.set(() => this.#tick(), Math.floor(this.#host.random() * this.#options.probeIntervalMs));
  }

  onAck(fromId: string, seq: number, coordinate: unknown): void {
    const probe = this.#pending.get(seq);
    if (probe === undefined) return;
    if (probe.kind === "relayed") {
      if (fromId !== probe.target.nodeId) return;
      this.#pending.delete(seq);
      this.#host.send(probe.requester, { t: "ack", seq: probe.requesterSeq });
      return;
    }
    if (probe.acked) return;
    if (fromId === probe.target.nodeId) {
      probe.acked = true;
      this.#host.acked(probe.target, this.#host.clock.now() - probe.sentAtMs, coordinate);
    } else if (probe.relays.has(fromId)) {
      probe.acked = true;
    }
  }

  onNack(fromId: string, seq: number): void {
    const probe = this.#pending.get(seq);
    if (probe?.kind === "own" && probe.relays.has(fromId)) probe.nacks.add(fromId);
  }

  /**
   * A ping-req: probe `target` for `requester`; ack if it answers in time, nack otherwise (Lifeguard).
   * The nack must arrive while the requester still waits, or it cannot tell a slow relay from a dead
   * target: it goes at 80% of the time the requester said it waits (`requesterWaitMs`).
   */
  relay(requester: Peer, requesterSeq: number, target: Peer, requesterWaitMs?: number): void {
    if (this.#pending.size >= this.#options.maxPendingProbes) return;
    const seq = ++this.#seq;
    this.#pending.set(seq, { kind: "relayed", target, requester, requesterSeq });
    this.#host.send(target, { t: "ping", seq, target: target.nodeId });
    this.#host.timers.set(() => {
      if (!this.#pending.delete(seq)) return;
      this.#host.send(requester, { t: "nack", seq: requesterSeq });
    }, Math.min(this.#options.probeTimeoutMs, (requesterWaitMs ?? Infinity) * NACK_AT));
  }

  #tick(): void {
    const intervalMs = this.awareness.scaleMs(this.#options.probeIntervalMs);
    const target = this.#nextTarget();
    if (target === undefined) {
      this.#host.timers.set(() => this.#tick(), intervalMs);
      return;
    }
    const seq = ++this.#seq;
    const probe: OwnProbe = { kind: "own", target, sentAtMs: this.#host.clock.now(), acked: false, relays: new Set(), nacks: new Set() };
    this.#pending.set(seq, probe);
    this.#host.send(target, { t: "ping", seq, target: target.nodeId });
    const askAfterMs = this.awareness.scaleMs(this.#options.probeTimeoutMs);
    this.#host.timers.set(() => this.#askOthers(seq, probe, intervalMs - askAfterMs), askAfterMs);
    this.#host.timers.set(() => {
      this.#finish(seq, probe);
      this.#tick();
    }, intervalMs);
  }

  #askOthers(seq: number, probe: OwnProbe, waitMs: number): void {
    if (probe.acked) return;
    const { target } = probe;
    for (const relay of this.#host.randomAlive(this.#options.indirectProbes, target.nodeId)) {
      probe.relays.add(relay.nodeId);
      this.#host.send(relay, { t: "ping-req", seq, target: target.nodeId, address: target.address, timeoutMs: Math.max(1, Math.floor(waitMs)) });
    }
  }

  #finish(seq: number, probe: OwnProbe): void {
    this.#pending.delete(seq);
    if (probe.acked) {
      this.awareness.apply(AWARENESS_DELTA.probeSucceeded);
      return;
    }
    this.awareness.apply(failedProbeDelta(probe.relays.size, probe.nacks.size));
    // Only if it is still the life we probed: a newer incarnation arrived meanwhile clears it.
    const now = this.#host.probeTarget(probe.target.nodeId);
    if (now !== undefined && now.incarnation === probe.target.incarnation) this.#host.probeFailed(now);
  }

  /** Round-robin over a shuffled list of the members, reshuffled after each pass (SWIM's bound on detection). */
  /**
   * Puts a new member at a random place in what is left of this pass, so it is probed within about
   * one pass rather than only after the next reshuffle, which could take n probe intervals.
   */
  memberJoined(nodeId: string): void {
    if (this.#order.indexOf(nodeId, this.#next) !== -1) return;
    const at = this.#next + Math.floor(this.#host.random() * (this.#order.length - this.#next + 1));
    this.#order.splice(at, 0, nodeId);
  }

  #nextTarget(): Member | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.#next < this.#order.length) {
        const member = this.#host.probeTarget(this.#order[this.#next++]!);
        if (member !== undefined) return member;
      }
      this.#order = shuffle(this.#host.probeTargets().map((m) => m.nodeId), this.#host.random);
      this.#next = 0;
    }
    return undefined;
  }
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
