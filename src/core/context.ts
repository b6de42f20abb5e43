// What a handler sees of the runtime: who it is, and how to send messages onward.

import type { Logger } from "pino";
import type { MessageOf, ReplyOf, ServiceClass } from "./service.js";

export interface PublishOptions {
  /**
   * How long to wait for room when the target's queue is full, in milliseconds. Inside a handler the
   * default is what is left of the current request's deadline; elsewhere 10 000.
   */
  timeoutMs?: number;
  /**
   * Affinity key: messages with the same key go to the same node while membership is stable (hot
   * keys spill over to the next node rather than overload one). Overrides the service's `key` option.
   */
  key?: string | number;
}

export interface RequestOptions {
  /** How long to wait for the reply. Nested requests never outlive the request that made them. Default 10 000. */
  timeoutMs?: number;
  /** Affinity key, as for publish. */
  key?: string | number;
}

export interface Context {
  /** Id of the service handling this message. */
  readonly service: string;
  /** Id of the node this handler runs on. */
  readonly node: string;
  /** 1 on the first attempt, 2 on the first retry, and so on. 0 in `onStart`. */
  readonly attempt: number;
  /** Absolute deadline on the node's clock (ms) inherited by nested calls; Infinity when there is none. */
  readonly deadline: number;
  /** The node's logger, bound to this service. */
  readonly log: Logger;
  /**
   * Sends a message to a service, wherever it runs. Resolves once the message is accepted.
   * The message being handled counts as done only when every message published here was accepted
   * too, so an un-awaited publish that fails makes this message fail (and be retried) rather than
   * vanish.
   */
  publish<C extends ServiceClass>(service: C, message: MessageOf<C>, options?: PublishOptions): Promise<void>;
  /** Sends a message and resolves with the target handler's return value. */
  request<C extends ServiceClass>(service: C, message: MessageOf<C>, options?: RequestOptions): Promise<ReplyOf<C>>;
  /**
   * Runs `call`, a use of an external resource (a database, an API), and resolves or rejects as it
   * does. Kaffix times it on each node and gossips the mean latency, so placement moves the service
   * to the nodes that reach `name` fastest, e.g. `ctx.dependency("postgres", () => pool.query(sql))`.
   * At most 16 names per service are timed; further names still run.
   */
  dependency<T>(name: string, call: () => T | PromiseLike<T>): Promise<Awaited<T>>;
}
