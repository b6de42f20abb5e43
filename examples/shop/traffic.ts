// The demo's customers: a steady trickle of orders into the gateway, spread over the nodes' admin endpoints.

import type { Order, Receipt } from "./app.js";

/** What happened since the previous report. */
export interface TrafficReport {
  seconds: number;
  answered: number;
  outOfStock: number;
  failed: number;
  /** The last failure's message, if any failed. */
  lastError: string | undefined;
  /** Median time from POST to receipt, ms; undefined when nothing was answered. */
  medianMs: number | undefined;
  /** Node id → orders whose ledger row that node wrote. */
  ledgerNodes: Record<string, number>;
}

const TICK_MS = 50;
/** Requests waiting for an answer; beyond this the trickle pauses rather than pile up on a stuck cluster. */
const MAX_IN_FLIGHT = 200;
const REQUEST_TIMEOUT_MS = 10_000;

export class Traffic {
  readonly #targets: readonly string[];
  readonly #ratePerSec: number;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #began = 0;
  #sent = 0;
  #window = emptyWindow();

  /** `targets`: admin endpoint URLs; orders go to them in turn. */
  constructor(targets: readonly string[], ratePerSec: number) {
    this.#targets = targets;
    this.#ratePerSec = ratePerSec;
  }

  start(): void {
    this.#began = performance.now();
    this.#window.since = this.#began;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Stops sending and waits, at most `boundMs`, for the answers still due. */
  async stop(boundMs: number): Promise<void> {
    clearInterval(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(this.#inFlight), new Promise((resolve) => (timer = setTimeout(resolve, boundMs)))]);
    clearTimeout(timer);
  }

  report(): TrafficReport {
    const w = this.#window;
    this.#window = emptyWindow();
    const sorted = w.latencies.sort((a, b) => a - b);
    return {
      seconds: (this.#window.since - w.since) / 1000, // the new window opened now
      answered: w.answered,
      outOfStock: w.outOfStock,
      failed: w.failed,
      lastError: w.lastError,
      medianMs: sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)],
      ledgerNodes: w.ledgerNodes,
    };
  }

  #tick(): void {
    const due = Math.floor(((performance.now() - this.#began) * this.#ratePerSec) / 1000);
    while (this.#sent < due && this.#inFlight.size < MAX_IN_FLIGHT) {
      const target = this.#targets[this.#sent % this.#targets.length]!;
      const sending = this.#send(target, order(this.#sent++));
      this.#inFlight.add(sending);
      void sending.finally(() => this.#inFlight.delete(sending));
    }
    // Sending less than due while the cluster is stuck: do not burst to catch up later.
    if (this.#inFlight.size >= MAX_IN_FLIGHT) this.#sent = due;
  }

  async #send(target: string, body: Order): Promise<void> {
    const began = performance.now();
    try {
      const response = await fetch(`${target}/request/gateway`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const answer = (await response.json()) as { reply?: Receipt; code?: string; message?: string };
      if (!response.ok || answer.reply === undefined) throw new Error(`${answer.code ?? response.status}: ${answer.message ?? "no reply"}`);
      const w = this.#window; // the window open when the answer came
      w.answered++;
      w.latencies.push(performance.now() - began);
      if (answer.reply.status === "out-of-stock") w.outOfStock++;
      if (answer.reply.ledgerNode !== undefined) w.ledgerNodes[answer.reply.ledgerNode] = (w.ledgerNodes[answer.reply.ledgerNode] ?? 0) + 1;
    } catch (error) {
      const w = this.#window;
      w.failed++;
      w.lastError = error instanceof Error ? error.message : String(error);
    }
  }
}

function emptyWindow() {
  return { since: performance.now(), answered: 0, outOfStock: 0, failed: 0, lastError: undefined as string | undefined, latencies: [] as number[], ledgerNodes: {} as Record<string, number> };
}

const CUSTOMERS = ["ada", "grace", "edsger", "barbara", "leslie", "tony", "frances", "niklaus", "donald", "radia"];

/** Order `n`: three to five lines of articles from a catalogue of 200. */
function order(n: number): Order {
  const lines = Array.from({ length: 3 + (n % 3) }, (_, i) => ({ sku: `sku-${(n * 7 + i * 13) % 200}`, quantity: 1 + ((n + i) % 3) }));
  return { id: `order-${n}`, customer: CUSTOMERS[n % CUSTOMERS.length]!, lines };
}
