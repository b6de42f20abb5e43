// The receiving side: messages, requests and copies from other nodes, the dedupe window, and batched acks.

import type { SpanContext } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import { ACCEPTED, type CustodyOwner, type ReplyTo } from "../core/delivery.js";
import type { NodeRuntime } from "../core/node-runtime.js";
import { KaffixError, toKaffixError, type WireError } from "../errors.js";
import type { Link } from "../transport/transport.js";
import { decode, encode } from "../wire/codec.js";
import { HeldCopies } from "./copies.js";
import { encodeAck, encodeNack, encodeRelease, encodeReply, forEachInRanges, MAX_RANGES, RangeList, type DataFrame } from "./frames.js";
import { MAX_OPEN_PER_SENDER, RemoteOrigin, SenderState } from "./sender-state.js";

/** How long a message from a peer may wait for room in a full queue before the peer is told QUEUE_FULL. */
const ACCEPT_WAIT_MS = 5_000;
/** Most sending nodes remembered; a sender is forgotten when it dies or leaves. */
const MAX_SENDERS = 10_000;

export interface InboundHost {
  readonly runtime: NodeRuntime;
  readonly clock: Clock;
  readonly logger: Logger;
  link(nodeId: string): Link | undefined;
  /** True once the node stops taking messages from peers. */
  readonly refusing: boolean;
  /** This node's largest payload per frame. */
  readonly maxFrameBytes: number;
}

export interface InboundStats {
  received: number;
  duplicates: number;
  refused: number;
}

export class Inbound {
  readonly held = new HeldCopies();
  readonly stats: InboundStats = { received: 0, duplicates: 0, refused: 0 };
  readonly #host: InboundHost;
  readonly #senders = new Map<string, SenderState>();
  /** Releases of copies to send, by the peer holding them. */
  readonly #releases = new Map<string, RangeList>();
  #dirty: SenderState[] = [];
  /** Copies of departed nodes waiting to be re-injected (the runtime refused them for now). */
  #reinject: { service: string; body: Uint8Array }[] = [];
  #flushScheduled = false;
  readonly #ackDone = (state: SenderState) => this.#scheduleAcks(state);
  readonly #flush = () => this.#flushNow();

  constructor(host: InboundHost) {
    this.#host = host;
  }

  /** What this node still holds for other nodes (copies), for /cluster and tests. */
  get senders(): number {
    return this.#senders.size;
  }

  receive(from: string, frame: DataFrame): void {
    switch (frame.kind) {
      case 1:
        return this.#onPublish(from, frame.seq, frame.floor, frame.serviceId, frame.body, frame.trace);
      case 2:
        return this.#onRequest(from, frame.seq, frame.floor, frame.serviceId, frame.timeoutMs, frame.body, frame.trace);
      case 3:
        return this.#onCopy(from, frame.seq, frame.serviceId, frame.body);
      case 4: {
        const held = this.held.of(from);
        if (held !== undefined) forEachInRanges(frame.ranges, held, (seq) => this.held.release(from, seq));
        return;
      }
      default:
        return; // replies are the outbound side's
    }
  }

  /** A copy this node placed on `nodeId` is no longer needed: tell it with the next flush. */
  release(nodeId: string, seq: number): void {
    let list = this.#releases.get(nodeId);
    if (list === undefined) this.#releases.set(nodeId, (list = new RangeList()));
    list.add(seq);
    this.#scheduleFlush();
  }

  /** Forgets a sender that died or left, and re-injects the copies held for it: they are ours to deliver now. */
  forget(nodeId: string): void {
    this.#senders.delete(nodeId);
    this.#releases.delete(nodeId);
    const copies = this.held.takeAll(nodeId);
    if (copies.length === 0) return;
    this.#host.logger.info({ node: nodeId, messages: copies.length }, "re-injecting messages the departed node had copied here");
    this.#reinject.push(...copies);
    this.reinject();
  }

