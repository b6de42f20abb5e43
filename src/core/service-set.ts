// The services active on one node: starting them, retiring one (drain, then stop) when placement moves it away, stopping all.

import type { Logger } from "pino";
import { KaffixError, toKaffixError } from "../errors.js";
import type { Clock, TimerHandle } from "../clock.js";
import { Delivery, type DeliveryHost } from "./delivery.js";
import { Mailbox, type MailboxHost } from "./mailbox.js";
import type { ServiceRegistry } from "./service-registry.js";

/** A retiring replica that still has work after this long is logged, and again at each such interval. */
export const DRAIN_WARN_MS = 30_000;

export interface ServiceSetOptions {
  registry: ServiceRegistry;
  /** The node: mailboxes report to it, and onStart contexts publish through it. */
  host: MailboxHost & DeliveryHost;
  clock: Clock;
  logger: Logger;
}

interface Retiring {
  readonly mailbox: Mailbox;
  /** Settles when the drain loop ends (stopped, taken back, or handed to a node stop). */
  readonly done: Promise<void>;
  /** Set when the service was started again while draining: the drain ends and the mailbox is taken back. */
  revived: boolean;
  wake: () => void;
}

export class ServiceSet {
  readonly #registry: ServiceRegistry;
  readonly #host: MailboxHost & DeliveryHost;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** Routable services: new messages for them may be queued here. */
  readonly active = new Map<string, Mailbox>();
  /** Services leaving this node: not routable, finishing what they hold. */
  readonly #retiring = new Map<string, Retiring>();
  /** Starts in progress, so that concurrent starts of one service share one. */
  readonly #starting = new Map<string, Promise<void>>();
  /** onStop calls of retired replicas still running: a new start of the service, and stopAll, wait for them. */
  readonly #stopping = new Map<string, Promise<void>>();
  /** Set by stopAll: a start still running its onStart then stops the service again. */
  #stopped = false;

