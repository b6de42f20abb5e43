// The dashboard's live feed: a bounded set of server-sent-event streams fed by one sampler that runs only while someone watches.

import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../../clock.js";
import { KaffixError } from "../../errors.js";
import { buildNow, type DashboardNow, type DashboardSource } from "./dashboard-snapshot.js";
import { bucketsByService, DURATION_BUCKET, LatencyWindow } from "./handler-latency.js";
import { MembershipTimeline, type MembershipEvent } from "./membership-timeline.js";
import { readSamples } from "./prometheus-text.js";
import { SeriesHistory, type ServicePoint } from "./series-history.js";

export interface DashboardStreamsOptions {
  source: DashboardSource;
  clock: Clock;
  logger: Logger;
  /** Time between two samples, each pushed to every stream. Default 1000. */
  tickMs?: number;
  /** Streams open at once; one more is refused with SERVICE_UNAVAILABLE. Default 8. */
  maxStreams?: number;
  /** How far back the charts go. Default 5 minutes. */
  windowMs?: number;
  /** Window of the latency percentiles. Default 15 000 (the histogram samples one handler in eight). */
  latencyWindowMs?: number;
  /** A stream whose client has read nothing for this long is cut, so a stuck client cannot hold a slot. Default 30 000. */
  stallMs?: number;
}

/** The first event on every stream: everything, history included. */
export interface FullEvent {
  now: DashboardNow;
  tickMs: number;
  windowMs: number;
  series: SeriesHistory["series"];
  timeline: readonly MembershipEvent[];
}

/** Every later event: the present, one more chart point, and the membership events seen since the last one. */
export interface TickEvent {
  now: DashboardNow;
  point: { t: number; services: Record<string, ServicePoint> };
  timeline: MembershipEvent[];
}

interface Stream {
  readonly res: ServerResponse;
  /** Set when a write was refused (the client reads slowly): ticks are skipped until it drains. */
  behindSinceMs: number | undefined;
  /** The client missed ticks, or has had nothing yet: its next event is a full one. */
  needsFull: boolean;
}

const METRIC_NAMES: ReadonlySet<string> = new Set([DURATION_BUCKET, "kaffix_dead_letters_total"]);

export class DashboardStreams {
  // Fixed after construction.
  readonly #source: DashboardSource;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #tickMs: number;
  readonly #maxStreams: number;
  readonly #windowMs: number;
  readonly #stallMs: number;
  readonly #history: SeriesHistory;
  readonly #latency: LatencyWindow;
  readonly #timeline = new MembershipTimeline();
  // Mutable state.
  readonly #streams = new Set<Stream>();
  #timer: TimerHandle | undefined;
  #sampling = false;
  #last: TickEvent | undefined;
  #closed = false;

  constructor(options: DashboardStreamsOptions) {
    this.#source = options.source;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#tickMs = options.tickMs ?? 1000;
    this.#maxStreams = options.maxStreams ?? 8;
    this.#windowMs = options.windowMs ?? 300_000;
    this.#stallMs = options.stallMs ?? 30_000;
    this.#history = new SeriesHistory(this.#windowMs);
    this.#latency = new LatencyWindow(options.latencyWindowMs ?? 15_000);
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  /** Answers the request with an event stream until the client goes away or close() is called. */
  open(res: ServerResponse): void {
    if (this.#closed) throw new KaffixError("STOPPING", "the node is stopping; the dashboard stream is closed");
    if (this.#streams.size >= this.#maxStreams) {
      throw new KaffixError("SERVICE_UNAVAILABLE", `at most ${this.#maxStreams} dashboard streams may be open on one node; close one and retry`, {
        data: { maxStreams: this.#maxStreams },
      });
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // Streams are long and never reused: ending one must close its socket, so a stopping node waits for nothing.
      connection: "close",
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${this.#tickMs * 2}\n\n`);
    const stream: Stream = { res, behindSinceMs: undefined, needsFull: true };
    const idle = this.#streams.size === 0;
    this.#streams.add(stream);
    res.once("close", () => this.#forget(stream));
    // A sampler that was idle holds a stale picture: sample at once; otherwise the last one will do.
    if (idle) this.#sampleNow();
    else if (this.#last !== undefined) this.#sendFull(stream);
  }

  /** Ends every stream, stops the sampler and refuses new streams. Safe to call more than once. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
    for (const stream of this.#streams) stream.res.end();
    this.#streams.clear();
  }

  #forget(stream: Stream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0) this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sampleNow(): void {
    this.#stopTimer();
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const event = await this.#sample();
      if (this.#closed) return;
      this.#last = event;
      const tick = frame("tick", event);
      for (const stream of [...this.#streams]) {
        if (stream.needsFull) this.#sendFull(stream);
        else if (this.#ready(stream)) this.#push(stream, tick);
      }
    } catch (error) {
      this.#logger.warn({ err: error }, "dashboard: sampling failed");
    } finally {
      this.#sampling = false;
      if (!this.#closed && this.#streams.size > 0 && this.#timer === undefined) {
        this.#timer = this.#clock.setTimeout(() => {
          this.#timer = undefined;
          void this.#tick();
        }, this.#tickMs);
      }
    }
  }

  async #sample(): Promise<TickEvent> {
    const atMs = Math.round(this.#clock.now());
    let samples: ReturnType<typeof readSamples> = [];
    try {
      samples = readSamples((await this.#source.metrics()).body, METRIC_NAMES);
    } catch {
      // Not running (yet, or any more): the picture goes on without this node's histograms.
    }
    this.#latency.add(atMs, bucketsByService(samples));
    const deadLetterTotals: Record<string, number> = {};
    for (const s of samples) if (s.name === "kaffix_dead_letters_total" && s.labels.service !== undefined) deadLetterTotals[s.labels.service] = s.value;
    const cluster = this.#source.cluster();
    const timeline = this.#timeline.observe(atMs, cluster.members);
    const now = buildNow({ atMs, source: this.#source, cluster, latency: (id) => this.#latency.percentiles(id), deadLetterTotals });
    const services: Record<string, ServicePoint> = {};
    for (const s of now.services) services[s.id] = { perSec: s.perSec, queued: s.queued, p50Ms: s.p50Ms, p99Ms: s.p99Ms };
    this.#history.add(atMs, services);
    return { now, point: { t: atMs, services }, timeline };
  }

  #sendFull(stream: Stream): void {
    const last = this.#last;
    if (last === undefined || !this.#ready(stream)) return;
    const full: FullEvent = {
      now: last.now,
      tickMs: this.#tickMs,
      windowMs: this.#windowMs,
      series: this.#history.series,
      timeline: this.#timeline.events,
    };
    stream.needsFull = false;
    this.#push(stream, frame("full", full));
  }

  /** False while the client has not read what it was sent; cuts it once that has lasted stallMs. */
  #ready(stream: Stream): boolean {
    if (stream.behindSinceMs === undefined) return true;
    if (this.#clock.now() - stream.behindSinceMs > this.#stallMs) {
      this.#logger.info("dashboard: cut a stream whose client stopped reading");
      stream.res.destroy();
      this.#forget(stream);
    }
    return false;
  }

  #push(stream: Stream, chunk: string): void {
    if (stream.res.write(chunk)) return;
    stream.behindSinceMs = this.#clock.now();
    stream.needsFull = true;
    stream.res.once("drain", () => (stream.behindSinceMs = undefined));
  }
}

/** One server-sent event; JSON has no raw newline, so the data fits on one line. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
