// A client that publishes numbered ids through the nodes' admin endpoints (POST /publish/<service>) at a paced
// rate, as an outside caller behind a load balancer would: a refused or failed attempt is tried on the next node.

import { setTimeout as sleep } from "node:timers/promises";

export interface HttpPublisherOptions {
  /** Admin endpoints to spread the ids over (round-robin); a node that is down is simply skipped by a retry. */
  readonly targets: readonly string[];
  readonly service: string;
  readonly ratePerSec: number;
  /** Most ids unsettled at once. */
  readonly window: number;
  /** Attempts per id before it is given up (each on the next target). */
  readonly maxAttempts: number;
  /** Pause before a retry, so a node that just went away is not hammered. */
  readonly retryDelayMs: number;
  /** The publish deadline each attempt asks for (`?timeoutMs=`). */
  readonly timeoutMs: number;
}

export interface PublishSummary {
  /** Ids begun. */
  readonly published: number;
  /** Ids some node answered 202 for. */
  readonly accepted: ReadonlySet<string>;
  /** Ids no attempt got a 202 for. */
  readonly gaveUp: readonly string[];
  /** Failed attempts by reason: the error code of a refusal, or the network error. */
  readonly failures: Readonly<Record<string, number>>;
}

export class HttpPublisher {
  readonly #options: HttpPublisherOptions;
  readonly #accepted = new Set<string>();
  readonly #gaveUp: string[] = [];
  readonly #failures: Record<string, number> = {};
  #published = 0;
  #next = 0;
  #running: Promise<void> | undefined;
  #stopping = false;

  constructor(options: HttpPublisherOptions) {
    this.#options = options;
  }

  /** Ids accepted so far. */
  get acceptedCount(): number {
    return this.#accepted.size;
  }

  start(): void {
    if (this.#running !== undefined) throw new Error("already started");
    this.#running = this.#drive();
  }

  /** Stops beginning new ids and resolves once every id begun has been accepted or given up. */
  async stop(): Promise<PublishSummary> {
    this.#stopping = true;
    await this.#running;
    return { published: this.#published, accepted: this.#accepted, gaveUp: this.#gaveUp, failures: { ...this.#failures } };
  }

  async #drive(): Promise<void> {
    const { ratePerSec, window } = this.#options;
    const begin = performance.now();
    const inFlight = new Set<Promise<void>>();
    while (!this.#stopping) {
      const due = Math.floor(((performance.now() - begin) * ratePerSec) / 1000) + 1;
      while (this.#published < due && inFlight.size < window) {
        const sending = this.#publish(String(this.#published++));
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending));
      }
      if (inFlight.size >= window) await Promise.race(inFlight);
      else await sleep(5);
    }
    await Promise.all(inFlight);
  }

  /** Tries the id on successive targets until one answers 202 or the attempts run out. */
  async #publish(id: string): Promise<void> {
    const { targets, service, maxAttempts, retryDelayMs, timeoutMs } = this.#options;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const target = targets[this.#next++ % targets.length]!;
      const reason = await postOnce(`${target}/publish/${encodeURIComponent(service)}?timeoutMs=${timeoutMs}`, { id }, timeoutMs + 2_000);
      if (reason === undefined) {
        this.#accepted.add(id);
        return;
      }
      this.#failures[reason] = (this.#failures[reason] ?? 0) + 1;
      await sleep(retryDelayMs);
    }
    this.#gaveUp.push(id);
  }
}

/** Undefined when the node answered 202; else why not (its error code, or the network error's code). */
async function postOnce(url: string, body: unknown, boundMs: number): Promise<string | undefined> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(boundMs),
    });
    const text = await response.text();
    if (response.status === 202) return undefined;
    try {
      return String((JSON.parse(text) as { code?: unknown }).code ?? `HTTP ${response.status}`);
    } catch {
      return `HTTP ${response.status}`;
    }
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    return typeof cause?.code === "string" ? cause.code : error instanceof Error ? error.name : String(error);
  }
}
