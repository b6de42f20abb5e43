// The class a user extends to write a service, and the types that tie a service class to its message and reply.

import type { Context } from "./context.js";

/**
 * A service: one class, one message type. The runtime creates one instance per node where the
 * service is active and calls `onMessage` for each message addressed to it.
 *
 * The reply type of `ctx.request(S, …)` is whatever `onMessage` returns (awaited).
 */
export abstract class Service<Message = unknown, Reply = unknown> {
  /** Makes the type nominal: only classes that extend Service can be added, published or requested to. */
  declare private readonly kaffixService: void;

  // A subclass may declare `static id = "..."` as its wire id (the class name otherwise). It is not
  // declared here so that subclasses need no `override` keyword under noImplicitOverride.

  abstract onMessage(message: Message, ctx: Context): Reply | Promise<Reply>;

  /** Called when the service becomes active on this node, before its first message. */
  onStart?(ctx: Context): void | Promise<void>;

  /** Called when the service is deactivated on this node, after its last message. */
  onStop?(): void | Promise<void>;
}

/** A concrete service class, as passed to `addService`, `publish` and `request`. */
export type ServiceClass<S extends Service<any, any> = Service<any, any>> = (new () => S) & {
  /** Wire id; the class name when not set. Must be the same on every node of a cluster. */
  id?: string;
  /**
   * A label for the shape of the service's messages and replies, e.g. "v2". Change it when the
   * contract changes: during a rolling upgrade, nodes route a service's messages only to nodes
   * whose label matches theirs. Default "".
   */
  contract?: string;
};

/**
 * The message type a service class accepts: inferred from the class, so both `Service<M>` and the
 * parameter type of `onMessage` count (a handler that ignores its message still accepts `M`).
 */
export type MessageOf<C extends ServiceClass> = InstanceType<C> extends Service<infer M, any> ? M : never;

/** What `request` resolves to for a service class: the awaited return type of `onMessage`. */
export type ReplyOf<C extends ServiceClass> = Awaited<ReturnType<InstanceType<C>["onMessage"]>>;

/** Anything with a `parse` method that returns the message or throws, e.g. a zod schema. */
export interface MessageSchema<M> {
  parse(input: unknown): M;
}

/** Per-service settings given to `addService`. Every field is optional. */
export interface ServiceOptions<M = unknown> {
  /** Handlers of this service running at once on one node. Default 64. */
  concurrency?: number;
  /** Messages waiting on one node beyond those in flight; publishers wait when it is full. Default 10 000. */
  queueLimit?: number;
  /** Extra attempts after a handler throws for a published message. Default 3. */
  retries?: number;
  /** First retry delay; doubles each attempt, with jitter, capped at 30 s. Default 100. */
  retryBackoffMs?: number;
  /** Validates messages that arrive from outside the process and from `app.publish`/`app.request`. */
  schema?: MessageSchema<M>;
  /**
   * Affinity: the key of a message; messages with the same key go to the same node while membership
   * is stable (consistent hashing with bounded loads), e.g. `msg => msg.userId`.
   */
  key?: (message: M) => string | number;
  // Placement hints: accepted and validated now, acted on by the placement layer.
  /** Replicas to keep on different nodes (used by placement, validated now). */
  minReplicas?: number;
  /** Upper bound on active replicas. Default: no bound. */
  maxReplicas?: number;
  /** Run on every node (or every region): for user-facing services. */
  spread?: boolean;
  /** Prefer nodes started with this label, e.g. "postgres". */
  near?: string;
  /** Prefer nodes in this region. */
  region?: string;
}

/** The wire id of a service class. */
export function serviceIdOf(service: ServiceClass): string {
  const declared = Object.prototype.hasOwnProperty.call(service, "id") ? service.id : undefined;
  return declared ?? service.name;
}
