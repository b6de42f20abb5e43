// The loops the benchmarks time, shared by bench/cross-node.ts and the processes of bench/compare.ts: a windowed stream, concurrent request loops, percentiles.

/** Nearest-rank percentile of sorted values. */
export const percentile = (sorted: Float64Array, q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

/** Rounds to a tenth, for microseconds and milliseconds in reports. */
export const tenths = (n: number): number => Math.round(n * 10) / 10;

export interface Streamed {
  /** Numbers whose send rejected, with the error's code (or name). */
  rejected: { n: number; code: string }[];
}

/**
 * Calls `send(0 … n − 1)` keeping at most `window` unresolved, and resolves once all have settled.
 * `onAccepted` sees the count of resolved sends grow (the kill scenario acts on it).
 */
export async function windowed(n: number, window: number, send: (i: number) => Promise<unknown>, onAccepted?: (accepted: number) => void): Promise<Streamed> {
  const rejected: Streamed["rejected"] = [];
  let inFlight = 0;
  let accepted = 0;
  let wake: (() => void) | undefined;
  const settled = (): void => {
    inFlight--;
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const room = () => new Promise<void>((resolve) => (wake = resolve));
  for (let i = 0; i < n; i++) {
    while (inFlight >= window) await room();
    inFlight++;
    const index = i;
    send(index).then(
      () => {
        onAccepted?.(++accepted);
        settled();
      },
      (error: unknown) => {
        rejected.push({ n: index, code: errorCode(error) });
        settled();
      },
    );
  }
  while (inFlight > 0) await room();
  return { rejected };
}

/** A short name for an error: its `code` (Kaffix) or `type` / `name` (Moleculer, Node). */
export function errorCode(error: unknown): string {
  if (error !== null && typeof error === "object") {
    const { code, type, name } = error as { code?: unknown; type?: unknown; name?: unknown };
    if (typeof code === "string" && code !== "") return code;
    if (typeof type === "string" && type !== "") return type;
    if (typeof name === "string") return name;
  }
  return String(error);
}

export interface Timing {
  seconds: number;
  /** Round trips in milliseconds, sorted. */
  latencies: Float64Array;
}

/**
 * `size` round trips from `loops` concurrent loops (`size` a multiple of `loops`), each one timed unless
 * `timeEach` is false (local calls, where two clock reads would be a good part of the call).
 */
export async function requestRun(size: number, loops: number, call: (slot: number, n: number) => Promise<void>, timeEach = true): Promise<Timing> {
  const per = size / loops;
  const latencies = new Float64Array(timeEach ? size : 0);
  const loop = async (slot: number): Promise<void> => {
    if (!timeEach) {
      for (let n = slot * per; n < (slot + 1) * per; n++) await call(slot, n);
      return;
    }
    for (let n = slot * per; n < (slot + 1) * per; n++) {
      const sent = performance.now();
      await call(slot, n);
      latencies[n] = performance.now() - sent;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: loops }, (_, slot) => loop(slot)));
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort() };
}

/** What one timed run reports back: seconds, and for request runs p50 / p99 in µs. */
export interface RunReport {
  seconds: number;
  p50Us?: number;
  p99Us?: number;
}

export function report(timing: Timing): RunReport {
  if (timing.latencies.length === 0) return { seconds: timing.seconds };
  return { seconds: timing.seconds, p50Us: tenths(percentile(timing.latencies, 0.5) * 1000), p99Us: tenths(percentile(timing.latencies, 0.99) * 1000) };
}

export interface Settled {
  ok: number;
  /** Requests that settled with an error, by error code. */
  failed: Record<string, number>;
  /** Requests with no answer by their deadline plus the grace. */
  lost: number;
}

/**
 * `n` requests from `loops` loops, each given up on `deadlineMs` after it was sent; `onSettled` sees
 * the count of settled requests grow. Never rejects: every outcome is counted.
 */
export async function settleAll(n: number, loops: number, deadlineMs: number, call: (i: number) => Promise<void>, onSettled?: (settled: number) => void): Promise<Settled> {
  const result: Settled = { ok: 0, failed: {}, lost: 0 };
  let next = 0;
  let settled = 0;
  const loop = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"lost">((resolve) => (timer = setTimeout(() => resolve("lost"), deadlineMs)));
      const outcome = await Promise.race([call(i).then(() => "ok" as const, (error: unknown) => errorCode(error)), deadline]);
      clearTimeout(timer);
      if (outcome === "ok") result.ok++;
      else if (outcome === "lost") result.lost++;
      else result.failed[outcome] = (result.failed[outcome] ?? 0) + 1;
      onSettled?.(++settled);
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return result;
}
