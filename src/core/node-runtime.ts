// One node's runtime: it turns publish/request calls into deliveries, routes them, and runs the active services.

import type { SpanContext } from "@opentelemetry/api";
import type { Logger } from "pino";
import { KaffixError, toKaffixError } from "../errors.js";
import type { Clock } from "../clock.js";
import type { PublishOptions, RequestOptions } from "./context.js";
import { DeadLetters } from "./dead-letters.js";
import type { ClusterSide, Route } from "./cluster-side.js";
import { keyOf, timeoutOf } from "./call-options.js";
import { deferred } from "./deferred.js";
import { ACCEPTED, Delivery, REPLY_ONLY, type CustodyOwner, type DeliveryHost, type ReplyTo } from "./delivery.js";
import { DrainScheduler } from "./drain-scheduler.js";
import { Mailbox, type MailboxHost } from "./mailbox.js";
import { RequestDeadlines } from "./request-deadlines.js";
import { ServiceSet, until } from "./service-set.js";
import { UsageMeter } from "./usage-meter.js";
import { endSpan, sendingTrace, Tracing } from "./tracing.js";
import type { Registration, ServiceRegistry } from "./service-registry.js";
import type { ServiceClass } from "./service.js";

/** Requests run inside one another's calls at most this deep; deeper ones are queued. */
const MAX_INLINE_DEPTH = 16;

export interface NodeRuntimeOptions {
  nodeId: string;
  registry: ServiceRegistry;
  clock: Clock;
  logger: Logger;
  deadLetterLimit: number;
  random: () => number;
  observeDuration: (service: string, seconds: number) => void;
}

export class NodeRuntime implements DeliveryHost, MailboxHost {
  // Fixed at construction.
  readonly nodeId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly scheduler = new DrainScheduler();
  readonly deadLetters: DeadLetters;
  readonly random: () => number;
  readonly observeDuration: (service: string, seconds: number) => void;
  readonly #registry: ServiceRegistry;
  readonly usage: UsageMeter;
  readonly tracing: Tracing;
  readonly #services: ServiceSet;
  readonly #deadlines: RequestDeadlines;
  // Mutable state.
  #idleWaiters: (() => void)[] = [];
  #cluster: ClusterSide | undefined;
  /** Requests whose handlers run inside other calls right now (see #requestHere). */
  #inlineDepth = 0;
  /** Set once the services are stopped: late publishes fail with STOPPING, not SERVICE_UNAVAILABLE. */
  #stopped = false;

  constructor(options: NodeRuntimeOptions) {
    this.nodeId = options.nodeId;
    this.clock = options.clock;
    this.logger = options.logger;
    this.random = options.random;
    this.observeDuration = options.observeDuration;
    this.deadLetters = new DeadLetters(options.deadLetterLimit);
    this.#registry = options.registry;
    this.#deadlines = new RequestDeadlines(options.clock);
    this.usage = new UsageMeter(options.registry.ids);
    this.tracing = new Tracing(options.clock, options.nodeId);
    this.#services = new ServiceSet({ registry: options.registry, host: this, clock: options.clock, logger: options.logger });
  }

  /** The mailboxes of the services active (routable) on this node. */
  get mailboxes(): ReadonlyMap<string, Mailbox> {
    return this.#services.active;
  }

  /** Every mailbox that may still hold work: the active ones and those of services leaving this node. */
  allMailboxes(): IterableIterator<Mailbox> {
    return this.#services.all();
  }

  /** Services being moved away from this node: no new messages, finishing what they hold. */
  get retiring(): string[] {
    return this.#services.retiring;
  }

  /**
   * Starts the given services: each is created, routable but paused, then every onStart runs (so an
   * onStart may publish to any service), then handlers run. A failing onStart stops those started and rethrows.
   */
  async activateAll(ids: readonly string[]): Promise<void> {
    try {
      await this.#services.startAll(ids);
    } catch (error) {
      this.#stopped = true;
      throw error;
    }
  }