  /** Publishes the orphaned copies as if they came from outside here; one refused now is tried again later. */
  reinject(): void {
    if (this.#reinject.length === 0) return;
    const pending = this.#reinject;
    this.#reinject = [];
    for (const copy of pending) {
      let message: unknown;
      try {
        message = decode(copy.body);
      } catch {
        continue; // it decoded when it was copied; never expected
      }
      this.#host.runtime.republish(copy.service, message, undefined).catch((thrown: unknown) => {
        const error = toKaffixError(thrown, "INTERNAL");
        if (error.retryable) return this.#reinject.push(copy); // e.g. no node runs it right now
        this.#host.logger.error({ service: copy.service, code: error.code, err: error.message }, "a re-injected message can not be delivered; it is dead-lettered here");
        this.#host.runtime.deadLetters.add({ service: copy.service, message, error: error.toWire(), attempts: 0, at: new Date(this.#host.clock.now()).toISOString() });
      });
    }
  }

  #sender(nodeId: string): SenderState {
    let state = this.#senders.get(nodeId);
    if (state === undefined) {
      if (this.#senders.size >= MAX_SENDERS) this.#senders.delete(this.#senders.keys().next().value!);
      this.#senders.set(nodeId, (state = new SenderState(nodeId)));
    }
    return state;
  }

  #onPublish(from: string, seq: number, floor: number, service: string, body: Uint8Array, trace: SpanContext | undefined): void {
    const state = this.#sender(from);
    state.advance(floor);
    const seen = state.classify(seq);
    if (seen !== "new") {
      // Sent again (a new link, or a resend): say again how far it got.
      this.stats.duplicates++;
      if (seen === "done") state.finished.add(seq);
      else state.received.add(seq);
      this.#scheduleAcks(state);
      return;
    }
    const refusal = this.#refusal(state, service);
    if (refusal !== undefined) return this.#nack(from, seq, refusal);
    let message: unknown;
    try {
      message = decode(body);
    } catch (error) {
      return this.#nack(from, seq, toKaffixError(error, "DECODE_ERROR").toWire());
    }
    const accepted = this.#host.runtime.accept(service, message, Infinity, new RemoteOrigin(state, seq, this.#ackDone), ACCEPT_WAIT_MS, undefined, trace);
    if (accepted === undefined) return this.#nack(from, seq, unavailable(service));
    this.stats.received++;
    state.open.set(seq, true);
    if (accepted === ACCEPTED) {
      state.received.add(seq);
      this.#scheduleAcks(state);
      return;
    }
    accepted.then(
      () => {
        if (!state.open.has(seq)) return;
        state.received.add(seq);
        this.#scheduleAcks(state);
      },
      (error: unknown) => {
        state.open.delete(seq);
        this.#nack(from, seq, toKaffixError(error).toWire());
      },
    );
  }

  #onRequest(from: string, seq: number, floor: number, service: string, timeoutMs: number, body: Uint8Array, trace: SpanContext | undefined): void {
    const state = this.#sender(from);
    state.advance(floor);
    // A request resent while in progress is answered once, when it finishes; a finished one runs again
    // (its reply may have been lost with a link), so request handlers should be idempotent too.
    if (state.open.has(seq)) {
      this.stats.duplicates++;
      state.received.add(seq);
      this.#scheduleAcks(state);
      return;
    }
    const refusal = this.#refusal(state, service);
    if (refusal !== undefined) return this.#nack(from, seq, refusal);
    let message: unknown;
    try {
      message = decode(body);
    } catch (error) {
      return this.reply(from, seq, false, toKaffixError(error, "DECODE_ERROR").toWire());
    }
    const deadline = this.#host.clock.now() + timeoutMs;
    const request = new RemoteRequest(this, state, seq);
    // Open before the offer: a request refused at once (its queue full) is answered, and closed, within it.
    state.open.set(seq, true);
    if (this.#host.runtime.accept(service, message, deadline, request, timeoutMs, request, trace) === undefined) {
      state.open.delete(seq);
      return this.#nack(from, seq, unavailable(service));
    }
    this.stats.received++;
    // "Received" spares the sender resending the request while it runs (it asks again only much later).
    state.received.add(seq);
    this.#scheduleAcks(state);
  }

  /** Sends a request's outcome back to the node that asked. */
  reply(to: string, seq: number, ok: boolean, value: unknown): void {
    let body: Uint8Array;
    try {
      body = encode(value);
    } catch (error) {
      ok = false;
      body = encode(toKaffixError(error, "INVALID_ARGUMENT").toWire());
    }
    const limit = this.#frameLimit(to);
    if (body.length + 10 > limit) {
      const error = new KaffixError("INVALID_ARGUMENT", `the reply of ${body.length} bytes is over the frame limit between the two nodes (${limit})`);
      ok = false;
      body = encode(error.toWire());
    }
    this.#send(to, "data", encodeReply(seq, ok, body));
  }

  #onCopy(from: string, seq: number, service: string, body: Uint8Array): void {
    const state = this.#sender(from);
    if (this.#host.refusing) return this.#nack(from, seq, stopping());
    if (!this.held.hold(from, seq, service, body)) {
      return this.#nack(from, seq, new KaffixError("QUEUE_FULL", `this node holds ${this.held.maxCount} copies already`).toWire());
    }
    state.received.add(seq);
    this.#scheduleAcks(state);
  }

  /** Why a new message from `state`'s node is refused now, or undefined. */
  #refusal(state: SenderState, service: string): WireError | undefined {
    if (this.#host.refusing) return stopping();
    if (state.open.size >= MAX_OPEN_PER_SENDER) {
      return new KaffixError("QUEUE_FULL", `more than ${MAX_OPEN_PER_SENDER} messages from one node in progress`, { data: { service } }).toWire();
    }
    return undefined;
  }

  #nack(to: string, seq: number, error: WireError): void {
    this.stats.refused++;
    this.#send(to, "control", encodeNack(seq, error));
  }

  /** Sends if a link is up; otherwise the sender's resend, after it relinks, asks again. */
  /** Sends if a link is up; false when there is none, or its queue is full (the caller keeps what it must). */
  #send(to: string, lane: "data" | "control", payload: Uint8Array): boolean {
    const link = this.#host.link(to);
    if (link === undefined || link.closed) return false;
    try {
      return link.send(lane, payload);
    } catch {
      return false; // closed under us
    }
  }

  /** The largest payload the link to `to` carries (the smaller of the two nodes' limits). */
  #frameLimit(to: string): number {
    return Math.min(this.#host.maxFrameBytes, this.#host.link(to)?.remote.maxFrameBytes ?? Infinity);
  }

  /** Ranges that fit in one ACK or RELEASE to `to`. */
  #rangesPerFrame(to: string): number {
    return Math.max(1, Math.min(MAX_RANGES, Math.floor((this.#frameLimit(to) - 10) / 16)));
  }

  /**
   * The "received" ranges without the messages that finished meanwhile (their "done" says more).
   * Copies held for the sender are never finished here: they stay.
   */
  #stillOpen(ranges: number[], state: SenderState): number[] {
    const copies = this.held.of(state.nodeId);
    const out = new RangeList();
    for (let i = 0; i < ranges.length; i += 2) {
      for (let seq = ranges[i]!; seq <= ranges[i + 1]!; seq++) if (state.open.has(seq) || copies?.has(seq)) out.add(seq);
    }
    return out.take();
  }

  #scheduleAcks(state: SenderState): void {
    if (!state.flushScheduled) {
      state.flushScheduled = true;
      this.#dirty.push(state);
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A microtask: it runs once the socket chunk being read is handled (and the handlers it started on
    // microtasks have run), so acks leave with the link's next write instead of a loop turn later.
    queueMicrotask(this.#flush);
  }

  /** One ACK per sender per socket chunk read, however many messages it covers. */
  #flushNow(): void {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const state of dirty) {
      state.flushScheduled = false;
      const received = this.#stillOpen(state.received.take(), state);
      const finished = state.finished.take();
      if (received.length + finished.length === 0) continue; // all answered by replies meanwhile
      // An ack that cannot leave is not kept: the sender asks again (it resends), and is answered then.
      if (received.length + finished.length <= 2 * MAX_RANGES && this.#frameLimit(state.nodeId) >= 10 + 8 * (received.length + finished.length)) {
        this.#send(state.nodeId, "control", encodeAck(received, finished));
        continue;
      }
      const step = 2 * this.#rangesPerFrame(state.nodeId);
      for (let i = 0; i < received.length; i += step) this.#send(state.nodeId, "control", encodeAck(received.slice(i, i + step), []));
      for (let i = 0; i < finished.length; i += step) this.#send(state.nodeId, "control", encodeAck([], finished.slice(i, i + step)));
    }
    for (const [nodeId, list] of this.#releases) {
      // A release that cannot leave now is kept for the next flush: a copy never released would be
      // re-injected, a duplicate, when its origin leaves.
      const ranges = list.take();
      const step = 2 * this.#rangesPerFrame(nodeId);
      for (let i = 0; i < ranges.length; i += step) {
        const chunk = ranges.slice(i, i + step);
        if (!this.#send(nodeId, "data", encodeRelease(chunk))) for (let j = 0; j < chunk.length; j += 2) for (let seq = chunk[j]!; seq <= chunk[j + 1]!; seq++) list.add(seq);
      }
      if (list.isEmpty) this.#releases.delete(nodeId);
    }
  }

  /** Releases that could not leave are tried again (a link came up, or the maintenance round). */
  retry(): void {
    if (this.#releases.size > 0) this.#scheduleFlush();
  }
}

/** A request from another node: the custody owner of its delivery, and where its reply goes (one object, no closures). */
class RemoteRequest implements CustodyOwner, ReplyTo {
  readonly #inbound: Inbound;
  readonly #state: SenderState;
  readonly #seq: number;

  constructor(inbound: Inbound, state: SenderState, seq: number) {
    this.#inbound = inbound;
    this.#state = state;
    this.#seq = seq;
  }

  childSafe(): void {
    this.#state.open.delete(this.#seq);
  }

  resolve(value: unknown): void {
    this.#inbound.reply(this.#state.nodeId, this.#seq, true, value);
  }

  reject(error: KaffixError): void {
    this.#state.open.delete(this.#seq);
    this.#inbound.reply(this.#state.nodeId, this.#seq, false, error.toWire());
  }
}

function unavailable(service: string): WireError {
  return new KaffixError("SERVICE_UNAVAILABLE", `service "${service}" is not active on this node`, { data: { service } }).toWire();
}

function stopping(): WireError {
  return new KaffixError("STOPPING", "this node is stopping and takes no new messages").toWire();
}
