// What the bench scripts share: the machine a run is on, run sizing, median / min / max, the tables and the results file.

import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

// ── The machine ─────────────────────────────────────────────────────────────────────────────────

export const loadAverage = (): number[] => loadavg().map((l) => Number(l.toFixed(2)));

export function machine() {
  let commit: string | undefined;
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
    commit = dirty === "" ? head : `${head} (src modified)`;
  } catch {
    commit = undefined; // not a git checkout: the report just lacks the commit
  }
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? "unknown",
    cores: cores.length,
    node: process.version,
    platform: `${platform()} ${arch()}`,
    loadAverage: loadAverage(),
    commit,
    date: new Date().toISOString(),
  };
}
export type Machine = ReturnType<typeof machine>;

// ── Running ─────────────────────────────────────────────────────────────────────────────────────

setFlagsFromString("--expose-gc");
const gcFromFlag: unknown = runInNewContext("gc");
/** A full collection between runs, so one run's garbage is not billed to the next. */
export const collectGarbage = typeof gcFromFlag === "function" ? (gcFromFlag as () => void) : () => {};

/** Ends the process once the benchmark has run for `watchdogMs`: a hang fails the run instead of stalling it. */
export function exitWhenHung(watchdogMs: number): void {
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${watchdogMs / 1000} s; something hangs`);
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();
}

/** Runs a script's main; a crash is printed and sets exit code 1 rather than surfacing as an unhandled rejection. */
export async function runMain(main: () => void | Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    console.error("bench crashed:", error);
    process.exitCode = 1;
  }
}

/** The size that would take `targetMs` at this run's rate: two significant digits, a multiple of `step` (a power of ten). */
function sizeFor(size: number, seconds: number, step: number, targetMs: number): number {
  const wanted = (size * targetMs) / 1000 / Math.max(seconds, 1e-6);
  const unit = Math.max(step, 10 ** Math.floor(Math.log10(Math.max(wanted, 1)) - 1));
  return Math.max(unit, Math.round(wanted / unit) * unit);
}

/**
 * Grows a run until it takes a quarter of `targetMs`, then runs once at full size (the warm-up) and sizes from that.
 * `time` does one run of the given size and resolves with the seconds it took.
 */
export async function calibrate(time: (size: number) => Promise<number>, step: number, targetMs: number): Promise<number> {
  let size = step;
  let seconds = await time(size);
  while (seconds * 1000 < targetMs / 4) {
    size = seconds * 1000 < targetMs / 40 ? size * 10 : sizeFor(size, seconds, step, targetMs);
    seconds = await time(size);
  }
  size = sizeFor(size, seconds, step, targetMs);
  return sizeFor(size, await time(size), step, targetMs);
}

// ── Statistics ──────────────────────────────────────────────────────────────────────────────────

/** The middle value, or the mean of the two middle ones when the count is even. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[], round: (n: number) => number = Math.round): Spread {
  return { median: round(median(values)), min: round(Math.min(...values)), max: round(Math.max(...values)) };
}

/** The rates of one side's timed runs, all of `size` operations. */
export interface Stats extends Spread {
  size: number;
  rates: number[];
}

export function stats(size: number, rates: number[]): Stats {
  return { size, rates: rates.map(Math.round), ...spread(rates) };
}

// ── Reporting ───────────────────────────────────────────────────────────────────────────────────

/** Prints an aligned table: the first `leftColumns` columns padded on the right, the rest on the left. Returns the column widths. */
export function printTable(header: string[], rows: string[][], leftColumns = 1): number[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("   ");
  console.log(line(header));
  console.log(widths.map((w) => "─".repeat(w)).join("   "));
  for (const row of rows) console.log(line(row));
  return widths;
}

/** The lines of a markdown table, aligned as `printTable` aligns it. */
export function markdownTable(header: string[], rows: string[][], leftColumns = 1): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i < leftColumns ? "---" : "---:")).join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
}

/** The opening of a markdown report: which command measured on which machine, on what day, at which commit. */
export function measuredBy(command: string, info: Machine): string {
  const commit = info.commit === undefined ? "" : `, commit ${info.commit}`;
  return `Measured by \`${command}\` on ${info.cpu} (${info.cores} cores), Node ${info.node}, ${info.date.slice(0, 10)}${commit}`;
}

/** `bench/results/<benchmark>.json`, or `<benchmark>-quick.json` so a smoke test never overwrites a real run. */
export function resultsPath(benchmark: string, quick: boolean): string {
  return join(ROOT, "bench", "results", quick ? `${benchmark}-quick.json` : `${benchmark}.json`);
}

export function writeResults(path: string, body: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`; // written whole, then renamed: a crash never leaves half a file
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Closes a child's stdin (the bench peers stop and exit on that), then kills it if it lingers past `killAfterMs`. */
export async function endChild(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  await gone;
  clearTimeout(timer);
}
