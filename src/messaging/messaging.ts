// Cross-node delivery: routes messages to other nodes, holds them until they are safe, and reroutes them when a node dies.
//
// The protocol (frames.ts has the bytes; ARCHITECTURE.md and docs/delivery.md the contract):
// - Every message sent to a peer stays in that peer's stream (the outbox) until the peer acks it done:
//   its handler finished and everything it published is safe. A stream holds at most a window of
//   messages (the credit per link); a publisher facing a saturated cluster waits, then gets QUEUE_FULL.
// - The peer acks "received" as soon as the message is queued there: two nodes hold it from then on,
//   so the publisher's promise resolves and the handler that published it may finish.
// - A peer that dies or leaves: its stream's messages are rerouted. A link that breaks: the messages
//   are sent again on the next link; the receiver's dedupe window answers for those it has seen.
// - A message accepted here from outside any handler is copied to one peer before `publish` resolves
//   (copies.ts); the peer re-injects it if this node dies first.

import { cpus } from "node:os";
import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../clock.js";
import type { Membership } from "../cluster/membership.js";
import type { MembershipDiff, MembershipSnapshot } from "../cluster/membership-snapshot.js";
import type { ClusterSide, RemoteRoute, Route } from "../core/cluster-side.js";
import type { Delivery } from "../core/delivery.js";
import { Mailbox } from "../core/mailbox.js";
import type { NodeRuntime } from "../core/node-runtime.js";
import { RequestDeadlines } from "../core/request-deadlines.js";
import { KaffixError, toKaffixError } from "../errors.js";
import type { Lane, Link, Transport } from "../transport/transport.js";
import { decode, encode } from "../wire/codec.js";
import { ClusterRouter } from "./cluster-router.js";
import { PlacedCopy } from "./copies.js";
import { ControlKind, DataKind, decodeControl, decodeData, decodeWireError, encodeCopy, encodeMessage, forEachInRanges, type ControlFrame } from "./frames.js";
import { Inbound } from "./inbound.js";
import { Outgoing } from "./outgoing.js";
import { DEFAULT_WINDOW, PeerStream } from "./peer-stream.js";

export interface MessagingOptions {
  runtime: NodeRuntime;
  transport: Transport;
  membership: Membership;
  /** This node's contract fingerprints by service id (its hello's services). */
  contracts: Record<string, string>;
  /** The operator's relative weight; capacity is cores × weight. */
  weight: number;
  clock: Clock;
  random: () => number;
  logger: Logger;
  /** Messages one peer may hold for this node at once. Default 4096. */
  window?: number;
  /** Period of the maintenance round (resends, reroutes, timeouts). Default 200. */
  tickMs?: number;
}

/** A message not acknowledged as held within this long is sent again (the receiver dedupes). */
const RESEND_MS = 1_000;
/** Most messages waiting for a destination (fresh publishes under saturation and reroutes). */
const MAX_PARKED = 100_000;

export interface MessagingStats {
  sent: number;
  resent: number;
  rerouted: number;
  received: number;
  duplicates: number;
  refused: number;
  /** Messages held for peers now (the outbox). */
  outbox: number;
  parked: number;
  /** Copies this node holds for peers now. */
  heldCopies: number;
  malformed: number;
}

export class Messaging implements ClusterSide {
  readonly #runtime: NodeRuntime;
  readonly #transport: Transport;
  readonly #membership: Membership;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #window: number;
  readonly #router: ClusterRouter;
  readonly #inbound: Inbound;
  readonly #deadlines: RequestDeadlines;
  readonly #streams = new Map<string, PeerStream>();
  readonly #routes = new Map<PeerStream, RemoteRoute>();
  /** Copies this node placed on peers, by sequence number. */
  readonly #placed = new Map<number, PlacedCopy>();
  #parked: Outgoing[] = [];
  #reinject: { service: string; body: Uint8Array }[] = [];
  #copyTurn = 0;
  #nextSeq = 1;
  /** Maintenance rounds so far (from 1); a transmission records the round it happened in. */
  #round = 1;
  readonly #resendRounds: number;
  #timer: TimerHandle | undefined;
  #parkedScheduled = false;
  #refusing = false;
  #stopped = false;
  /** No other member alive (kept up to date from membership changes). */
  #alone = true;
  readonly #unsubscribe: () => void;
  readonly #counts = { sent: 0, resent: 0, rerouted: 0, malformed: 0 };
  /** Where fresh messages wait when every peer running their service is out of credit. */
  readonly #waitRoute: RemoteRoute;

