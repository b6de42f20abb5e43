// One message on its way through a local mailbox; it doubles as the handler's Context, so a message costs one object.

import type { Logger } from "pino";
import type { Span, SpanContext } from "@opentelemetry/api";
import { KaffixError } from "../errors.js";
import { sendingTrace } from "./tracing.js";
import type { Context, PublishOptions, RequestOptions } from "./context.js";
import type { MessageOf, ReplyOf, ServiceClass } from "./service.js";

/** The promise every immediately accepted publish returns: shared, so the fast path allocates nothing. */
export const ACCEPTED: Promise<void> = Promise.resolve();

/** What a Delivery needs from the node it runs on. */
export interface DeliveryHost {
  readonly nodeId: string;
  publish(target: ServiceClass | string, message: unknown, options: PublishOptions | undefined, parent: Delivery): Promise<void>;
  request(target: ServiceClass | string, message: unknown, options: RequestOptions | undefined, parent: Delivery): Promise<unknown>;
  /** Runs and times a call to a named external dependency on behalf of `service`. */
  dependency<T>(service: string, name: string, call: () => T | PromiseLike<T>): Promise<Awaited<T>>;
}

/**
 * Told when a message is safe: its handler finished (or it failed for good) and every message the
 * handler published is safe in turn — processed here, or held by the node it was sent to.
 */
export interface CustodyOwner {
  childSafe(child: Delivery): void;
}

/** The owner of nested requests' custody: the caller is waiting for the reply, so nothing else needs telling. */
export const REPLY_ONLY: CustodyOwner = { childSafe() {} };

/** Where a request's outcome goes: the caller's promise, or the reply frame to another node. */
export interface ReplyTo {
  resolve(value: unknown): void;
  reject(error: KaffixError): void;
}

const noop = () => {};

interface DeliverySide {
  span: Span | undefined;
  /** Of a timed attempt: ms spent awaiting nested requests and dependencies (overlaps counted once). */
  waitedMs: number;
  waits: number;
  waitFrom: number;
}

function newSide(): DeliverySide {
  return { span: undefined, waitedMs: 0, waits: 0, waitFrom: 0 };
}

export class Delivery implements Context, CustodyOwner {
  // Fixed at construction.
  readonly service: string;
  /** Dropped once a request is answered: the deadline sweep may keep the delivery a little longer. */
  message: unknown;
  readonly deadline: number;
  readonly log: Logger;
  readonly #host: DeliveryHost;
  // Mutable state, owned by the mailbox.
  attempt = 0;
  /** Clock time the current attempt started, or 0 when it is not being timed. */
  startedAt = 0;
  /** True once a request's caller has its answer (reply, error or timeout): later outcomes are dropped. */
  settled = false;
  #pending: Promise<void>[] | undefined;
  /**
   * Custody: who must hear when this message is safe. Undefined for a message nobody else holds (the
   * single-node fast path): its outcome is reported at once.
   */
  owner: CustodyOwner | undefined;
  /** Messages published by this one's handler that are not safe yet. */
  unsafe = 0;
  /**
   * 0 while the handler has not finished; 1 succeeded, 2 failed for good (the outcome waits for
   * `unsafe` to reach 0); 3 once reported. A child published after that (by a handler that publishes
   * after returning) is counted but reports to no one: the owner hears once.
   */
  #outcome: 0 | 1 | 2 | 3 = 0;
  #outcomeValue: unknown;
  /** Set for requests only: where the reply goes. */
  #replyTo: ReplyTo | undefined;
  /** The trace context the message carries (tracing on): its handler's span is a child of it. */
  trace: SpanContext | undefined;
  /** What few messages need (a span, a timed attempt's waits), apart: every field here costs every message. */
  #side: DeliverySide | undefined;

  constructor(host: DeliveryHost, service: string, log: Logger, message: unknown, deadline: number) {
    this.#host = host;
    this.service = service;
    this.log = log;
    this.message = message;
    this.deadline = deadline;
    this.trace = sendingTrace.current;
  }

  /** Makes this delivery a request whose outcome settles a caller's promise. */
  expectReply(replyTo: ReplyTo): void {
    this.#replyTo = replyTo;
  }

  get node(): string {
    return this.#host.nodeId;
  }

  get isRequest(): boolean {
    return this.#replyTo !== undefined;
  }

