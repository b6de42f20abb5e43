// One service on one node: a bounded queue, a concurrency limit, retries, dead letters and the counters behind /metrics.

import type { Logger } from "pino";
import { KaffixError, toKaffixError } from "../errors.js";
import type { Clock, TimerHandle } from "../clock.js";
import type { DeadLetters } from "./dead-letters.js";
import { ACCEPTED, type Delivery } from "./delivery.js";
import type { DrainScheduler } from "./drain-scheduler.js";
import { RingQueue } from "./ring-queue.js";
import { endSpan, type Tracing } from "./tracing.js";
import type { MessageSchema, Service } from "./service.js";
import { WaitingPublishers } from "./waiting-publishers.js";

export interface MailboxSettings {
  concurrency: number;
  queueLimit: number;
  retries: number;
  retryBackoffMs: number;
}

/** What a mailbox needs from its node. */
export interface MailboxHost {
  readonly clock: Clock;
  readonly scheduler: DrainScheduler;
  readonly deadLetters: DeadLetters;
  /** Called with handler durations in seconds. */
  observeDuration(service: string, seconds: number): void;
  /** Called when this mailbox has nothing queued and nothing in flight. */
  onIdle(): void;
  readonly tracing: Tracing;
  random(): number;
}

const MAX_BACKOFF_MS = 30_000;
/** Handlers started by one drain before it hands the thread back, so one busy service cannot monopolize it. */
const DRAIN_BATCH = 1024;
/** One handler run in this many is timed for the duration histogram (a power of two). */
export const DURATION_SAMPLE_EVERY = 8;

export class Mailbox {
  // Fixed at construction.
  readonly id: string;
  readonly settings: MailboxSettings;
  readonly instance: Service;
  readonly log: Logger;
  readonly schema: MessageSchema<unknown> | undefined;
  readonly #host: MailboxHost;
  readonly #queue: RingQueue<Delivery>;
  /** Publishers waiting for room; bounded like the queue, so back-pressure itself cannot grow without limit. */
  readonly #waiters: WaitingPublishers;
  readonly #drain = () => this.#drainNow();
  // Mutable state.
  #inFlight = 0;
  #timingTick = 0;
  #scheduled = false;
  /** Created but not started: messages queue up, handlers wait until every service's onStart ran. */
  #paused = true;
  /** No new messages; queued and in-flight ones still run. */
  #closed = false;
  /** Past the stop deadline: nothing runs any more and late outcomes are ignored. */
  #halted = false;
  /** Published messages waiting out a retry backoff; they hold their concurrency slot. */
  readonly #retrying = new Map<Delivery, TimerHandle>();
  // Counters, read by /metrics.
  received = 0;
  processed = 0;
  failed = 0;
  retried = 0;
  deadLettered = 0;
  /** Moving average of sampled handler durations, in ms: the service time the cluster gossips. */
  serviceTimeMs = 0;
  /** The same, less the time handlers awaited nested requests and dependencies: the node's own work per message. */
  ownTimeMs = 0;

  constructor(
    id: string,
    instance: Service,
    settings: MailboxSettings,
    host: MailboxHost,
    log: Logger,
    schema?: MessageSchema<unknown>,
  ) {
    this.id = id;
    this.instance = instance;
    this.log = log;
    this.schema = schema;
    this.settings = settings;
    this.#host = host;
    this.#queue = new RingQueue(settings.queueLimit);
    this.#waiters = new WaitingPublishers(host.clock, settings.queueLimit);
  }

  get queued(): number {
    return this.#queue.length + this.#waiters.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get isIdle(): boolean {
    return this.#inFlight === 0 && this.#queue.length === 0 && this.#waiters.length === 0;
  }