  constructor(options: MessagingOptions) {
    this.#runtime = options.runtime;
    this.#transport = options.transport;
    this.#membership = options.membership;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#window = options.window ?? DEFAULT_WINDOW;
    const self = options.membership.nodeId;
    this.#router = new ClusterRouter({
      selfId: self,
      capacity: cpus().length * options.weight,
      contracts: options.contracts,
      snapshot: () => this.#membership.snapshot(),
      link: (nodeId) => this.#transport.links.get(nodeId),
      stream: (nodeId) => this.#stream(nodeId),
      rttMs: (nodeId) => this.#membership.estimateRttMs(nodeId),
      now: () => this.#clock.now(),
      random: options.random,
    });
    const messaging = this;
    this.#inbound = new Inbound({
      runtime: this.#runtime,
      clock: this.#clock,
      logger: this.#log,
      link: (nodeId) => this.#transport.links.get(nodeId),
      get refusing() {
        return messaging.#refusing;
      },
    });
    this.#deadlines = new RequestDeadlines(this.#clock);
    this.#waitRoute = this.#routeTo(undefined);
    this.#membership.onPayload((link, lane, payload) => this.#receive(link, lane, payload));
    this.#unsubscribe = this.#membership.onChange((change, snapshot) => this.#membershipChanged(change, snapshot));
    this.#transport.onLink((link) => this.#linked(link));
    const tickMs = options.tickMs ?? 200;
    this.#resendRounds = Math.max(1, Math.ceil(RESEND_MS / tickMs));
    const tick = () => {
      if (this.#stopped) return;
      this.#maintain();
      this.#timer = this.#clock.setTimeout(tick, tickMs);
    };
    this.#timer = this.#clock.setTimeout(tick, tickMs);
  }

  get stats(): MessagingStats {
    let outbox = 0;
    for (const stream of this.#streams.values()) outbox += stream.size;
    const inbound = this.#inbound.stats;
    return {
      ...this.#counts,
      received: inbound.received,
      duplicates: inbound.duplicates,
      refused: inbound.refused,
      outbox,
      parked: this.#parked.length,
      heldCopies: this.#inbound.held.count,
    };
  }

  // ── ClusterSide: what the runtime asks ──────────────────────────────────────────────────────────

  get alone(): boolean {
    return this.#alone;
  }

  route(serviceId: string, local: Mailbox | undefined, key: string | undefined): Route | undefined {
    const picked = this.#router.pick(serviceId, local, key);
    if (picked === undefined || picked instanceof Mailbox) return picked;
    if (picked === "saturated") return this.#waitRoute;
    return this.#routes.get(picked) ?? this.#routeTo(picked);
  }

  copy(delivery: Delivery): Promise<void> | undefined {
    const peer = this.#copyPeer(undefined);
    if (peer === undefined) return undefined;
    let body: Uint8Array;
    try {
      body = encode(delivery.message);
    } catch {
      return undefined; // it could not cross the wire anyway; it is processed here, without a second copy
    }
    const copy = new PlacedCopy(delivery, body, (safe) => this.#copySafe(safe));
    delivery.owner = copy;
    const accepted = copy.accepted();
    this.#place(copy, peer);
    return accepted;
  }

  // ── Lifecycle ───────────────────────────────────────────────────────────────────────────────────

  /** From now on peers' new messages are refused with STOPPING (they reroute them at once). */
  refuseNew(): void {
    this.#refusing = true;
  }

  /** Resolves once nothing this node sent is unfinished (or at `deadline`): safe to leave. */
  async drained(deadline: number): Promise<boolean> {
    while (this.#clock.now() < deadline) {
      if (this.stats.outbox === 0 && this.#parked.length === 0 && this.#placed.size === 0) return true;
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, 20));
    }
    return false;
  }

  /** Stops every timer; messages still waiting for a destination fail with STOPPING. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#refusing = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#unsubscribe();
    const stopping = new KaffixError("STOPPING", "the node stopped before the message could be sent");
    for (const outgoing of this.#parked) if (!outgoing.held) outgoing.refuse(stopping);
    this.#parked = [];
    this.#deadlines.rejectAll(stopping);
    this.#inbound.stop();
    for (const copy of this.#placed.values()) copy.markHeld();
  }

  // ── Sending ─────────────────────────────────────────────────────────────────────────────────────

  #stream(nodeId: string): PeerStream {
    let stream = this.#streams.get(nodeId);
    if (stream === undefined) this.#streams.set(nodeId, (stream = new PeerStream(nodeId, this.#window)));
    return stream;
  }

  /** The route the runtime uses for one peer (or, for undefined, for waiting until one has credit). */
  #routeTo(stream: PeerStream | undefined): RemoteRoute {
    const route: RemoteRoute = {
      nodeId: stream?.nodeId ?? "",
      publish: (service, message, custodian, waitMs, key) => {
        let body: Uint8Array;
        try {
          body = encode(message);
        } catch (error) {
          custodian?.childSafe();
          return Promise.reject(error);
        }
        const { outgoing, accepted } = Outgoing.publish(service, message, body, key, custodian);
        if (stream !== undefined) this.#send(stream, outgoing);
        else this.#wait(outgoing, waitMs);
        return accepted;
      },
      request: (service, message, deadline, key) => {
        let body: Uint8Array;
        try {
          body = encode(message);
        } catch (error) {
          return Promise.reject(error);
        }
        const { outgoing, reply } = Outgoing.request(service, message, body, key, deadline);
        this.#deadlines.track(outgoing);
        if (stream !== undefined) this.#send(stream, outgoing);
        else this.#wait(outgoing, deadline - this.#clock.now());
        return reply;
      },
    };
    if (stream !== undefined) this.#routes.set(stream, route);
    return route;
  }

  #send(stream: PeerStream, outgoing: Outgoing): void {
    outgoing.seq = this.#nextSeq++;
    stream.add(outgoing);
    this.#counts.sent++;
    this.#transmit(stream, outgoing);
  }

  #transmit(stream: PeerStream, outgoing: Outgoing): void {
    const link = this.#transport.links.get(stream.nodeId);
    outgoing.sentRound = 0;
    if (link === undefined || link.closed) return;
    const floor = stream.floor(this.#nextSeq);
    const timeoutMs = outgoing.isRequest ? outgoing.deadline - this.#clock.now() : undefined;
    try {
      if (link.send("data", encodeMessage(outgoing.seq, floor, outgoing.service, outgoing.body, timeoutMs))) outgoing.sentRound = this.#round;
    } catch {
      // the link closed under us: resent on the next one
    }
  }

  /** Parks a fresh message until some peer has credit, for at most `waitMs`. */
  #wait(outgoing: Outgoing, waitMs: number): void {
    if (this.#parked.length >= MAX_PARKED) {
      outgoing.refuse(new KaffixError("QUEUE_FULL", `the cluster is saturated: ${MAX_PARKED} messages wait for a node with room`));
      return;
    }
    outgoing.acceptBy = this.#clock.now() + Math.max(0, waitMs);
    this.#park(outgoing);
  }

  /** Queues a message for (re)routing on the next turn. */
  #park(outgoing: Outgoing): void {
    outgoing.nodeId = undefined;
    this.#parked.push(outgoing);
    this.#scheduleParked();
  }

  #scheduleParked(): void {
    if (this.#parkedScheduled || this.#parked.length === 0) return;
    this.#parkedScheduled = true;
    setImmediate(() => {
      this.#parkedScheduled = false;
      this.#routeParked();
    });
  }

  #routeParked(): void {
    if (this.#parked.length === 0 || this.#stopped) return;
    const now = this.#clock.now();
    const parked = this.#parked;
    this.#parked = [];
    for (const outgoing of parked) {
      if (outgoing.settled) continue;
      if (outgoing.isRequest && outgoing.deadline <= now) {
        outgoing.reject(new KaffixError("TIMEOUT", `no reply from service "${outgoing.service}" before the deadline`));
        continue;
      }
      const local = this.#runtime.localMailbox(outgoing.service);
      const picked = this.#router.pick(outgoing.service, local, outgoing.key, outgoing.refusedBy);
      if (picked instanceof Mailbox) this.#handOver(outgoing);
      else if (picked instanceof PeerStream) this.#send(picked, outgoing);
      else if (outgoing.awaitingAcceptance && now >= outgoing.acceptBy) {
        outgoing.refuse(
          picked === "saturated"
            ? new KaffixError("QUEUE_FULL", `every node running "${outgoing.service}" is saturated`, { data: { service: outgoing.service } })
            : new KaffixError("SERVICE_UNAVAILABLE", `no running node serves "${outgoing.service}"`, { data: { service: outgoing.service } }),
        );
      } else {
        if (picked === undefined) outgoing.refusedBy = undefined; // every node refused once: try them again
        this.#parked.push(outgoing);
      }
    }
  }

  /** A parked message whose best destination is this node: it goes through the runtime like a fresh one. */
  #handOver(outgoing: Outgoing): void {
    if (outgoing.isRequest) {
      const timeoutMs = Math.max(1, outgoing.deadline - this.#clock.now());
      this.#runtime.request(outgoing.service, outgoing.message, { timeoutMs, key: outgoing.key }).then(
        (value) => outgoing.resolve(value),
        (error: unknown) => outgoing.reject(toKaffixError(error, "INTERNAL")),
      );
      return;
    }
    this.#runtime.publish(outgoing.service, outgoing.message, { key: outgoing.key }).then(
      () => outgoing.markHeld(),
      () => this.#park(outgoing), // refused here too (e.g. stopping): try again elsewhere
    );
  }

  // ── Copies ──────────────────────────────────────────────────────────────────────────────────────

  /** A peer to hold a copy: the linked, alive members in turn. */
  #copyPeer(exclude: string | undefined): string | undefined {
    const alive = this.#membership.snapshot().alive();
    const n = alive.length;
    for (let i = 0; i < n; i++) {
      const member = alive[(this.#copyTurn + i) % n]!;
      if (member.nodeId === this.#membership.nodeId || member.nodeId === exclude) continue;
      const link = this.#transport.links.get(member.nodeId);
      if (link === undefined || link.closed) continue;
      this.#copyTurn = (this.#copyTurn + i + 1) % n;
      return member.nodeId;
    }
    return undefined;
  }

  #place(copy: PlacedCopy, nodeId: string): void {
    copy.seq = this.#nextSeq++;
    copy.nodeId = nodeId;
    copy.held = false;
    this.#placed.set(copy.seq, copy);
    this.#transmitCopy(copy);
  }

  #transmitCopy(copy: PlacedCopy): void {
    const link = this.#transport.links.get(copy.nodeId!);
    copy.sentRound = this.#round;
    if (link === undefined || link.closed) return;
    try {
      link.send("data", encodeCopy(copy.seq, copy.delivery.service, copy.body));
    } catch {
      // resent by the maintenance round
    }
  }

  #copySafe(copy: PlacedCopy): void {
    this.#placed.delete(copy.seq);
    if (copy.nodeId !== undefined) this.#inbound.release(copy.nodeId, copy.seq);
  }

  /** The peer holding `copy` is gone or refused it: place it on another (or go on without one). */
  #replace(copy: PlacedCopy, exclude: string): void {
    this.#placed.delete(copy.seq);
    const peer = this.#copyPeer(exclude);
    if (peer === undefined) {
      copy.nodeId = undefined;
      copy.markHeld(); // no peer left to hold it: the guarantee of a cluster of one
      return;
    }
    this.#place(copy, peer);
  }

  // ── Receiving ───────────────────────────────────────────────────────────────────────────────────

  #receive(link: Link, lane: Lane, payload: Uint8Array): void {
    if (this.#stopped) return;
    const from = link.remote.nodeId;
    try {
      if (lane === "control") return this.#onControl(from, decodeControl(payload));
      const frame = decodeData(payload);
      if (frame.kind === DataKind.REPLY) return this.#onReply(from, frame.seq, frame.ok, frame.body);
      this.#inbound.receive(from, frame);
    } catch (error) {
      this.#counts.malformed++;
      if (this.#counts.malformed <= 10) this.#log.warn({ from, err: toKaffixError(error, "PROTOCOL_ERROR").message }, "malformed delivery payload ignored");
    }
  }

  #onControl(from: string, frame: ControlFrame): void {
    const stream = this.#streams.get(from);
    if (frame.kind === ControlKind.ACK) {
      if (stream !== undefined) {
        forEachInRanges(frame.received, stream.entries, (_seq, outgoing) => {
          if (!outgoing.held) outgoing.markHeld();
        });
        const before = stream.size;
        forEachInRanges(frame.done, stream.entries, (seq, outgoing) => {
          stream.remove(seq);
          if (!outgoing.held) outgoing.markHeld();
        });
        if (stream.size < before) this.#scheduleParked(); // credit came back: route what waits
      }
      forEachInRanges(frame.received, this.#placed, (_seq, copy) => {
        if (copy.nodeId === from) copy.markHeld();
      });
      return;
    }
    // NACK: refused, never processed there.
    const error = KaffixError.fromWire(frame.error);
    const outgoing = stream?.remove(frame.seq);
    if (outgoing !== undefined) return this.#refused(outgoing, from, error);
    const copy = this.#placed.get(frame.seq);
    if (copy !== undefined && copy.nodeId === from) this.#replace(copy, from);
  }

  #refused(outgoing: Outgoing, by: string, error: KaffixError): void {
    if (error.retryable) {
      this.#router.refuse(by, outgoing.service);
      (outgoing.refusedBy ??= []).push(by);
      this.#counts.rerouted++;
      this.#park(outgoing);
      return;
    }
    if (outgoing.awaitingAcceptance || outgoing.isRequest) return outgoing.refuse(error);
    // Accepted long ago and refused for good (it cannot be decoded there): nothing can deliver it.
    this.#log.error({ service: outgoing.service, node: by, code: error.code, err: error.message }, "a peer refused a message for good; it is dead-lettered here");
    this.#runtime.deadLetters.add({ service: outgoing.service, message: outgoing.message, error: error.toWire(), attempts: 0, at: new Date(this.#clock.now()).toISOString() });
    outgoing.refuse(error);
  }

  #onReply(from: string, seq: number, ok: boolean, body: Uint8Array): void {
    const stream = this.#streams.get(from);
    const outgoing = stream?.remove(seq);
    if (outgoing === undefined) return; // late: it timed out or was rerouted
    this.#scheduleParked();
    if (ok) return outgoing.resolve(decode(body));
    const error = KaffixError.fromWire(decodeWireError(body));
    // Never started there (the node is stopping): another node may still answer in time.
    if (error.code === "STOPPING" && outgoing.deadline > this.#clock.now()) return this.#refused(outgoing, from, error);
    outgoing.reject(error);
  }

  // ── Cluster changes ─────────────────────────────────────────────────────────────────────────────

  #linked(link: Link): void {
    this.#router.invalidate();
    const stream = this.#streams.get(link.remote.nodeId);
    if (stream !== undefined) for (const outgoing of stream.entries.values()) this.#resend(stream, outgoing);
    for (const copy of this.#placed.values()) if (copy.nodeId === link.remote.nodeId) this.#transmitCopy(copy);
  }

  #resend(stream: PeerStream, outgoing: Outgoing): void {
    this.#counts.resent++;
    this.#transmit(stream, outgoing);
  }

  #membershipChanged(change: MembershipDiff, snapshot: MembershipSnapshot): void {
    this.#router.invalidate();
    this.#alone = snapshot.live().length <= 1;
    for (const member of [...change.died, ...change.left]) this.#gone(member.nodeId);
  }

  /** A node died or left: what it held for us is rerouted, what we held for it is re-injected. */
  #gone(nodeId: string): void {
    const stream = this.#streams.get(nodeId);
    if (stream !== undefined) {
      this.#streams.delete(nodeId);
      this.#routes.delete(stream);
      const orphans = stream.takeAll();
      if (orphans.length > 0) this.#log.info({ node: nodeId, messages: orphans.length }, "rerouting messages the departed node had not finished");
      for (const outgoing of orphans) {
        this.#counts.rerouted++;
        outgoing.refusedBy = undefined;
        if (!outgoing.settled) this.#park(outgoing);
      }
    }
    const copies = this.#inbound.forget(nodeId);
    if (copies.length > 0) this.#log.info({ node: nodeId, messages: copies.length }, "re-injecting messages the departed node had copied here");
    this.#reinject.push(...copies);
    this.#reinjectNow();
    for (const copy of [...this.#placed.values()]) if (copy.nodeId === nodeId) this.#replace(copy, nodeId);
  }

  #reinjectNow(): void {
    const pending = this.#reinject;
    this.#reinject = [];
    for (const copy of pending) {
      let message: unknown;
      try {
        message = decode(copy.body);
      } catch {
        continue; // it decoded when it was copied; never expected
      }
      this.#runtime.publish(copy.service, message, undefined).catch(() => this.#reinject.push(copy));
    }
  }

  /** The periodic round: resends what was not acknowledged, relinks, reroutes what waits, retries re-injections. */
  #maintain(): void {
    const round = ++this.#round;
    for (const stream of this.#streams.values()) {
      let link: Link | undefined;
      for (const outgoing of stream.entries.values()) {
        if (outgoing.settled) {
          stream.remove(outgoing.seq); // a request that timed out: its credit comes back
          continue;
        }
        if (outgoing.held || round - outgoing.sentRound < this.#resendRounds) continue;
        link ??= this.#transport.links.get(stream.nodeId);
        if (link === undefined || link.closed) break;
        this.#resend(stream, outgoing);
      }
      if (stream.size > 0 && (link === undefined || link.closed) && this.#transport.links.get(stream.nodeId) === undefined) {
        const member = this.#membership.snapshot().get(stream.nodeId);
        if (member !== undefined && member.state !== "dead" && member.state !== "left") this.#transport.connect(member.address).catch(() => {});
      }
    }
    for (const copy of this.#placed.values()) {
      if (copy.held || copy.nodeId === undefined || round - copy.sentRound < this.#resendRounds) continue;
      this.#transmitCopy(copy);
    }
    if (this.#parked.length > 0) this.#routeParked();
    if (this.#reinject.length > 0) this.#reinjectNow();
  }
}
