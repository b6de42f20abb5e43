// One message on its way through a local mailbox; it doubles as the handler's Context, so a message costs one object.

import type { Logger } from "pino";
import { KaffixError } from "../errors.js";
import type { Context, PublishOptions, RequestOptions } from "./context.js";
import type { MessageOf, ReplyOf, ServiceClass } from "./service.js";

/** The promise every immediately accepted publish returns: shared, so the fast path allocates nothing. */
export const ACCEPTED: Promise<void> = Promise.resolve();

/** What a Delivery needs from the node it runs on. */
export interface DeliveryHost {
  readonly nodeId: string;
  publish(target: ServiceClass | string, message: unknown, options: PublishOptions | undefined, parent: Delivery): Promise<void>;
  request(target: ServiceClass | string, message: unknown, options: RequestOptions | undefined, parent: Delivery): Promise<unknown>;
}

type Resolve = (value: unknown) => void;
type Reject = (error: KaffixError) => void;

const noop = () => {};

export class Delivery implements Context {
  // Fixed at construction.
  readonly service: string;
  readonly message: unknown;
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
  /** Set for requests only: where the reply goes. */
  #resolve: Resolve | undefined;
  #reject: Reject | undefined;

  constructor(host: DeliveryHost, service: string, log: Logger, message: unknown, deadline: number) {
    this.#host = host;
    this.service = service;
    this.log = log;
    this.message = message;
    this.deadline = deadline;
  }

  /** Makes this delivery a request whose outcome settles a caller's promise. */
  expectReply(resolve: Resolve, reject: Reject): void {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get node(): string {
    return this.#host.nodeId;
  }

  get isRequest(): boolean {
    return this.#resolve !== undefined;
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
    return this.#host.request(service, message, options, this) as Promise<ReplyOf<C>>;
  }

  /** Publishes made by the current attempt that were not accepted at once; clears the list. */
  takePending(): Promise<void>[] | undefined {
    const pending = this.#pending;
    this.#pending = undefined;
    return pending;
  }

  resolve(value: unknown): void {
    if (this.settled || this.#resolve === undefined) return;
    this.settled = true;
    this.#resolve(value);
  }

  reject(error: KaffixError): void {
    if (this.settled || this.#reject === undefined) return;
    this.settled = true;
    this.#reject(error);
  }
}
