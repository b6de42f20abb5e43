// Cross-node delivery: routes messages to other nodes, holds them until they are safe, and reroutes them when a node dies.
//
// The protocol's bytes are in frames.ts, how it keeps messages safe in ARCHITECTURE.md ("Cross-node
// delivery"), the contract users get in docs/delivery.md. This class wires the parts: outbox streams,
// parking (parking.ts), copies (copy-keeper.ts), the receiving side (inbound.ts) and the router.

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
import { decode } from "../wire/codec.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/frame.js";
import { ClusterRouter } from "./cluster-router.js";
import { CopyKeeper } from "./copy-keeper.js";
import { ControlKind, DataKind, decodeControl, decodeData, decodeWireError, encodeMessage, forEachInRanges, type ControlFrame } from "./frames.js";
import { Inbound } from "./inbound.js";
import type { Outgoing } from "./outgoing.js";
import { Parking } from "./parking.js";
import { peerRoute, type PeerRouteHost } from "./peer-route.js";
import type { MessagingOptions, MessagingStats } from "./messaging-options.js";
import { DEFAULT_WINDOW, PeerStream } from "./peer-stream.js";

export type { MessagingOptions, MessagingStats } from "./messaging-options.js";

/** A message not acknowledged as held within this long is sent again (the receiver dedupes). */
const RESEND_MS = 1_000;
/** A message held but not finished is asked about again after this many times RESEND_MS. */
const HELD_RESEND_FACTOR = 10;

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
  readonly #copies: CopyKeeper;
  readonly #parking: Parking;
  /** Nodes that left, and the round after which the copies held for them are re-injected. */
  readonly #leaving = new Map<string, number>();
  /** Nodes being dialed by the maintenance round. */
  readonly #relinking = new Set<string>();
  #nextSeq = 1;
  /** Maintenance rounds so far (from 1); a transmission records the round it happened in. */
  #round = 1;
  readonly #resendRounds: number;
  #timer: TimerHandle | undefined;
  #refusing = false;
  #stopped = false;
  /** No other member alive (kept up to date from membership changes). */
  #alone = true;
  readonly #unsubscribe: () => void;
  readonly #counts = { sent: 0, resent: 0, rerouted: 0, malformed: 0 };
  readonly #routeHost: PeerRouteHost;
  /** Where fresh messages wait when every peer running their service is out of credit. */
  readonly #waitRoute: RemoteRoute;

  constructor(options: MessagingOptions) {
    this.#runtime = options.runtime;
    this.#transport = options.transport;
    this.#membership = options.membership;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#window = options.window ?? DEFAULT_WINDOW;
    this.#router = new ClusterRouter({
      selfId: options.membership.nodeId,
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
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      get refusing() {
        return messaging.#refusing;
      },
    });
    this.#deadlines = new RequestDeadlines(this.#clock);
    this.#copies = new CopyKeeper({
      membership: this.#membership,
      transport: this.#transport,
      contracts: options.contracts,
      logger: this.#log,
      nextSeq: () => this.#nextSeq++,
      round: () => this.#round,
      release: (nodeId, seq) => this.#inbound.release(nodeId, seq),
    });
    this.#parking = new Parking({
      runtime: this.#runtime,
      clock: this.#clock,
      pick: (outgoing) => this.#router.pick(outgoing.service, this.#runtime.localMailbox(outgoing.service), outgoing.key, outgoing.refusedBy),
      send: (stream, outgoing) => this.#send(stream, outgoing),
      undeliverable: (outgoing, node, error) => this.#undeliverable(outgoing, node, error),
      get stopped() {
        return messaging.#stopped;
      },
    });
    this.#routeHost = {
      send: (stream, outgoing) => this.#send(stream, outgoing),
      wait: (outgoing, waitMs) => this.#parking.wait(outgoing, waitMs),
      track: (outgoing) => this.#deadlines.track(outgoing),
      now: () => this.#clock.now(),
    };
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
    return { ...this.#counts, ...this.#inbound.stats, outbox, parked: this.#parking.size, heldCopies: this.#inbound.held.count };
  }

  // ── ClusterSide: what the runtime asks ──────────────────────────────────────────────────────────

  get alone(): boolean {
    return this.#alone;
  }

  route(serviceId: string, local: Mailbox | undefined, key: string | undefined): Route | undefined {
    const picked = this.#router.pick(serviceId, local, key);
    if (picked === undefined || picked instanceof Mailbox) return picked;
    if (picked === "saturated" || picked === "unreachable") return this.#waitRoute;
    return this.#routes.get(picked) ?? this.#routeTo(picked);
  }

  copy(delivery: Delivery): Promise<void> | undefined {
    return this.#copies.copy(delivery);
  }

  // ── Lifecycle ───────────────────────────────────────────────────────────────────────────────────

  /** From now on peers' new messages are refused with STOPPING (they reroute them at once). */
  refuseNew(): void {
    this.#refusing = true;
  }

  /** Resolves once nothing this node sent is unfinished (or at `deadline`): safe to leave. */
  async drained(deadline: number): Promise<boolean> {
    while (this.#clock.now() < deadline) {
      if (this.stats.outbox === 0 && this.#parking.size === 0 && this.#copies.size === 0) return true;
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
    const stopping = new KaffixError("STOPPING", "the node stopped before the message was safe");
    this.#parking.stop(stopping);
    for (const stream of this.#streams.values()) for (const outgoing of stream.entries.values()) if (!outgoing.held) outgoing.refuse(stopping);
    this.#deadlines.rejectAll(stopping);
    this.#copies.stop(stopping);
  }

  // ── Sending ─────────────────────────────────────────────────────────────────────────────────────

  #stream(nodeId: string): PeerStream {
    let stream = this.#streams.get(nodeId);
    if (stream === undefined) this.#streams.set(nodeId, (stream = new PeerStream(nodeId, this.#window)));
    return stream;
  }

  /** The route the runtime uses for one peer (or, for undefined, for waiting until one has credit). */
  #routeTo(stream: PeerStream | undefined): RemoteRoute {
    const route = peerRoute(stream, this.#routeHost);
    if (stream !== undefined) this.#routes.set(stream, route);
    return route;
  }

  #send(stream: PeerStream, outgoing: Outgoing): void {
    outgoing.seq = this.#nextSeq++;
    outgoing.held = false; // a reroute: the new node has not said it holds it
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
    const trace = outgoing.trace === undefined ? undefined : outgoing.hopContext(link, this.#runtime.tracing);
    try {
      if (link.send("data", encodeMessage(outgoing.seq, floor, outgoing.service, outgoing.body, timeoutMs, trace))) outgoing.sentRound = this.#round;
    } catch (error) {
      // Closed under us: sent again on the next link. Anything else (over the peer's frame limit) will
      // never pass: the message fails, typed, instead of being retried forever.
      if (error instanceof KaffixError && error.code === "LINK_CLOSED") return;
      stream.remove(outgoing.seq);
      this.#undeliverable(outgoing, stream.nodeId, toKaffixError(error, "INVALID_ARGUMENT"));
    }
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
        if (stream.size < before) this.#parking.schedule(); // credit came back: route what waits
      }
      this.#copies.received(from, frame.received);
      return;
    }
    // NACK: refused, never processed there.
    const error = KaffixError.fromWire(frame.error);
    const outgoing = stream?.remove(frame.seq);
    if (outgoing !== undefined) return this.#refused(outgoing, from, error);
    this.#copies.refused(from, frame.seq);
  }

  #refused(outgoing: Outgoing, by: string, error: KaffixError): void {
    if (error.retryable) {
      this.#router.refuse(by, outgoing.service);
      (outgoing.refusedBy ??= []).push(by);
      this.#counts.rerouted++;
      this.#parking.park(outgoing);
      return;
    }
    this.#undeliverable(outgoing, by, error);
  }

  /** No node can ever take this message: its publisher hears why, or, accepted long ago, it is dead-lettered here. */
  #undeliverable(outgoing: Outgoing, node: string, error: KaffixError): void {
    if (outgoing.awaitingAcceptance || outgoing.isRequest) return outgoing.refuse(error);
    this.#log.error({ service: outgoing.service, node, code: error.code, err: error.message }, "a message can not be delivered; it is dead-lettered here");
    this.#runtime.deadLetters.add({ service: outgoing.service, message: outgoing.message, error: error.toWire(), attempts: 0, at: new Date(this.#clock.now()).toISOString() });
    outgoing.refuse(error);
  }

  #onReply(from: string, seq: number, ok: boolean, body: Uint8Array): void {
    const stream = this.#streams.get(from);
    const outgoing = stream?.remove(seq);
    if (outgoing === undefined) return; // late: it timed out or was rerouted
    this.#parking.schedule();
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
    if (stream !== undefined) for (const outgoing of stream.entries.values()) if (!outgoing.settled) this.#resend(stream, outgoing);
    this.#copies.linked(link.remote.nodeId);
    this.#inbound.retry();
  }

  #resend(stream: PeerStream, outgoing: Outgoing): void {
    this.#counts.resent++;
    this.#transmit(stream, outgoing);
  }

  #membershipChanged(change: MembershipDiff, snapshot: MembershipSnapshot): void {
    this.#router.invalidate();
    this.#parking.schedule(); // a replica may have appeared for what waits
    const alone = snapshot.live().length <= 1;
    if (alone && !this.#alone) {
      this.#log.warn("no other node is alive: messages accepted here have no second copy until one joins (the guarantee of a cluster of one)");
    }
    this.#alone = alone;
    for (const member of change.died) this.#gone(member.nodeId, true);
    for (const member of change.left) this.#gone(member.nodeId, false);
  }

  /**
   * A node died or left: what it held for us is rerouted, what we held for it is re-injected; after a
   * leave, a round later (the releases it sent on the data lane may be overtaken by its leave).
   */
  #gone(nodeId: string, died: boolean): void {
    const stream = this.#streams.get(nodeId);
    if (stream !== undefined) {
      this.#streams.delete(nodeId);
      this.#routes.delete(stream);
      const orphans = stream.takeAll();
      if (orphans.length > 0) this.#log.info({ node: nodeId, messages: orphans.length }, "rerouting messages the departed node had not finished");
      for (const outgoing of orphans) {
        this.#counts.rerouted++;
        outgoing.refusedBy = undefined;
        if (!outgoing.settled) this.#parking.park(outgoing);
      }
    }
    if (died) this.#inbound.forget(nodeId);
    else this.#leaving.set(nodeId, this.#round + 2);
    this.#copies.gone(nodeId);
  }

  /** Dials a member we hold messages for (one dial at a time); a refused dial means no process listens there: reroute now. */
  #relink(nodeId: string, address: string): void {
    if (this.#relinking.has(nodeId)) return;
    this.#relinking.add(nodeId);
    const done = () => this.#relinking.delete(nodeId);
    this.#transport.connect(address).then(done, (error: unknown) => {
      done();
      if ((error as { code?: unknown }).code !== "ECONNREFUSED" || !this.#streams.has(nodeId)) return;
      this.#log.info({ node: nodeId, address }, "a node holding our messages refuses connections (its process is gone): rerouting them");
      this.#gone(nodeId, true);
    });
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
        // Not yet held: sent again after a second. Held but not done after ten: asked again (the
        // receiver answers from its dedupe window), in case a "done" was lost with a full queue.
        const rounds = outgoing.held ? this.#resendRounds * HELD_RESEND_FACTOR : this.#resendRounds;
        if (round - outgoing.sentRound < rounds) continue;
        link ??= this.#transport.links.get(stream.nodeId);
        if (link === undefined || link.closed) continue;
        this.#resend(stream, outgoing);
      }
      if (stream.size > 0 && (link === undefined || link.closed) && this.#transport.links.get(stream.nodeId) === undefined) {
        const member = this.#membership.snapshot().get(stream.nodeId);
        if (member !== undefined && member.state !== "dead" && member.state !== "left") this.#relink(stream.nodeId, member.address);
      }
    }
    for (const [nodeId, at] of this.#leaving) {
      if (round < at) continue;
      this.#leaving.delete(nodeId);
      this.#inbound.forget(nodeId);
    }
    this.#copies.resend(this.#resendRounds);
    this.#parking.route();
    this.#inbound.reinject();
    this.#inbound.retry();
  }
}