  /**
   * Takes a message. Resolves (with the shared ACCEPTED promise when there is room) once it is queued;
   * when the queue is full the caller waits up to `waitMs` for room, then gets QUEUE_FULL.
   */
  offer(delivery: Delivery, waitMs: number): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new KaffixError("STOPPING", `service "${this.id}" is stopped on this node`));
    }
    if (this.#queue.push(delivery)) {
      this.received++;
      if (!this.#scheduled) this.#schedule();
      return ACCEPTED;
    }
    if (waitMs <= 0 || this.#waiters.isFull) return Promise.reject(this.#queueFull());
    return this.#waiters.wait(delivery, waitMs, this.#queueFull);
  }

  /**
   * Runs `delivery`'s handler at once, inside the caller's call, when nothing waits ahead of it and a
   * slot is free; false otherwise (then it is offered as usual). A request's fast path.
   */
  runNow(delivery: Delivery): boolean {
    if (this.#paused || this.#closed || this.#inFlight >= this.settings.concurrency || this.#queue.length > 0 || this.#waiters.length > 0) return false;
    this.received++;
    this.#inFlight++;
    this.#host.scheduler.count(1);
    this.#run(delivery);
    return true;
  }

  /** Lets handlers run; messages offered while paused were queued and start now. */
  resume(): void {
    this.#paused = false;
    if (this.#queue.length > 0 && !this.#scheduled) this.#schedule();
  }

  /** Refuses new messages; what is queued or in flight still runs. */
  close(): void {
    this.#closed = true;
    this.#waiters.rejectAll(new KaffixError("STOPPING", `service "${this.id}" stopped before the message could be queued`));
  }

  /**
   * Stops everything after a stop deadline: cancels pending retries and returns what will now never
   * be processed here (queued and retrying messages); handlers still running finish unobserved.
   */
  halt(): Delivery[] {
    this.close();
    this.#halted = true;
    const abandoned = this.#queue.drain();
    for (const [delivery, timer] of this.#retrying) {
      this.#host.clock.clearTimeout(timer);
      abandoned.push(delivery);
    }
    this.#retrying.clear();
    return abandoned;
  }

  /** Records a message that failed for good: dead-letter list, counters, one log line. */
  deadLetter(message: unknown, error: KaffixError, attempts: number): void {
    this.failed++;
    this.deadLettered++;
    this.#host.deadLetters.add({
      service: this.id,
      message,
      error: error.toWire(),
      attempts,
      at: new Date(this.#host.clock.now()).toISOString(),
    });
    this.log.warn({ attempts, error: error.message, code: error.code }, "message dead-lettered");
  }

  readonly #queueFull = (): KaffixError =>
    new KaffixError("QUEUE_FULL", `queue of service "${this.id}" is full (${this.settings.queueLimit} messages)`, {
      data: { service: this.id, queueLimit: this.settings.queueLimit },
    });

  #schedule(): void {
    if (this.#paused || this.#halted) return;
    this.#scheduled = true;
    this.#host.scheduler.schedule(this.#drain);
  }

  #drainNow(): void {
    this.#scheduled = false;
    const concurrency = this.settings.concurrency;
    const budget = DRAIN_BATCH;
    let dispatched = 0;
    while (this.#inFlight < concurrency && dispatched < budget) {
      const delivery = this.#queue.shift();
      if (delivery === undefined) break;
      this.#admitWaiter();
      if (delivery.settled) {
        this.failed++; // a request whose caller already timed out
        continue;
      }
      this.#inFlight++;
      dispatched++;
      this.#run(delivery);
    }
    if (dispatched > 0) this.#host.scheduler.count(dispatched);
    if (this.#queue.length > 0 && this.#inFlight < concurrency) this.#schedule();
    else if (this.isIdle) this.#host.onIdle();
  }

  /** Moves the oldest waiting publisher's message into the queue now that there is room. */
  #admitWaiter(): void {
    const delivery = this.#waiters.admit();
    if (delivery === undefined) return;
    this.#queue.push(delivery);
    this.received++;
  }

  #run(delivery: Delivery): void {
    this.#retrying.delete(delivery);
    delivery.attempt++;
    // Durations are sampled: reading the clock twice per message would cost more than a fast handler.
    if ((++this.#timingTick & (DURATION_SAMPLE_EVERY - 1)) === 0) delivery.startTiming(performance.now());
    else delivery.startedAt = 0;
    let result: unknown;
    try {
      if (!this.#host.tracing.on) result = this.instance.onMessage(delivery.message, delivery);
      else result = this.#runTraced(delivery);
    } catch (thrown) {
      this.#fail(delivery, thrown);
      return;
    }
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      void this.#settle(delivery, result as PromiseLike<unknown>);
    } else {
      this.#handlerReturned(delivery, result);
    }
  }

  /**
   * Runs the handler inside its span, so that spans the handler makes nest under it; a message that
   * carried no trace runs outside any (not inside whatever context scheduled the drain).
   */
  #runTraced(delivery: Delivery): unknown {
    const tracing = this.#host.tracing;
    if (delivery.trace === undefined) return tracing.detached(() => this.instance.onMessage(delivery.message, delivery));
    const span = tracing.startHandler(delivery.isRequest, this.id, delivery.trace);
    delivery.span = span;
    return tracing.within(span, () => this.instance.onMessage(delivery.message, delivery));
  }

  /** Waits for an async handler; a method, not two closures per message (tsx names every closure it makes). */
  async #settle(delivery: Delivery, result: PromiseLike<unknown>): Promise<void> {
    let value: unknown;
    try {
      value = await result;
    } catch (thrown) {
      this.#fail(delivery, thrown);
      return;
    }
    this.#handlerReturned(delivery, value);
  }

  /** The handler returned; the message is done once every message it published was accepted too. */
  #handlerReturned(delivery: Delivery, value: unknown): void {
    if (delivery.startedAt !== 0) {
      // Own work ends when the handler returns: waiting for its publishes to be held is not work.
      const own = Math.max(0, performance.now() - delivery.startedAt - delivery.waitedSoFarMs);
      this.ownTimeMs = this.ownTimeMs === 0 ? own : this.ownTimeMs * 0.8 + own * 0.2;
    }
    const pending = delivery.takePending();
    if (pending === undefined) {
      this.#succeed(delivery, value);
      return;
    }
    Promise.all(pending).then(
      () => this.#succeed(delivery, value),
      (thrown) => this.#fail(delivery, thrown),
    );
  }

  #succeed(delivery: Delivery, value: unknown): void {
    const span = delivery.span;
    if (span !== undefined) {
      endSpan(span);
      delivery.span = undefined;
    }
    if (this.#halted) return;
    if (delivery.startedAt !== 0) {
      const ms = performance.now() - delivery.startedAt;
      this.serviceTimeMs = this.serviceTimeMs === 0 ? ms : this.serviceTimeMs * 0.8 + ms * 0.2;
      this.#host.observeDuration(this.id, ms / 1000);
    }
    this.processed++;
    delivery.finish(value);
    this.#release();
  }

  #fail(delivery: Delivery, thrown: unknown): void {
    const span = delivery.span;
    if (span !== undefined) {
      endSpan(span, thrown);
      delivery.span = undefined;
    }
    if (this.#halted) return;
    const error = toKaffixError(thrown);
    delivery.takePending(); // a retry starts with a clean slate
    if (delivery.isRequest) {
      // The caller is waiting and owns the decision to retry. It gets the wire form, exactly what a
      // caller on another node would get: no stack, no cause.
      this.failed++;
      delivery.fail(KaffixError.fromWire(error.toWire()));
      this.#release();
      return;
    }
    const retryable = !(thrown instanceof KaffixError) || thrown.retryable;
    if (retryable && delivery.attempt <= this.settings.retries) {
      this.retried++;
      const base = this.settings.retryBackoffMs * 2 ** (delivery.attempt - 1);
      const delayMs = Math.min(MAX_BACKOFF_MS, base / 2 + this.#host.random() * (base / 2));
      // The message keeps its concurrency slot while it waits: retries cannot overrun the limit.
      this.#retrying.set(delivery, this.#host.clock.setTimeout(() => this.#run(delivery), delayMs));
      return;
    }
    this.deadLetter(delivery.message, error, delivery.attempt);
    delivery.fail(error);
    this.#release();
  }

  #release(): void {
    this.#inFlight--;
    if (this.#queue.length > 0) {
      if (!this.#scheduled) this.#schedule();
    } else if (this.isIdle) {
      this.#host.onIdle();
    }
  }
}
