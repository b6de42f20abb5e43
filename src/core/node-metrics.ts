// Prometheus metrics for one node, read from the mailboxes' plain counters at scrape time so the hot path only adds.

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Mailbox } from "./mailbox.js";

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #duration: Histogram<"service">;
  readonly #durationByService = new Map<string, ReturnType<Histogram<"service">["labels"]>>();

  constructor(mailboxes: () => Iterable<Mailbox>, labels: Record<string, string>) {
    this.registry.setDefaultLabels(labels);
    const counter = (name: string, help: string, read: (m: Mailbox) => number) =>
      new Counter({
        name,
        help,
        labelNames: ["service"],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const m of mailboxes()) this.labels(m.id).inc(read(m));
        },
      });
    const gauge = (name: string, help: string, read: (m: Mailbox) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["service"],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const m of mailboxes()) this.labels(m.id).set(read(m));
        },
      });
    counter("kaffix_messages_received_total", "Messages accepted into a service's queue on this node.", (m) => m.received);
    counter("kaffix_messages_processed_total", "Messages whose handler finished successfully.", (m) => m.processed);
    counter("kaffix_messages_failed_total", "Messages that failed for good (request errors and dead letters).", (m) => m.failed);
    counter("kaffix_messages_retried_total", "Handler attempts that failed and were scheduled again.", (m) => m.retried);
    counter("kaffix_dead_letters_total", "Messages moved to the dead-letter list.", (m) => m.deadLettered);
    gauge("kaffix_queue_depth", "Messages waiting for a handler slot, including publishers waiting for room.", (m) => m.queued);
    gauge("kaffix_in_flight", "Handlers running now.", (m) => m.inFlight);
    this.#duration = new Histogram({
      name: "kaffix_handler_duration_seconds",
      help: "Time from a handler's start until it and the messages it published were done; successful runs, sampled one in eight.",
      labelNames: ["service"],
      buckets: [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
  }

  observeDuration(service: string, seconds: number): void {
    let child = this.#durationByService.get(service);
    if (child === undefined) {
      child = this.#duration.labels(service);
      this.#durationByService.set(service, child);
    }
    child.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
