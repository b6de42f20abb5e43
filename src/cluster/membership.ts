// The membership engine: SWIM with Lifeguard over a Transport, on an injected clock and randomness.
//
// All traffic goes on the control lane, codec-encoded (shapes in membership-messages.ts). Failure detection
// is probe-loop.ts; this file owns the table, suspicions, gossip, push-pull, join and leave.

import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { KaffixError } from "../errors.js";
import type { Link, Transport } from "../transport/transport.js";
import { decode, encode } from "../wire/codec.js";
import { AWARENESS_DELTA } from "./awareness.js";
import type { GossipMessage } from "./gossip-message.js";
import { GossipQueue, retransmitLimit } from "./gossip-queue.js";
import { MemberTable, type ApplyResult, type Member, type MemberEvent } from "./member-table.js";
import { ChangeFeed, type ChangeHandler } from "./change-feed.js";
import { MESSAGE_LIMITS, parseMembershipMessage, recordToGossip, type MemberRecord, type MembershipMessage, type OutgoingMessage } from "./membership-messages.js";
import { membershipOptions, type MembershipConfig, type MembershipOptions, type MembershipStats, type ObservedAddressHandler, type PayloadHandler } from "./membership-options.js";
import { isLive, type MembershipSnapshot } from "./membership-snapshot.js";
import { PeerSender, type Peer } from "./peer-sender.js";
import { ProbeLoop, shuffle, type ProbeHost } from "./probe-loop.js";
import { PushPull, pushPullScale } from "./push-pull.js";
import { SuspicionTimers } from "./suspicion-timers.js";
import { TimerSet } from "./timer-set.js";
import { estimateRttMs, isValidCoordinate, VivaldiClient, type Coordinate } from "./vivaldi.js";

export type { MembershipConfig, MembershipStats, ObservedAddressHandler, PayloadHandler } from "./membership-options.js";
export type { ChangeHandler } from "./change-feed.js";

export class Membership {
  // Fixed after construction.
  readonly options: Readonly<MembershipOptions>;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #table: MemberTable;
  readonly #queue: GossipQueue;
  readonly #sender: PeerSender;
  readonly #timers: TimerSet;
  readonly #probes: ProbeLoop;
  readonly #vivaldi: VivaldiClient;
  readonly #pushPull: PushPull;
  readonly #changes: ChangeFeed;
  readonly #suspicions: SuspicionTimers;

  // Mutable state.
  readonly #coordinates = new Map<string, Coordinate>();
  readonly #observedHandlers: ObservedAddressHandler[] = [];
  #malformed = 0;
  #started = false;
  #payloads: PayloadHandler | undefined;

