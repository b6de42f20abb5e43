// Reads `kaffix status`'s command line: which admin endpoint, which token (never echoed), and how to show it.

import { readFileSync } from "node:fs";
import { parseArgs as parseFlags } from "node:util";
import { KaffixError } from "../errors.js";

export interface StatusArgs {
  /** The admin endpoint's base URL, normalized to end in "/". */
  url: URL;
  /** The bearer token, when one was given; sent only in the Authorization header. */
  token: string | undefined;
  watch: boolean;
  intervalMs: number;
  json: boolean;
  /** Bound on each HTTP request. */
  timeoutMs: number;
  /** Recent placement moves to list. */
  moves: number;
}

export const DEFAULT_INTERVAL_MS = 2_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_MOVES = 10;

// One table drives both the parser and the help text.
const FLAGS = {
  watch: { type: "boolean", short: "w", help: "Refresh every --interval-ms until Ctrl-C" },
  "interval-ms": { type: "string", value: "MS", help: `Time between refreshes with --watch (default ${DEFAULT_INTERVAL_MS})` },
  json: { type: "boolean", help: "Print the raw snapshot ({ url, fetchedAt, cluster, placement }) as JSON" },
  token: { type: "string", value: "TOKEN", help: "Bearer token, needed when the endpoint is not on loopback" },
  "token-file": { type: "string", value: "PATH", help: "Read the token from a file (its first line)" },
  "timeout-ms": { type: "string", value: "MS", help: `Bound on each HTTP request (default ${DEFAULT_TIMEOUT_MS})` },
  moves: { type: "string", value: "N", help: `Recent placement moves to list (default ${DEFAULT_MOVES})` },
  help: { type: "boolean", short: "h", help: "Print this help" },
} as const;

export type StatusCommand = { kind: "help" } | { kind: "status"; args: StatusArgs };

/** Throws KaffixError("INVALID_ARGUMENT") naming what is wrong; never puts a token in a message. */
export function parseStatusArgs(argv: readonly string[], env: NodeJS.ProcessEnv, readFile: (path: string) => string = readUtf8): StatusCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") invalid(`unknown flag ${quoted}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted.startsWith("--token")) {
      invalid(`${quoted} is missing its value, or its value starts with "-": then write ${quoted}=VALUE`);
    }
    invalid(message.replace(/\s*\n\s*/g, " "));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: "help" };
  if (positionals.length === 0) invalid("the admin endpoint's URL is missing, e.g. kaffix status http://127.0.0.1:8080");
  if (positionals.length > 1) invalid(`one admin URL at a time, got ${positionals.length}: ${positionals.map((p) => JSON.stringify(p)).join(", ")}`);
  return {
    kind: "status",
    args: {
      url: adminUrl(positionals[0]!),
      token: tokenOf(values, env, readFile),
      watch: values.watch === true,
      intervalMs: integer(values["interval-ms"], "--interval-ms", DEFAULT_INTERVAL_MS, 100),
      json: values.json === true,
      timeoutMs: integer(values["timeout-ms"], "--timeout-ms", DEFAULT_TIMEOUT_MS, 1),
      moves: integer(values.moves, "--moves", DEFAULT_MOVES, 0),
    },
  };
}

export function statusUsage(): string {
  const flagRows = Object.entries(FLAGS).map(([name, flag]) => {
    const short = "short" in flag ? `-${flag.short}, ` : "    ";
    return [`  ${short}--${name}${"value" in flag ? ` ${flag.value}` : ""}`, flag.help] as const;
  });
  const envRows = [["  KAFFIX_TOKEN", "The token, when no --token or --token-file is given (the first of a comma-separated list)"]] as const;
  const width = Math.max(...[...flagRows, ...envRows].map(([left]) => left.length)) + 2;
  const table = (rows: readonly (readonly [string, string])[]) => rows.map(([left, help]) => left.padEnd(width) + help).join("\n");
  return `Usage: kaffix status <admin-url> [options]

Prints a node's view of its cluster: members and their state, region, round trip and capacity; which
services each node runs and may run; per-service rates; and placement's recent moves with their reasons.
It reads GET /cluster and GET /placement from the node's admin endpoint (--http).

Options:
${table(flagRows)}

Environment:
${table(envRows)}

Examples:
  kaffix status http://127.0.0.1:8080
  KAFFIX_TOKEN=... kaffix status http://10.0.0.5:8080 --watch
`;
}

function parse(argv: readonly string[]) {
  return parseFlags({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true });
}

/** Accepts `http://host:port`, with or without a path prefix, and `host:port` alone (http is assumed). */
function adminUrl(raw: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    invalid(`${JSON.stringify(raw)} is not a URL; give the node's admin endpoint, e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") invalid(`the admin URL must be http:// or https://, got ${url.protocol}//`);
  if (url.username !== "" || url.password !== "") invalid("put the token in --token, --token-file or KAFFIX_TOKEN, not in the URL");
  url.search = "";
  url.hash = "";
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

function tokenOf(values: ReturnType<typeof parse>["values"], env: NodeJS.ProcessEnv, readFile: (path: string) => string): string | undefined {
  if (values.token !== undefined) {
    if (values.token.trim() === "") invalid("--token must not be empty");
    return values.token.trim();
  }
  const path = values["token-file"];
  if (path !== undefined) {
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      invalid(`cannot read --token-file ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const first = text.split(/\r?\n/).map((line) => line.trim()).find((line) => line !== "");
    if (first === undefined) invalid(`--token-file ${path} contains no token`);
    return first;
  }
  // The first is the newest token: the one a node dials with, so every node of the cluster accepts it.
  return (env.KAFFIX_TOKEN ?? "").split(",").map((part) => part.trim()).find((part) => part !== "");
}

function integer(raw: string | undefined, flag: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(value >= min)) invalid(`${flag} must be a whole number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

function readUtf8(path: string): string {
  return readFileSync(path, "utf8");
}

function invalid(message: string): never {
  throw new KaffixError("INVALID_ARGUMENT", message);
}
