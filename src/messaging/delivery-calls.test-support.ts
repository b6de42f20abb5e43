// The driver's side of the delivery simulation: calls made at a steady rate, and how each one ended.

import { ErrorCodes, KaffixError } from "../errors.js";
import type { ManualClock } from "../testing/manual-clock.js";
import { STEP_MS, type DeliverySimulation } from "./delivery-simulation.test-support.js";

/** One call the driver made, and how it ended. */
export interface Call {
  readonly sentAtMs: number;
  settledAtMs?: number;
  /** The error code when it failed; "UNTYPED" for anything but a KaffixError with a known code. */
  code?: string;
  reply?: unknown;
}

/** The driver's bookkeeping: what it sent, what was accepted or answered, what failed and how. */
export class CallLog {
  readonly calls = new Map<string, Call>();
  /** Outcomes that arrive after this is set are not counted: the caller died before hearing them. */
  callerDead = false;
  readonly #clock: ManualClock;

  constructor(clock: ManualClock) {
    this.#clock = clock;
  }

  track(id: string, promise: Promise<unknown>): void {
    const call: Call = { sentAtMs: this.#clock.now() };
    this.calls.set(id, call);
    promise.then(
      (reply) => {
        if (this.callerDead) return;
        call.settledAtMs = this.#clock.now();
        call.reply = reply;
      },
      (error: unknown) => {
        if (this.callerDead) return;
        call.settledAtMs = this.#clock.now();
        call.code = error instanceof KaffixError && Object.hasOwn(ErrorCodes, error.code) ? error.code : "UNTYPED";
      },
    );
  }

  /** Ids whose call succeeded (a publish accepted, a request answered). */
  ok(): string[] {
    return [...this.calls].filter(([, call]) => call.settledAtMs !== undefined && call.code === undefined).map(([id]) => id);
  }

  unsettled(): string[] {
    return [...this.calls].filter(([, call]) => call.settledAtMs === undefined).map(([id]) => id);
  }

  errors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const call of this.calls.values()) if (call.code !== undefined) out[call.code] = (out[call.code] ?? 0) + 1;
    return out;
  }

  /** The longest time a settled call took, in simulated ms. */
  maxLatencyMs(): number {
    let max = 0;
    for (const call of this.calls.values()) if (call.settledAtMs !== undefined) max = Math.max(max, call.settledAtMs - call.sentAtMs);
    return max;
  }
}

export interface DriveOptions {
  count: number;
  ratePerSec: number;
  /** Makes call number `id`. */
  call: (id: string) => Promise<unknown>;
  /** Runs before each step with the simulated ms since driving began and the calls made: where a scenario injects its faults. */
  onStep?: (elapsedMs: number, sent: number) => void | Promise<void>;
  /** Where the calls are logged; a new log by default. Driving stops early once its caller is dead. */
  log?: CallLog;
}

/** Makes `count` calls at `ratePerSec`, in clock steps, and returns the log; calls may still be unsettled. */
export async function drive(sim: DeliverySimulation, options: DriveOptions): Promise<CallLog> {
  const log = options.log ?? new CallLog(sim.clock);
  const begin = sim.clock.now();
  let sent = 0;
  while (sent < options.count && !log.callerDead) {
    const elapsedMs = sim.clock.now() - begin;
    const due = Math.min(options.count, Math.floor((elapsedMs * options.ratePerSec) / 1000) + 1);
    while (sent < due) {
      const id = String(sent++);
      log.track(id, options.call(id));
    }
    await options.onStep?.(elapsedMs, sent);
    await sim.run(STEP_MS);
  }
  return log;
}

