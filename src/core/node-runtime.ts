// One node's runtime: it turns publish/request calls into deliveries, routes them, and runs the active services.

import type { Logger } from "pino";
import { KaffixError, toKaffixError } from "../errors.js";
import { LocalRouter } from "../routing/local-router.js";
import type { Clock } from "./clock.js";
import type { PublishOptions, RequestOptions } from "./context.js";
import { DeadLetters } from "./dead-letters.js";
import { ACCEPTED, Delivery, type DeliveryHost } from "./delivery.js";
import { DrainScheduler } from "./drain-scheduler.js";
import { Mailbox, type MailboxHost } from "./mailbox.js";
import { RequestDeadlines } from "./request-deadlines.js";
import type { ServiceRegistry } from "./service-registry.js";
import type { ServiceClass } from "./service.js";

export const DEFAULT_TIMEOUT_MS = 10_000;

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
  readonly #router = new LocalRouter<Mailbox>();
  readonly #deadlines: RequestDeadlines;
  // Mutable state.
  readonly #mailboxes = new Map<string, Mailbox>();
  #idleWaiters: (() => void)[] = [];

  constructor(options: NodeRuntimeOptions) {
    this.nodeId = options.nodeId;
    this.clock = options.clock;
    this.logger = options.logger;
    this.random = options.random;
    this.observeDuration = options.observeDuration;
    this.deadLetters = new DeadLetters(options.deadLetterLimit);
    this.#registry = options.registry;
    this.#deadlines = new RequestDeadlines(options.clock);
  }

  /** The mailboxes of the services active on this node. */
  get mailboxes(): ReadonlyMap<string, Mailbox> {
    return this.#mailboxes;
  }

  /** Creates the service, calls its onStart, then makes it routable. */
  async activate(id: string): Promise<void> {
    const registration = this.#registry.byId(id);
    if (registration === undefined) throw new KaffixError("UNKNOWN_SERVICE", `no service "${id}" in this app`);
    if (this.#mailboxes.has(id)) return;
    const { options } = registration;
    const log = this.logger.child({ service: id });
    const instance = new registration.service();
    const settings = {
      concurrency: options.concurrency ?? 64,
      queueLimit: options.queueLimit ?? 10_000,
      retries: options.retries ?? 3,
      retryBackoffMs: options.retryBackoffMs ?? 100,
    };
    const mailbox = new Mailbox(id, instance, settings, this, log, options.schema);
    await instance.onStart?.(new Delivery(this, id, log, undefined, Infinity));
    this.#mailboxes.set(id, mailbox);
    this.#router.add(id, mailbox);
  }

  /**
   * Stops routing to every service, waits until queued and in-flight work is done or `deadline`
   * passes, fails what is left with STOPPING, then calls each service's onStop.
   */
  async deactivateAll(deadline: number): Promise<void> {
    const idle = this.whenIdle();
    const remainingMs = deadline - this.clock.now();
    if (remainingMs > 0) {
      let timer;
      await Promise.race([idle, new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, remainingMs)))]);
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
    const stopping = new KaffixError("STOPPING", "the node stopped before the message was processed");
    for (const mailbox of this.#mailboxes.values()) {
      this.#router.remove(mailbox.id);
      mailbox.close();
      const abandoned = mailbox.abandonQueued();
      for (const delivery of abandoned) delivery.reject(stopping);
      const published = abandoned.filter((delivery) => !delivery.isRequest).length;
      if (published > 0 || mailbox.inFlight > 0) {
        this.logger.error(
          { service: mailbox.id, abandoned: published, inFlight: mailbox.inFlight },
          "stop deadline passed with messages unprocessed; they are lost on this node",
        );
      }
    }
    this.#deadlines.rejectAll(stopping);
    for (const mailbox of this.#mailboxes.values()) {
      try {
        await mailbox.instance.onStop?.();
      } catch (error) {
        this.logger.error({ service: mailbox.id, error: toKaffixError(error).message }, "onStop failed");
      }
    }
    this.#mailboxes.clear();
  }

  publish(target: ServiceClass | string, message: unknown, options: PublishOptions | undefined, parent?: Delivery): Promise<void> {
    const mailbox = this.#route(target);
    if (!(mailbox instanceof Mailbox)) return Promise.reject(mailbox);
    if (parent === undefined && mailbox.schema !== undefined) {
      const checked = this.#validate(mailbox, message);
      if (checked instanceof KaffixError) return Promise.reject(checked);
      message = checked;
    }
    let waitMs = options?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (parent !== undefined && parent.deadline !== Infinity) waitMs = Math.min(waitMs, parent.deadline - this.clock.now());
    return mailbox.offer(new Delivery(this, mailbox.id, mailbox.log, message, Infinity), waitMs);
  }

  request(target: ServiceClass | string, message: unknown, options: RequestOptions | undefined, parent?: Delivery): Promise<unknown> {
    const mailbox = this.#route(target);
    if (!(mailbox instanceof Mailbox)) return Promise.reject(mailbox);
    if (parent === undefined && mailbox.schema !== undefined) {
      const checked = this.#validate(mailbox, message);
      if (checked instanceof KaffixError) return Promise.reject(checked);
      message = checked;
    }
    const now = this.clock.now();
    const deadline = Math.min(now + (options?.timeoutMs ?? DEFAULT_TIMEOUT_MS), parent === undefined ? Infinity : parent.deadline);
    const delivery = new Delivery(this, mailbox.id, mailbox.log, message, deadline);
    const reply = new Promise((resolve, reject) => delivery.expectReply(resolve, reject));
    this.#deadlines.track(delivery);
    const accepted = mailbox.offer(delivery, deadline - now);
    if (accepted !== ACCEPTED) accepted.catch((error: unknown) => delivery.reject(toKaffixError(error, "INTERNAL")));
    return reply;
  }

  /** Resolves once every active service has nothing queued and nothing in flight. */
  whenIdle(): Promise<void> {
    if (this.#allIdle()) return ACCEPTED;
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  onIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#allIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  #allIdle(): boolean {
    for (const mailbox of this.#mailboxes.values()) if (!mailbox.isIdle) return false;
    return true;
  }

  /** The mailbox a message for `target` goes to, or the error that says why there is none. */
  #route(target: ServiceClass | string): Mailbox | KaffixError {
    const registration = typeof target === "string" ? this.#registry.byId(target) : this.#registry.byClass(target);
    if (registration === undefined) {
      const name = typeof target === "string" ? target : (target as { name?: string })?.name;
      return new KaffixError("UNKNOWN_SERVICE", `service "${String(name)}" was not added to this app (use addService)`, {
        data: { service: name },
      });
    }
    const mailbox = this.#router.pick(registration.id);
    if (mailbox !== undefined) return mailbox;
    return new KaffixError("SERVICE_UNAVAILABLE", `no running node serves "${registration.id}"`, {
      data: { service: registration.id },
    });
  }

  /** Applies the service's schema; a failure is dead-lettered and returned as VALIDATION_FAILED. */
  #validate(mailbox: Mailbox, message: unknown): unknown {
    try {
      return mailbox.schema!.parse(message);
    } catch (thrown) {
      const reason = thrown instanceof Error ? thrown.message : String(thrown);
      const error = new KaffixError("VALIDATION_FAILED", `message for "${mailbox.id}" failed its schema: ${reason}`, {
        data: { service: mailbox.id },
      });
      mailbox.failed++;
      mailbox.deadLettered++;
      this.deadLetters.add({ service: mailbox.id, message, error: error.toWire(), attempts: 0, at: new Date(this.clock.now()).toISOString() });
      mailbox.log.warn({ service: mailbox.id, error: reason }, "message failed its schema and was dead-lettered");
      return error;
    }
  }
}