  publish<C extends ServiceClass>(service: C, message: MessageOf<C>, options?: PublishOptions): Promise<void> {
    const accepted = this.#host.publish(service, message, options, this);
    if (accepted !== ACCEPTED) {
      // Held until the handler ends; the no-op catch keeps an un-awaited failure from crashing the process,
      // the mailbox still sees it through takePending().
      accepted.catch(noop);
      (this.#pending ??= []).push(accepted);
    }
    return accepted;
  }

  request<C extends ServiceClass>(service: C, message: MessageOf<C>, options?: RequestOptions): Promise<ReplyOf<C>> {
    if (this.startedAt === 0) return this.#host.request(service, message, options, this) as Promise<ReplyOf<C>>;
    // The wait starts before the call: a local request may run its handler inside it, and that work is the callee's.
    this.#beginWait();
    return this.#timeWait(this.#host.request(service, message, options, this) as Promise<ReplyOf<C>>);
  }

  dependency<T>(name: string, call: () => T | PromiseLike<T>): Promise<Awaited<T>> {
    if (this.startedAt === 0) return this.#host.dependency(this.service, name, call);
    this.#beginWait();
    return this.#timeWait(this.#host.dependency(this.service, name, call));
  }

  /** The span of the handler's current attempt, while it runs (tracing on). */
  get span(): Span | undefined {
    return this.#side?.span;
  }

  set span(span: Span | undefined) {
    if (span !== undefined || this.#side !== undefined) (this.#side ??= newSide()).span = span;
  }

  /** Starts timing a timed attempt (one in eight) afresh: no wait counted, none open. */
  startTiming(at: number): void {
    this.startedAt = at;
    const side = this.#side;
    if (side !== undefined) side.waitedMs = side.waits = 0;
  }

  #beginWait(): void {
    const side = (this.#side ??= newSide());
    if (side.waits++ === 0) side.waitFrom = performance.now();
  }

  /**
   * A timed attempt (one in eight) counts the time its handler spends awaiting replies and
   * dependencies: overlapping waits count once. What is left of its duration is the node's own work.
   */
  #timeWait<T>(pending: Promise<T>): Promise<T> {
    const side = this.#side!;
    const end = () => {
      if (--side.waits === 0) side.waitedMs += performance.now() - side.waitFrom;
    };
    return pending.then(
      (value) => {
        end();
        return value;
      },
      (error: unknown) => {
        end();
        throw error;
      },
    );
  }

  /** Time the current timed attempt has spent waiting so far, ms (see #timeWait). */
  get waitedSoFarMs(): number {
    const side = this.#side;
    if (side === undefined) return 0;
    return side.waitedMs + (side.waits > 0 ? performance.now() - side.waitFrom : 0);
  }

  /** Publishes made by the current attempt that were not accepted at once; clears the list. */
  takePending(): Promise<void>[] | undefined {
    const pending = this.#pending;
    this.#pending = undefined;
    return pending;
  }

  /** A child published by this message's handler is now tracked; it reports back through childSafe. */
  childStarted(): void {
    this.unsafe++;
  }

  childSafe(): void {
    if (--this.unsafe === 0 && (this.#outcome === 1 || this.#outcome === 2)) this.#complete();
  }

  /** The handler succeeded: the reply (if any) and the owner's news wait until every child is safe. */
  finish(value: unknown): void {
    if (this.owner === undefined) return this.resolve(value);
    if (this.#outcome !== 0) return;
    this.#outcome = 1;
    this.#outcomeValue = value;
    if (this.unsafe === 0) this.#complete();
  }

  /** The message failed for good (dead-lettered, or a request's error): it is done all the same. */
  fail(error: KaffixError): void {
    if (this.owner === undefined) return this.reject(error);
    if (this.#outcome !== 0) return;
    this.#outcome = 2;
    this.#outcomeValue = error;
    if (this.unsafe === 0) this.#complete();
  }

  #complete(): void {
    const succeeded = this.#outcome === 1;
    this.#outcome = 3;
    if (succeeded) this.resolve(this.#outcomeValue);
    else this.reject(this.#outcomeValue as KaffixError);
    this.#outcomeValue = undefined;
    this.owner!.childSafe(this);
  }

  resolve(value: unknown): void {
    if (this.settled || this.#replyTo === undefined) return;
    this.settled = true;
    this.message = undefined;
    this.#replyTo.resolve(value);
  }

  reject(error: KaffixError): void {
    if (this.settled || this.#replyTo === undefined) return;
    this.settled = true;
    this.message = undefined;
    this.#replyTo.reject(error);
  }
}
