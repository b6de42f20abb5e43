// Prometheus metrics for one node, read from the mailboxes' plain counters at scrape time so the hot path only adds.

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Mailbox } from "./mailbox.js";

/** What placement reports to /metrics. */
export interface PlacementSample {
  replicas: Record<string, number>;
  changes: { started: number; stopped: number; failed: number };
  planningMs: number;
  pending: number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #duration: Histogram<"service">;
  readonly #durationByService = new Map<string, ReturnType<Histogram<"service">["labels"]>>();

  /**
   * `delivery` reads the cross-node counters (sent, resent, rerouted, duplicates, outbox…) at scrape
   * time; undefined until the node has joined its cluster.
   */
  constructor(mailboxes: () => Iterable<Mailbox>, labels: Record<string, string>, delivery: () => Record<string, number> | undefined = () => undefined) {
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
    const deliveryMetric = (kind: "counter" | "gauge", field: string, name: string, help: string) => {
      const collect = function (this: Counter | Gauge) {
        const value = delivery()?.[field];
        if (value === undefined) return;
        this.reset();
        if (this instanceof Counter) this.inc(value);
        else this.set(value);
      };
      if (kind === "counter") new Counter({ name, help, registers: [this.registry], collect });
      else new Gauge({ name, help, registers: [this.registry], collect });
    };
    deliveryMetric("counter", "sent", "kaffix_delivery_sent_total", "Messages this node sent to other nodes (each reroute counts again).");
    deliveryMetric("counter", "resent", "kaffix_delivery_resent_total", "Messages sent again to the same node (a new link, or no ack in time).");
    deliveryMetric("counter", "rerouted", "kaffix_delivery_rerouted_total", "Messages moved to another node because theirs died, left or refused them.");
    deliveryMetric("counter", "received", "kaffix_delivery_received_total", "Messages from other nodes accepted here.");
    deliveryMetric("counter", "duplicates", "kaffix_delivery_duplicates_total", "Redeliveries from other nodes recognized by the dedupe window and not run again.");
    deliveryMetric("counter", "refused", "kaffix_delivery_refused_total", "Messages from other nodes refused here (not running the service, full, stopping).");
    deliveryMetric("gauge", "outbox", "kaffix_delivery_outbox", "Messages sent to other nodes and not yet finished there.");
    deliveryMetric("gauge", "parked", "kaffix_delivery_parked", "Messages waiting for a node with room (the cluster is saturated) or being rerouted.");
    deliveryMetric("gauge", "heldCopies", "kaffix_delivery_held_copies", "Copies held for other nodes' messages until those are safe.");
    this.#duration = new Histogram({
      name: "kaffix_handler_duration_seconds",
      help: "Time from a handler's start until it and the messages it published were done; successful runs, sampled one in eight.",
      labelNames: ["service"],
      buckets: [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
  }

  /** Exports placement's view from this node: replicas per service, this node's changes, the last round. */
  addPlacement(read: () => PlacementSample | undefined): void {
    const registers = [this.registry];
    new Gauge({
      name: "kaffix_placement_replicas",
      help: "Nodes a service is active on, as this node's gossip view shows.",
      labelNames: ["service"],
      registers,
      collect() {
        this.reset();
        for (const [service, count] of Object.entries(read()?.replicas ?? {})) this.labels(service).set(count);
      },
    });
    new Counter({
      name: "kaffix_placement_changes_total",
      help: "Replicas placement started or stopped on this node, or failed to.",
      labelNames: ["outcome"],
      registers,
      collect() {
        const sample = read();
        if (sample === undefined) return;
        this.reset();
        for (const outcome of ["started", "stopped", "failed"] as const) this.labels(outcome).inc(sample.changes[outcome]);
      },
    });
    new Gauge({
      name: "kaffix_placement_planning_seconds",
      help: "How long this node's last placement round took to plan.",
      registers,
      collect() {
        this.set((read()?.planningMs ?? 0) / 1000);
      },
    });
    new Gauge({
      name: "kaffix_placement_pending_moves",
      help: "Changes the last plan asked for that are not visible yet.",
      registers,
      collect() {
        this.set(read()?.pending ?? 0);
      },
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