  /** Makes one more service active here (placement added a replica). */
  activate(id: string): Promise<void> {
    if (this.#stopped) return Promise.reject(new KaffixError("STOPPING", `the node is stopping; "${id}" is not started`));
    return this.#services.start(id);
  }

  /**
   * Takes a service off this node (placement moved the replica): new messages go elsewhere at once,
   * what it holds finishes here, then onStop runs. Resolves false when it was activated again meanwhile.
   */
  deactivate(id: string): Promise<boolean> {
    return this.#services.retire(id);
  }

  /**
   * Waits until queued and in-flight work is done or `deadline` passes, then stops every service:
   * what is left fails with STOPPING (and is logged as lost), then each onStop runs, bounded by what
   * is left of the deadline but given at least a second.
   */
  async deactivateAll(deadline: number): Promise<void> {
    // Mailboxes stay open while draining: handlers still running may publish to each other.
    await until(this.clock, this.whenIdle(), deadline);
    this.#stopped = true;
    const stopping = new KaffixError("STOPPING", "the node stopped before the message was processed");
    this.#deadlines.rejectAll(stopping);
    await this.#services.stopAll(deadline, stopping);
  }

  /** Runs and times a handler's call to an external dependency (`ctx.dependency`). */
  dependency<T>(service: string, name: string, call: () => T | PromiseLike<T>): Promise<Awaited<T>> {
    return this.usage.time(service, name, call);
  }

  /** Connects the runtime to the rest of the cluster: from now on a message may go to another node. */
  attach(cluster: ClusterSide): void {
    this.#cluster = cluster;
  }

  /** The local mailbox of `serviceId`, when the service is active here and accepting messages. */
  localMailbox(serviceId: string): Mailbox | undefined {
    return this.#services.active.get(serviceId);
  }

  /** The registration of a service id, or undefined for an id this app does not have. */
  registration(serviceId: string): Registration | undefined {
    return this.#registry.byId(serviceId);
  }

  publish(target: ServiceClass | string, message: unknown, options: PublishOptions | undefined, parent?: Delivery): Promise<void> {
    if (this.tracing.on) return this.#traced(false, target, parent, () => this.#publish(target, message, options, parent));
    return this.#publish(target, message, options, parent);
  }

  #publish(target: ServiceClass | string, message: unknown, options: PublishOptions | undefined, parent: Delivery | undefined): Promise<void> {
    const cluster = this.#cluster;
    if ((cluster !== undefined && !cluster.alone) || parent?.owner !== undefined) return this.#publishAnywhere(target, message, options, parent, cluster);
    // The fast path, kept in this one function: nobody else to reach and no custody to keep.
    const timeoutMs = timeoutOf(options);
    if (timeoutMs instanceof KaffixError) return Promise.reject(timeoutMs);
    const registration = this.#registrationOf(target);
    if (registration instanceof KaffixError) return Promise.reject(registration);
    if (parent !== undefined) this.usage.countSent(parent.service, registration.index);
    const mailbox = this.#route(registration, undefined, undefined);
    if (!(mailbox instanceof Mailbox)) return Promise.reject(mailbox);
    if (parent === undefined && mailbox.schema !== undefined) {
      const checked = this.#validate(registration, message);
      if (checked instanceof KaffixError) return Promise.reject(checked);
      message = checked;
    }
    let waitMs = timeoutMs;
    if (parent !== undefined && parent.deadline !== Infinity) waitMs = Math.min(waitMs, parent.deadline - this.clock.now());
    return mailbox.offer(new Delivery(this, mailbox.id, mailbox.log, message, Infinity), waitMs);
  }

  /**
   * Publishes a message that was accepted before, on this node or another (a reroute, a re-injected
   * copy): routed like a fresh one from outside any handler, without its schema checked again.
   */
  republish(serviceId: string, message: unknown, key: string | undefined): Promise<void> {
    return this.#publishAnywhere(serviceId, message, { key }, undefined, this.#cluster, true);
  }

  /** The request counterpart of `republish`. */
  rerequest(serviceId: string, message: unknown, timeoutMs: number, key: string | undefined): Promise<unknown> {
    return this.#request(serviceId, message, { timeoutMs, key }, undefined, true);
  }