  constructor(options: ServiceSetOptions) {
    this.#registry = options.registry;
    this.#host = options.host;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** Every mailbox that may still hold work: the active ones and those draining. */
  *all(): IterableIterator<Mailbox> {
    yield* this.active.values();
    for (const retiring of this.#retiring.values()) yield retiring.mailbox;
  }

  get retiring(): string[] {
    return [...this.#retiring.keys()];
  }

  /**
   * Starts the given services: creates each one, makes it routable but paused, runs every onStart
   * (so an onStart may publish to any service, whatever the order they were added in), then lets
   * handlers run. A failing onStart stops the services already started and rethrows.
   */
  async startAll(ids: readonly string[]): Promise<void> {
    const created = ids.filter((id) => !this.active.has(id)).map((id) => this.#create(id));
    for (const mailbox of created) this.active.set(mailbox.id, mailbox);
    const started: Mailbox[] = [];
    try {
      for (const mailbox of created) {
        await this.#runOnStart(mailbox);
        started.push(mailbox);
      }
    } catch (error) {
      for (const mailbox of created) {
        mailbox.halt();
        this.active.delete(mailbox.id);
      }
      await this.#callOnStop(started, Infinity);
      throw error;
    }
    for (const mailbox of created) mailbox.resume();
  }

  /**
   * Makes one more service active here (placement added a replica). A service still draining from an
   * earlier retirement is taken back as it is. A failing onStart leaves the service inactive and rethrows.
   */
  start(id: string): Promise<void> {
    if (this.active.has(id)) return Promise.resolve();
    const retiring = this.#retiring.get(id);
    if (retiring !== undefined) {
      retiring.revived = true;
      this.#retiring.delete(id);
      this.active.set(id, retiring.mailbox);
      retiring.wake();
      return Promise.resolve();
    }
    let starting = this.#starting.get(id);
    if (starting === undefined) {
      starting = this.#startOne(id).finally(() => this.#starting.delete(id));
      this.#starting.set(id, starting);
    }
    return starting;
  }

  async #startOne(id: string): Promise<void> {
    // The old instance's onStop finishes before the new one's onStart (they may share a resource).
    await this.#stopping.get(id);
    if (this.#stopped) throw new KaffixError("STOPPING", `the node is stopping; "${id}" is not started`);
    const mailbox = this.#create(id);
    try {
      await this.#runOnStart(mailbox);
    } catch (error) {
      mailbox.halt();
      throw error;
    }
    if (this.#stopped) {
      // The node stopped while onStart ran: undo the start rather than leave a service on a stopped node.
      mailbox.halt();
      await this.#callOnStop([mailbox], this.#clock.now() + DRAIN_WARN_MS);
      throw new KaffixError("STOPPING", `the node stopped while "${id}" was starting`);
    }
    this.active.set(id, mailbox);
    mailbox.resume();
  }

  /**
   * Stops routing new messages to `id` here, lets it finish everything it holds (queued, waiting for
   * room, in flight, retrying), then calls its onStop. Nothing it holds is dropped: a replica that takes
   * long is logged every DRAIN_WARN_MS and keeps draining; a node stop takes over what is left.
   * Resolves true once stopped, false when the service was started again meanwhile.
   */
  async retire(id: string): Promise<boolean> {
    const mailbox = this.active.get(id);
    if (mailbox === undefined) {
      const retiring = this.#retiring.get(id);
      return retiring === undefined ? true : retiring.done.then(() => !retiring.revived);
    }
    this.active.delete(id);
    let finished = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    const retiring: Retiring = { mailbox, done, revived: false, wake: () => {} };
    this.#retiring.set(id, retiring);
    let warnAt = this.#clock.now() + DRAIN_WARN_MS;
    while (!mailbox.isIdle && !retiring.revived) {
      let timer: TimerHandle | undefined;
      await new Promise<void>((resolve) => {
        retiring.wake = resolve;
        timer = this.#clock.setTimeout(resolve, Math.max(0, warnAt - this.#clock.now()));
      });
      this.#clock.clearTimeout(timer!);
      if (!mailbox.isIdle && !retiring.revived && this.#clock.now() >= warnAt) {
        this.#logger.warn({ service: id, queued: mailbox.queued, inFlight: mailbox.inFlight }, "a replica being moved away is still draining");
        warnAt = this.#clock.now() + DRAIN_WARN_MS;
      }
    }
    finished();
    if (retiring.revived || this.#retiring.get(id) !== retiring) return false;
    this.#retiring.delete(id);
    mailbox.halt();
    const stopped = this.#callOnStop([mailbox], this.#clock.now() + DRAIN_WARN_MS).finally(() => this.#stopping.delete(id));
    this.#stopping.set(id, stopped);
    await stopped;
    return true;
  }

  /** Called when any mailbox went idle: wakes the drains that waited for it. */
  onIdle(): void {
    for (const retiring of this.#retiring.values()) if (retiring.mailbox.isIdle) retiring.wake();
  }

  /**
   * Stops every service, active or draining, after the node drained (or gave up at its deadline):
   * what is left fails with `error` and is logged as lost; each onStop runs, bounded by what is left
   * of the deadline but given at least a second.
   */
  async stopAll(deadline: number, error: KaffixError): Promise<void> {
    this.#stopped = true;
    const mailboxes = [...this.all()];
    for (const retiring of this.#retiring.values()) {
      retiring.revived = true; // ends its drain loop without a second onStop
      retiring.wake();
    }
    this.#retiring.clear();
    this.active.clear();
    for (const mailbox of mailboxes) {
      const inFlight = mailbox.inFlight;
      const abandoned = mailbox.halt();
      for (const delivery of abandoned) delivery.reject(error);
      const published = abandoned.filter((delivery) => !delivery.isRequest).length;
      if (published > 0 || inFlight > 0) {
        this.#logger.error(
          { service: mailbox.id, abandoned: published, inFlight },
          "stop deadline passed with messages unprocessed; they are lost on this node",
        );
      }
    }
    // A start still running its onStart undoes itself when that returns (see #startOne).
    await this.#callOnStop(mailboxes, Math.max(deadline, this.#clock.now() + 1000));
    await until(this.#clock, Promise.all(this.#stopping.values()), Math.max(deadline, this.#clock.now() + 1000));
  }

  #create(id: string): Mailbox {
    const registration = this.#registry.byId(id);
    if (registration === undefined) throw new KaffixError("UNKNOWN_SERVICE", `no service "${id}" in this app`);
    const { options } = registration;
    const settings = {
      concurrency: options.concurrency ?? 64,
      queueLimit: options.queueLimit ?? 10_000,
      retries: options.retries ?? 3,
      retryBackoffMs: options.retryBackoffMs ?? 100,
    };
    return new Mailbox(id, new registration.service(), settings, this.#host, this.#logger.child({ service: id }), options.schema);
  }

  async #runOnStart(mailbox: Mailbox): Promise<void> {
    const ctx = new Delivery(this.#host, mailbox.id, mailbox.log, undefined, Infinity);
    await mailbox.instance.onStart?.(ctx);
    await Promise.all(ctx.takePending() ?? []);
  }

  async #callOnStop(mailboxes: Mailbox[], deadline: number): Promise<void> {
    for (const mailbox of mailboxes) {
      try {
        const stopped = await until(this.#clock, Promise.resolve(mailbox.instance.onStop?.()).then(() => true), deadline);
        if (!stopped) this.#logger.error({ service: mailbox.id }, "onStop did not finish before the stop deadline");
      } catch (error) {
        this.#logger.error({ service: mailbox.id, error: toKaffixError(error).message }, "onStop failed");
      }
    }
  }
}

/** Waits for `work` until `deadline` on `clock`; resolves undefined when the deadline won. */
export async function until<T>(clock: Clock, work: Promise<T>, deadline: number): Promise<T | undefined> {
  const remainingMs = deadline - clock.now();
  if (remainingMs === Infinity) return work;
  let timer: TimerHandle | undefined;
  const late = new Promise<undefined>((resolve) => (timer = clock.setTimeout(() => resolve(undefined), Math.max(0, remainingMs))));
  try {
    return await Promise.race([work, late]);
  } finally {
    clock.clearTimeout(timer!);
  }
}
