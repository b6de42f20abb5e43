// `kaffix status <admin-url>`: prints the cluster as one node sees it, once or (--watch) until Ctrl-C.

import { KaffixError } from "../errors.js";
import { parseStatusArgs, statusUsage, type StatusArgs } from "./status-args.js";
import { fetchSnapshot, StatusError } from "./status-fetch.js";
import { renderStatus } from "./status-render.js";

/** The process as the command sees it; injected so tests can run a watch without a terminal or signals. */
export interface StatusIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stdout is a terminal: --watch redraws in place and colours are on (unless NO_COLOR). */
  readonly isTTY: boolean;
  readonly columns: number | undefined;
  fetch: typeof fetch;
  readFile?: (path: string) => string;
  /** Calls `handler` on Ctrl-C (SIGINT) or SIGTERM; returns a function that stops listening. */
  onInterrupt(handler: () => void): () => void;
  now?: () => Date;
}

export function processIo(): StatusIo {
  // A closed stdout (`kaffix status --watch | head`) ends the watch like Ctrl-C, instead of an EPIPE crash.
  let closed = false;
  const interrupts = new Set<() => void>();
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    closed = true;
    for (const handler of interrupts) handler();
  });
  return {
    stdout: (text) => void (closed || process.stdout.write(text)),
    stderr: (text) => void process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    columns: process.stdout.columns,
    fetch: globalThis.fetch,
    onInterrupt(handler) {
      interrupts.add(handler);
      process.on("SIGINT", handler);
      process.on("SIGTERM", handler);
      return () => {
        interrupts.delete(handler);
        process.off("SIGINT", handler);
        process.off("SIGTERM", handler);
      };
    },
  };
}

// Cursor home, then each line cleared to its end and the rest of the screen after the frame: a redraw without flicker.
const HOME = "\x1b[H";
const CLEAR_LINE = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";
const CLEAR_SCREEN = "\x1b[2J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

/** Returns the exit code: 0 shown (or stopped with Ctrl-C), 1 the endpoint could not be read, 2 a usage error. */
export async function runStatus(argv: readonly string[], env: NodeJS.ProcessEnv, io: StatusIo): Promise<number> {
  let args: StatusArgs;
  try {
    const command = parseStatusArgs(argv, env, io.readFile);
    if (command.kind === "help") {
      io.stdout(statusUsage());
      return 0;
    }
    args = command.args;
  } catch (error) {
    if (!(error instanceof KaffixError)) throw error;
    io.stderr(`error: ${error.message}\nrun kaffix status --help for usage\n`);
    return 2;
  }
  return args.watch ? watch(args, env, io) : once(args, env, io);
}

async function once(args: StatusArgs, env: NodeJS.ProcessEnv, io: StatusIo): Promise<number> {
  try {
    const snapshot = await fetchSnapshot(args.url, { token: args.token, timeoutMs: args.timeoutMs, fetch: io.fetch, ...nowOf(io) });
    io.stdout(args.json ? `${JSON.stringify(snapshot, null, 2)}\n` : render(snapshot, args, env, io));
    return 0;
  } catch (error) {
    io.stderr(`error: ${describe(error)}\n`);
    return 1;
  }
}

/**
 * Redraws every interval until Ctrl-C, then leaves the last frame on screen and returns 0. A failed
 * refresh is shown in place of the frame and retried: a node restarting does not end the watch.
 * Without a terminal (or with --json) each refresh is printed after the previous one.
 */
async function watch(args: StatusArgs, env: NodeJS.ProcessEnv, io: StatusIo): Promise<number> {
  const stop = new AbortController();
  const stopListening = io.onInterrupt(() => stop.abort(new KaffixError("STOPPING", "interrupted")));
  const redraw = io.isTTY && !args.json;
  if (redraw) io.stdout(HIDE_CURSOR + HOME + CLEAR_SCREEN);
  try {
    while (!stop.signal.aborted) {
      let frame: string;
      try {
        const snapshot = await fetchSnapshot(args.url, { token: args.token, timeoutMs: args.timeoutMs, signal: stop.signal, fetch: io.fetch, ...nowOf(io) });
        frame = args.json ? `${JSON.stringify(snapshot)}\n` : render(snapshot, args, env, io);
      } catch (error) {
        if (stop.signal.aborted) break;
        if (args.json) {
          io.stderr(`error: ${describe(error)}\n`);
          frame = "";
        } else {
          frame = `error: ${describe(error)}\n`;
        }
      }
      const footer = args.json ? "" : `\nrefreshing every ${args.intervalMs / 1000} s; Ctrl-C to stop\n`;
      if (redraw) io.stdout(HOME + (frame + footer).replace(/\n/g, `${CLEAR_LINE}\n`) + CLEAR_BELOW);
      else io.stdout(args.json ? frame : `${frame}${footer}\n`);
      await sleep(args.intervalMs, stop.signal);
    }
  } finally {
    stopListening();
    if (redraw) io.stdout(SHOW_CURSOR);
  }
  return 0;
}

function render(snapshot: Parameters<typeof renderStatus>[0], args: StatusArgs, env: NodeJS.ProcessEnv, io: StatusIo): string {
  // https://no-color.org: any non-empty NO_COLOR turns colours off.
  const color = io.isTTY && (env.NO_COLOR ?? "") === "";
  return renderStatus(snapshot, { color, width: io.columns ?? 120, moves: args.moves });
}

function nowOf(io: StatusIo): { now?: () => Date } {
  return io.now === undefined ? {} : { now: io.now };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** StatusError messages are written for the user; anything else is unexpected and shown as it is. */
function describe(error: unknown): string {
  return error instanceof StatusError || error instanceof Error ? error.message : String(error);
}