  constructor(config: MembershipConfig) {
    this.options = membershipOptions(config.options);
    this.#transport = config.transport;
    this.#clock = config.clock;
    this.#random = config.random;
    this.#log = config.logger;
    this.#table = new MemberTable({ self: config.self, nowMs: this.#clock.now() });
    this.#changes = new ChangeFeed(() => this.#table.snapshot(), this.#log);
    this.#queue = new GossipQueue(this.options.maxQueuedBroadcasts);
    this.#sender = new PeerSender(this.#transport, this.options.maxPendingDials, this.options.maxMessagesPerDial);
    this.#timers = new TimerSet(this.#clock, () => this.#changes.publish(), (error) => this.#log.error({ err: error }, "membership timer failed"));
    this.#vivaldi = new VivaldiClient({}, this.#random);
    this.#suspicions = new SuspicionTimers(this.#clock, this.options, (suspect) => this.#suspicionExpired(suspect));
    this.#probes = new ProbeLoop(this.#probeHost(), this.options);
    this.#pushPull = new PushPull({
      timers: this.#timers,
      timeoutMs: this.options.pushPullTimeoutMs,
      dial: (address) => this.#sender.dial(address),
      send: (to, message) => this.#send(to, message),
      records: () => this.#records(),
      merge: (from, records) => {
        for (const record of records) this.#apply(recordToGossip(record, from.nodeId));
      },
    });
    // Membership owns the node's links: it is their one receiver, and answers peers before it joins.
    for (const link of this.#transport.links.values()) this.#adopt(link);
    this.#transport.onLink((link) => this.#adopt(link));
  }

  get nodeId(): string {
    return this.#table.selfId;
  }

  get stats(): Readonly<MembershipStats> {
    return { malformed: this.#malformed, sendDropped: this.#sender.dropped };
  }

  /** Lifeguard's local health score (0 = healthy). */
  get awarenessScore(): number {
    return this.#probes.awareness.score;
  }

  get coordinate(): Coordinate {
    return this.#vivaldi.coordinate;
  }

  snapshot(): MembershipSnapshot {
    return this.#table.snapshot();
  }

  /** Called after each change with what changed; returns the unsubscribe function. */
  onChange(handler: ChangeHandler): () => void {
    return this.#changes.subscribe(handler);
  }

  /**
   * Called when a join's seed says which IP it sees our connection come from, before the join links to
   * the members it learned: a handler that moves us (`setAddress`) is in time for those links.
   */
  onObservedAddress(handler: ObservedAddressHandler): void {
    this.#observedHandlers.push(handler);
  }

  /** Hands on what is not membership's: the data lane, and control payloads starting with 0xc1 (no MessagePack value does). */
  onPayload(handler: PayloadHandler): void {
    this.#payloads = handler;
  }

  /** Moves this node to `address` (host:port) under a new incarnation, spread by gossip; the transport's address is the caller's. */
  setAddress(address: string): void {
    if (this.#timers.stopped || address === this.#table.self().address) return;
    this.#queue.push(this.#table.setLocalAddress(address));
    this.#changes.publish();
  }

  /** The RTT to `nodeId` our coordinates predict, once we have its coordinate. */
  estimateRttMs(nodeId: string): number | undefined {
    if (nodeId === this.nodeId) return 0;
    const theirs = this.#coordinates.get(nodeId);
    return theirs === undefined ? undefined : estimateRttMs(this.#vivaldi.coordinate, theirs);
  }

  /**
   * Starts the protocol and, given seeds, exchanges full state with the first one that answers, then
   * links to every alive member learned. Without seeds this is the first node. Resolves with the
   * number of seeds joined through (0 or 1); rejects with TIMEOUT when no seed answered.
   */
  async join(seeds: readonly string[]): Promise<number> {
    this.#start();
    const self = this.#table.self().address;
    const candidates = seeds.filter((address) => address !== self);
    if (candidates.length === 0) return 0;
    const failures: string[] = [];
    for (const address of candidates) {
      if (this.#timers.stopped) break;
      try {
        const observed = await this.#pushPull.exchange(address, true);
        if (observed !== undefined) for (const handler of this.#observedHandlers) handler(observed, address);
        for (const member of this.#table.snapshot().alive()) {
          if (member.nodeId === this.nodeId || this.#sender.pendingDials >= this.options.maxPendingDials) continue;
          this.#sender.dial(member.address).catch(() => {}); // the rest are linked on first use
        }
        this.#log.info({ seed: address, members: this.#table.snapshot().live().length }, "joined the cluster");
        return 1;
      } catch (error) {
        failures.push(`${address}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new KaffixError("TIMEOUT", `could not join through any seed (${failures.join("; ")})`, { data: { seeds: candidates } });
  }

  /** A full state exchange with `address`, a seed that is not a member: clusters that formed apart merge. */
  async syncWith(address: string): Promise<void> {
    if (this.#timers.stopped || address === this.#table.self().address) return;
    await this.#pushPull.exchange(address, true);
  }

  /**
   * Replaces this node's gossiped state (its meta data) with `data`: the new version spreads with the
   * next gossip and push-pull rounds. Keep it small; it rides along with probes.
   */
  updateMeta(data: Record<string, unknown>): void {
    if (this.#timers.stopped) return;
    this.#queue.push(this.#table.updateLocalMeta(data));
    this.#changes.publish();
  }

  /** Tells every live member we leave (they mark us "left" without suspicion), waits briefly, then stops. */
  async leave(): Promise<void> {
    if (this.#timers.stopped) return;
    const message = this.#table.leave(this.#clock.now());
    this.#queue.push(message);
    for (const member of this.#table.snapshot().live()) {
      if (member.nodeId !== this.nodeId) this.#send(member, { t: "gossip" }, [message]);
    }
    this.#changes.publish();
    let timer: ReturnType<TimerSet["set"]>;
    const timeout = new Promise<void>((resolve) => (timer = this.#timers.set(resolve, this.options.leaveTimeoutMs)));
    await Promise.race([this.#sender.drained(), timeout]);
    this.#timers.clear(timer);
    this.#log.info("left the cluster");
    this.stop();
  }

  /** Stops every timer and handler; nothing runs after it. Links stay open (the transport owns them). */
  stop(): void {
    this.#timers.stop();
    this.#sender.stop();
    this.#suspicions.stopAll();
    this.#pushPull.stop();
    this.#queue.clear();
  }

  #start(): void {
    if (this.#started || this.#timers.stopped) return;
    this.#started = true;
    this.#probes.start();
    const { gossipIntervalMs, pushPullIntervalMs, reconnectIntervalMs } = this.options;
    // Each round first runs after a random part of its interval, so nodes do not act in lockstep.
    const phase = (intervalMs: number) => Math.floor(this.#random() * intervalMs);
    this.#timers.every(gossipIntervalMs, phase(gossipIntervalMs), () => this.#gossipRound());
    const scale = () => pushPullScale(this.#table.snapshot().live().length);
    this.#timers.every(pushPullIntervalMs, phase(pushPullIntervalMs), () => this.#pushPullRound(), scale);
    this.#timers.every(reconnectIntervalMs, phase(reconnectIntervalMs), () => this.#reconnectRound());
  }

  // ── Receiving ──────────────────────────────────────────────────────────────────────────────────

  #adopt(link: Link): void {
    link.onMessage((lane, payload) => {
      if (lane === "control" && payload[0] !== 0xc1) this.#receive(link, payload); // 0xc1: see onPayload
      else this.#payloads?.(link, lane, payload);
    });
  }

  #receive(link: Link, payload: Uint8Array): void {
    if (this.#timers.stopped) return;
    let message: MembershipMessage | undefined;
    try {
      message = parseMembershipMessage(decode(payload));
    } catch {
      message = undefined;
    }
    if (message === undefined) {
      this.#malformed++;
      return;
    }
    const from: Peer = { nodeId: link.remote.nodeId, address: link.remote.address };
    try {
      this.#handle(from, message, link.remoteIp);
      this.#changes.publish();
    } catch (error) {
      this.#log.error({ err: error, from: from.nodeId, type: message.t }, "membership message handling failed");
    }
  }

  #handle(from: Peer, message: MembershipMessage, remoteIp: string | undefined): void {
    if ("gossip" in message) for (const gossip of message.gossip) this.#apply(gossip);
    switch (message.t) {
      case "ping":
        // A ping meant for an earlier owner of our address goes unanswered, as if to a dead node.
        if (message.target === this.nodeId) this.#send(from, { t: "ack", seq: message.seq, coord: this.#vivaldi.coordinate });
        return;
      case "ack":
        return this.#probes.onAck(from.nodeId, message.seq, message.coord);
      case "nack":
        return this.#probes.onNack(from.nodeId, message.seq);
      case "ping-req":
        return this.#probes.relay(from, message.seq, { nodeId: message.target, address: message.address }, message.timeoutMs);
      case "gossip":
        return;
      case "push-pull":
        return this.#pushPull.onMessage(from, message, remoteIp);
    }
  }

  /** Applies one piece of news and acts on what it did: re-gossip, suspicion timers, refutation. */
  #apply(message: GossipMessage): ApplyResult {
    const result = this.#table.apply(message, this.#clock.now());
    if (result.changed) {
      this.#queue.push(message);
      this.#onEvent(result.event, message);
    } else if ("refute" in result) {
      this.#probes.awareness.apply(AWARENESS_DELTA.refutedSuspicion);
      this.#queue.push(this.#table.localAlive());
      this.#log.debug({ about: message.type, incarnation: result.refute }, "refuted news about this node");
    } else if ("confirmed" in result) {
      if (this.#suspicions.confirm(message.nodeId, result.confirmed)) this.#queue.push(message);
    }
    return result;
  }

  #onEvent(event: MemberEvent, message: GossipMessage): void {
    const { nodeId } = event.member;
    this.#suspicions.stop(nodeId);
    if (event.type === "suspected") {
      this.#suspicions.start(event.member, event.from, this.#table.snapshot().live().length);
      // The buddy system: tell the suspect at once, so it can refute before the timer runs out.
      this.#send(event.member, { t: "gossip" }, [message]);
    } else if (event.type === "joined" || event.type === "recovered") {
      this.#probes.memberJoined(nodeId);
    } else if (event.type === "died" || event.type === "left") {
      this.#coordinates.delete(nodeId);
      this.#vivaldi.forgetPeer(nodeId);
      this.#log.info({ node: nodeId, state: event.member.state }, event.type === "died" ? "member declared dead" : "member left");
    }
  }

  /** A suspicion ran out: the member is dead, if it is still the suspect we timed. */
  #suspicionExpired(suspect: Member): void {
    const now = this.#table.get(suspect.nodeId);
    if (now?.state !== "suspect" || now.incarnation !== suspect.incarnation) return;
    this.#apply({ type: "dead", nodeId: suspect.nodeId, incarnation: suspect.incarnation, from: this.nodeId });
    this.#changes.publish();
  }

  // ── Push-pull rounds ──────────────────────────────────────────────────────────────────────────────────

  #records(): MemberRecord[] {
    return this.#table.snapshot().members.map(({ nodeId, address, incarnation, state, meta }) => ({ nodeId, address, incarnation, state, meta }));
  }

  #pushPullRound(): void {
    const [member] = this.#randomMembers(1, (m) => m.state === "alive");
    if (member !== undefined) this.#pushPull.exchange(member.address, false).catch(() => {});
  }

  /** serf's reconnect: a full exchange with one dead member, which heals a partition once it is gone. */
  #reconnectRound(): void {
    const now = this.#clock.now();
    this.#table.reap(now, this.options.reapAfterMs);
    const [member] = this.#randomMembers(1, (m) => m.state === "dead");
    if (member !== undefined) this.#pushPull.exchange(member.address, false).catch(() => {});
  }

  // ── Gossip and sending ─────────────────────────────────────────────────────────────────────────

  #gossipRound(): void {
    if (this.#queue.size === 0) return;
    const now = this.#clock.now();
    const { gossipFanout, gossipToTheDeadMs, maxGossipBytes } = this.options;
    const targets = this.#randomMembers(gossipFanout, (m) => isLive(m) || (m.state === "dead" && now - m.stateChangedAtMs < gossipToTheDeadMs));
    for (const target of targets) {
      const gossip = this.#queue.take(maxGossipBytes, this.#retransmitLimit(), MESSAGE_LIMITS.gossipPerMessage);
      if (gossip.length === 0) return;
      this.#send(target, { t: "gossip" }, gossip);
    }
  }

  /** Encodes and sends one message; pings, acks and ping-reqs carry piggybacked gossip. */
  #send(to: Peer, message: OutgoingMessage, gossip?: GossipMessage[]): void {
    let body: object = message;
    if (gossip !== undefined) body = { ...message, gossip };
    else if (message.t === "ping" || message.t === "ack" || message.t === "ping-req") {
      // One place is kept for the buddy system's suspect below.
      const piggyback = this.#queue.take(this.options.maxPiggybackBytes, this.#retransmitLimit(), MESSAGE_LIMITS.gossipPerMessage - 1);
      if (message.t === "ping") {
        // Probing a suspect also tells it so (buddy system), in case the news has not reached it.
        const target = this.#table.get(to.nodeId);
        if (target?.state === "suspect") piggyback.push({ type: "suspect", nodeId: target.nodeId, incarnation: target.incarnation, from: this.nodeId });
      }
      body = { ...message, gossip: piggyback };
    }
    let payload: Uint8Array;
    try {
      payload = encode(body);
    } catch (error) {
      this.#log.warn({ err: error, to: to.nodeId, type: message.t }, "membership message could not be encoded");
      return;
    }
    this.#sender.send(to, payload);
  }

  #retransmitLimit(): number {
    return retransmitLimit(this.options.retransmitMult, this.#table.snapshot().live().length);
  }

  /** Up to `count` distinct random members other than ourselves that pass `filter`. */
  #randomMembers(count: number, filter: (member: Member) => boolean): Member[] {
    const candidates = this.#table.snapshot().members.filter((m) => m.nodeId !== this.nodeId && filter(m));
    return shuffle(candidates, this.#random).slice(0, count);
  }

  #probeHost(): ProbeHost {
    return {
      clock: this.#clock,
      random: this.#random,
      timers: this.#timers,
      probeTargets: () => this.#table.snapshot().live().filter((m) => m.nodeId !== this.nodeId),
      probeTarget: (nodeId: string) => {
        const member = this.#table.get(nodeId);
        return member !== undefined && nodeId !== this.nodeId && isLive(member) ? member : undefined;
      },
      randomAlive: (count: number, excludeId: string) => this.#randomMembers(count, (m) => m.state === "alive" && m.nodeId !== excludeId),
      send: (to: Peer, message: OutgoingMessage) => this.#send(to, message),
      probeFailed: (target: Member) => {
        this.#log.debug({ node: target.nodeId }, "probe failed: suspecting");
        this.#apply({ type: "suspect", nodeId: target.nodeId, incarnation: target.incarnation, from: this.nodeId });
      },
      acked: (target: Member, rttMs: number, coordinate: unknown) => {
        if (!isValidCoordinate(coordinate, this.#vivaldi.config.dimensionality)) return;
        this.#coordinates.set(target.nodeId, coordinate);
        this.#vivaldi.update(target.nodeId, coordinate, rttMs);
      },
    };
  }
}