  #publishAnywhere(
    target: ServiceClass | string,
    message: unknown,
    options: PublishOptions | undefined,
    parent: Delivery | undefined,
    cluster: ClusterSide | undefined,
    validated = false,
  ): Promise<void> {
    const timeoutMs = timeoutOf(options);
    if (timeoutMs instanceof KaffixError) return Promise.reject(timeoutMs);
    const registration = this.#registrationOf(target);
    if (registration instanceof KaffixError) return Promise.reject(registration);
    if (parent !== undefined) this.usage.countSent(parent.service, registration.index);
    if (parent === undefined && !validated && registration.options.schema !== undefined) {
      const checked = this.#validate(registration, message);
      if (checked instanceof KaffixError) return Promise.reject(checked);
      message = checked;
    }
    let waitMs = timeoutMs;
    if (parent !== undefined && parent.deadline !== Infinity) waitMs = Math.min(waitMs, parent.deadline - this.clock.now());
    if (cluster?.alone) cluster = undefined;
    const key = cluster === undefined ? undefined : keyOf(options, registration, message);
    if (key instanceof KaffixError) return Promise.reject(key);
    const route = this.#route(registration, key, cluster);
    if (route instanceof KaffixError) return Promise.reject(route);
    // A parent that someone holds custody of must hear when each of its children is safe.
    const custodian = parent?.owner === undefined ? undefined : parent;
    if (!(route instanceof Mailbox)) {
      custodian?.childStarted();
      return route.publish(registration.id, message, custodian, waitMs, key);
    }
    const delivery = new Delivery(this, route.id, route.log, message, Infinity);
    let copied: Promise<void> | undefined;
    if (custodian !== undefined) {
      custodian.childStarted();
      delivery.owner = custodian;
    } else if (parent === undefined && cluster !== undefined) {
      copied = cluster.copy(delivery); // before the offer: the handler may start on the next microtask
    }
    const accepted = route.offer(delivery, waitMs);
    if (delivery.owner !== undefined && accepted !== ACCEPTED) {
      // Refused: the message never ran here, so whoever counted it must stop waiting for it.
      accepted.catch(() => delivery.owner!.childSafe(delivery));
    }
    if (copied === undefined) return accepted;
    return accepted === ACCEPTED ? copied : Promise.all([accepted, copied]).then(noop);
  }

  request(target: ServiceClass | string, message: unknown, options: RequestOptions | undefined, parent?: Delivery): Promise<unknown> {
    if (this.tracing.on) return this.#traced(true, target, parent, () => this.#request(target, message, options, parent, false));
    return this.#request(target, message, options, parent, false);
  }

  /** A publish or request inside its span; the message carries the span's context to its handler. */
  #traced<T>(request: boolean, target: ServiceClass | string, parent: Delivery | undefined, send: () => Promise<T>): Promise<T> {
    const name = typeof target === "string" ? target : (this.#registry.byClass(target)?.id ?? String((target as { name?: string })?.name));
    const span = this.tracing.startSend(request, name, parent?.span, parent !== undefined);
    const outer = sendingTrace.current;
    sendingTrace.current = span.spanContext();
    let sent: Promise<T>;
    try {
      sent = send();
    } finally {
      sendingTrace.current = outer;
    }
    sent.then(
      () => endSpan(span),
      (error: unknown) => endSpan(span, error),
    );
    return sent;
  }

  #request(target: ServiceClass | string, message: unknown, options: RequestOptions | undefined, parent: Delivery | undefined, validated: boolean): Promise<unknown> {
    const timeoutMs = timeoutOf(options);
    if (timeoutMs instanceof KaffixError) return Promise.reject(timeoutMs);
    const registration = this.#registrationOf(target);
    if (registration instanceof KaffixError) return Promise.reject(registration);
    if (parent !== undefined) this.usage.countSent(parent.service, registration.index);
    if (parent === undefined && !validated && registration.options.schema !== undefined) {
      const checked = this.#validate(registration, message);
      if (checked instanceof KaffixError) return Promise.reject(checked);
      message = checked;
    }
    const now = this.clock.now();
    const deadline = Math.min(now + timeoutMs, parent === undefined ? Infinity : parent.deadline);
    const cluster = this.#cluster?.alone === false ? this.#cluster : undefined;
    const key = cluster === undefined ? undefined : keyOf(options, registration, message);
    if (key instanceof KaffixError) return Promise.reject(key);
    const route = this.#route(registration, key, cluster);
    if (route instanceof KaffixError) return Promise.reject(route);
    if (!(route instanceof Mailbox)) return route.request(registration.id, message, deadline, key);
    return this.#requestHere(route, message, deadline, now, parent);
  }

  #requestHere(mailbox: Mailbox, message: unknown, deadline: number, now: number, parent: Delivery | undefined): Promise<unknown> {
    const delivery = new Delivery(this, mailbox.id, mailbox.log, message, deadline);
    // In a held chain, the reply waits until what the handler published is safe (the caller holds nothing).
    if (parent?.owner !== undefined) delivery.owner = REPLY_ONLY;
    const reply = deferred<unknown>();
    delivery.expectReply(reply);
    // An idle mailbox runs the handler right here, as a function call would; nesting is bounded, and
    // the drain scheduler's budget still hands the event loop back after enough work.
    if (this.#inlineDepth < MAX_INLINE_DEPTH && this.scheduler.hasBudget) {
      this.#inlineDepth++;
      let ran: boolean;
      try {
        ran = mailbox.runNow(delivery);
      } finally {
        this.#inlineDepth--;
      }
      if (ran) {
        if (!delivery.settled) this.#deadlines.track(delivery);
        return reply.promise;
      }
    }
    this.#deadlines.track(delivery);
    const accepted = mailbox.offer(delivery, deadline - now);
    if (accepted !== ACCEPTED) accepted.catch((error: unknown) => delivery.reject(toKaffixError(error, "INTERNAL")));
    return reply.promise;
  }

  /**
   * Offers a message that arrived from another node (or is re-injected) to the local mailbox of
   * `serviceId`, under the custody of `owner`. A request names where its outcome goes (`replyTo`)
   * and is timed out at `deadline` like a local one. Resolves once queued (ACCEPTED at once when
   * there is room); undefined when the service is not active here.
   */
  accept(
    serviceId: string,
    message: unknown,
    deadline: number,
    owner: CustodyOwner,
    waitMs: number,
    replyTo?: ReplyTo,
    trace?: SpanContext,
  ): Promise<void> | undefined {
    const mailbox = this.#services.active.get(serviceId);
    if (mailbox === undefined) return undefined;
    const delivery = new Delivery(this, mailbox.id, mailbox.log, message, deadline);
    delivery.owner = owner;
    delivery.trace = trace;
    if (replyTo !== undefined) {
      delivery.expectReply(replyTo);
      this.#deadlines.track(delivery);
    }
    const accepted = mailbox.offer(delivery, waitMs);
    if (replyTo !== undefined && accepted !== ACCEPTED) accepted.catch((error: unknown) => delivery.reject(toKaffixError(error, "INTERNAL")));
    return accepted;
  }

  /** Resolves once every active service has nothing queued and nothing in flight. */
  whenIdle(): Promise<void> {
    if (this.#allIdle()) return ACCEPTED;
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  onIdle(): void {
    this.#services.onIdle();
    if (this.#idleWaiters.length === 0 || !this.#allIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  #allIdle(): boolean {
    for (const mailbox of this.#services.all()) if (!mailbox.isIdle) return false;
    return true;
  }

  #registrationOf(target: ServiceClass | string): Registration | KaffixError {
    const registration = typeof target === "string" ? this.#registry.byId(target) : this.#registry.byClass(target);
    if (registration !== undefined) return registration;
    const name = typeof target === "string" ? target : (target as { name?: string })?.name;
    return new KaffixError("UNKNOWN_SERVICE", `service "${String(name)}" was not added to this app (use addService)`, {
      data: { service: name },
    });
  }

  /** Where a message for the service goes, or the error that says why nowhere. */
  #route(registration: Registration, key: string | undefined, cluster: ClusterSide | undefined): Route | KaffixError {
    const local = this.#services.active.get(registration.id);
    const route = cluster === undefined ? local : cluster.route(registration.id, local, key);
    if (route !== undefined) return route;
    if (this.#stopped) return new KaffixError("STOPPING", `the node is stopping; "${registration.id}" takes no new messages`);
    return new KaffixError("SERVICE_UNAVAILABLE", `no running node serves "${registration.id}"`, {
      data: { service: registration.id },
    });
  }

  /** Applies the service's schema; a failure is dead-lettered and returned as VALIDATION_FAILED. */
  #validate(registration: Registration, message: unknown): unknown {
    try {
      return registration.options.schema!.parse(message);
    } catch (thrown) {
      const reason = thrown instanceof Error ? thrown.message : String(thrown);
      const id = registration.id;
      const error = new KaffixError("VALIDATION_FAILED", `message for "${id}" failed its schema: ${reason}`, { data: { service: id } });
      const mailbox = this.#services.active.get(id);
      if (mailbox !== undefined) mailbox.deadLetter(message, error, 0);
      else {
        this.deadLetters.add({ service: id, message, error: error.toWire(), attempts: 0, at: new Date(this.clock.now()).toISOString() });
        this.logger.warn({ service: id, error: error.message, code: error.code }, "message dead-lettered");
      }
      return error;
    }
  }
}

const noop = () => {};
