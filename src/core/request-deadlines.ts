// Times out pending requests with one sweeping timer instead of a timer per request.

import { KaffixError } from "../errors.js";
import type { Clock, TimerHandle } from "./clock.js";

export interface Expirable {
  readonly deadline: number;
  readonly service: string;
  settled: boolean;
  reject(error: KaffixError): void;
}

/**
 * A request is rejected with TIMEOUT at most `resolutionMs` after its deadline. One timer per node
 * runs only while requests are pending, which keeps the request path free of per-call timers.
 */
export class RequestDeadlines {
  readonly #clock: Clock;
  readonly #resolutionMs: number;
  readonly #pending = new Set<Expirable>();
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, resolutionMs = 10) {
    this.#clock = clock;
    this.#resolutionMs = resolutionMs;
  }

  get size(): number {
    return this.#pending.size;
  }

  track(request: Expirable): void {
    this.#pending.add(request);
    if (this.#timer === undefined) this.#arm();
  }

  untrack(request: Expirable): void {
    this.#pending.delete(request);
  }

  /** Rejects every pending request with `error`, e.g. when the node stops. */
  rejectAll(error: KaffixError): void {
    for (const request of this.#pending) request.reject(error);
    this.#pending.clear();
    this.#disarm();
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => this.#sweep(), this.#resolutionMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const request of this.#pending) {
      if (request.settled) {
        this.#pending.delete(request);
      } else if (request.deadline <= now) {
        this.#pending.delete(request);
        request.reject(new KaffixError("TIMEOUT", `no reply from service "${request.service}" before the deadline`));
      }
    }
    if (this.#pending.size > 0) this.#arm();
  }
}
