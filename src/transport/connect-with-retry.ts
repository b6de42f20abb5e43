// Dials a peer until it answers: exponential backoff with jitter, until success, abort, or the transport closes.

import { KaffixError } from "../errors.js";
import { systemClock, type Clock } from "../clock.js";
import type { Link, Transport } from "./transport.js";

export interface ConnectWithRetryOptions {
  signal?: AbortSignal;
  /** First backoff ceiling. Default 100. */
  initialDelayMs?: number;
  /** Backoff ceiling cap. Default 30000. */
  maxDelayMs?: number;
  clock?: Clock;
  /** Uniform in [0, 1). */
  random?: () => number;
  /** Told about each failed attempt and the wait before the next, e.g. to log it. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Resolves with the link once a dial succeeds. Rejects with the abort reason when `signal` aborts, or
 * with the transport's error once it is closed (`closed` is true, or connect fails with NOT_RUNNING).
 * Every other failure, an incompatible peer included (it may be upgraded), is retried.
 */
export async function connectWithRetry(
  transport: Transport & { readonly closed?: boolean },
  address: string,
  options: ConnectWithRetryOptions = {},
): Promise<Link> {
  const { signal, initialDelayMs = 100, maxDelayMs = 30_000, clock = systemClock, random = Math.random } = options;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await transport.connect(address);
    } catch (error) {
      if (transport.closed === true || (error instanceof KaffixError && error.code === "NOT_RUNNING")) throw error;
      signal?.throwIfAborted();
      const ceilingMs = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 30));
      // "Equal jitter": between half and all of the ceiling, so redialers spread out yet never spin.
      const delayMs = Math.round(ceilingMs * (0.5 + random() / 2));
      options.onRetry?.(error, attempt, delayMs);
      await sleep(clock, delayMs, signal);
    }
  }
}

function sleep(clock: Clock, delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
