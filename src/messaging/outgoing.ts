// One message this node sent to another and still holds: until the receiver says it is done, it may be resent or rerouted.

import type { Span, SpanContext } from "@opentelemetry/api";
import { endSpan, sendingTrace, type Tracing } from "../core/tracing.js";
import type { Link } from "../transport/transport.js";
import { deferred, type Deferred } from "../core/deferred.js";
import type { Delivery } from "../core/delivery.js";
import type { Expirable } from "../core/request-deadlines.js";
import type { KaffixError } from "../errors.js";


const EMPTY = new Uint8Array(0);

export class Outgoing implements Expirable {
  // Fixed at construction.
  readonly service: string;
  /** Dropped (with `body`) once a request settles: deadline tracking keeps the shell a little longer. */
  message: unknown;
  /** The message, codec-encoded once; every resend and reroute reuses these bytes. */
  body: Uint8Array;
  readonly key: string | undefined;
  /** Absolute deadline for requests; Infinity for published messages. */
  readonly deadline: number;
  readonly isRequest: boolean;
  // Mutable state.
  /** Unique per sending node; a reroute gives the message a new one. 0 while parked. */
  seq = 0;
  /** Node the message was last sent to; undefined while parked. */
  nodeId: string | undefined;
  /** Maintenance round of the last transmission (see Messaging); 0 when it could not be written yet. */
  sentRound = 0;
  /** The receiver said it holds the message. */
  held = false;
  /** A request's caller has its answer, or a publish failed for good: nothing more happens. */
  settled = false;
  /** How long the publisher is willing to wait for its message to be held somewhere (its timeoutMs). */
  waitMs = Infinity;
  /** Set when a message still awaiting acceptance is first parked: after it, the publisher gets an error. */
  acceptBy = Infinity;
  /** Nodes that refused the message (not running the service, stopping); skipped when it is rerouted. */
  refusedBy: string[] | undefined;
  /** The sender's span context (tracing on); the hop span continues it. */
  readonly trace: SpanContext | undefined = sendingTrace.current;
  /** The network hop's span: from the first transmission until a receiver holds the message (or replied). */
  hop: Span | undefined;
  /** A publisher still waiting to hear its message is held somewhere. */
  #accepted: Deferred<void> | undefined;
  /** The message whose handler published this one, waiting for it to be safe. */
  #custodian: Delivery | undefined;
  #reply: Deferred<unknown> | undefined;

  constructor(service: string, message: unknown, body: Uint8Array, key: string | undefined, deadline: number, isRequest: boolean) {
    this.service = service;
    this.message = message;
    this.body = body;
    this.key = key;
    this.deadline = deadline;
    this.isRequest = isRequest;
  }

  /**
   * The trace context to send to `link`'s node: the hop span's, started at the first transmission.
   * Undefined toward a peer that does not read traced frames (an older build would drop them).
   */
  hopContext(link: Link, tracing: Tracing): SpanContext | undefined {
    if (this.trace === undefined || !tracing.on || link.remote.features?.includes("trace") !== true) return undefined;
    this.hop ??= tracing.startHop(this.service, link.remote.nodeId, this.trace);
    return this.hop.spanContext();
  }

  /** A publish: `resolve` once a receiver holds it; `custodian` hears childSafe at that moment too. */
  static publish(service: string, message: unknown, body: Uint8Array, key: string | undefined, custodian: Delivery | undefined): { outgoing: Outgoing; accepted: Promise<void> } {
    const outgoing = new Outgoing(service, message, body, key, Infinity, false);
    outgoing.#custodian = custodian;
    outgoing.#accepted = deferred<void>();
    return { outgoing, accepted: outgoing.#accepted.promise };
  }

  static request(service: string, message: unknown, body: Uint8Array, key: string | undefined, deadline: number): { outgoing: Outgoing; reply: Promise<unknown> } {
    const outgoing = new Outgoing(service, message, body, key, deadline, true);
    outgoing.#reply = deferred<unknown>();
    return { outgoing, reply: outgoing.#reply.promise };
  }

  /** True while a publisher waits to hear that the message is held: it may still be refused. */
  get awaitingAcceptance(): boolean {
    return this.#accepted !== undefined;
  }

  /** A receiver holds the message (or processed it): the publisher's promise resolves, the custodian hears. */
  markHeld(): void {
    this.held = true;
    if (this.hop !== undefined && !this.isRequest) this.#endHop();
    const accepted = this.#accepted;
    this.#accepted = undefined;
    accepted?.resolve();
    const custodian = this.#custodian;
    this.#custodian = undefined;
    custodian?.childSafe();
  }

  /** The message will never be delivered: its publisher gets `error` (a custodian stops waiting). */
  refuse(error: KaffixError): void {
    this.settled = true;
    const accepted = this.#accepted;
    this.#accepted = undefined;
    accepted?.reject(error);
    const custodian = this.#custodian;
    this.#custodian = undefined;
    custodian?.childSafe();
    this.reject(error);
  }

  /** A request's reply arrived. */
  resolve(value: unknown): void {
    const reply = this.#reply;
    this.#settle();
    reply?.resolve(value);
  }

  /** A request failed (its error reply, a timeout, or no node left to try). */
  reject(error: KaffixError): void {
    const reply = this.#reply;
    this.#settle(error);
    reply?.reject(error);
  }

  #endHop(error?: KaffixError): void {
    endSpan(this.hop!, error);
    this.hop = undefined;
  }

  #settle(error?: KaffixError): void {
    if (this.hop !== undefined) this.#endHop(error);
    this.#reply = undefined;
    this.settled = true;
    if (!this.isRequest) return;
    this.message = undefined;
    this.body = EMPTY;
  }
}
