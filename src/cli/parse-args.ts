// Turns a program's command line and environment into what to do: print help, print the version, or start a node.

import { readFileSync } from "node:fs";
import { parseArgs as parseFlags } from "node:util";
import { KaffixError } from "../errors.js";
import { checkPeer, checkPort, DEFAULT_PORT, resolveStartOptions, type LogLevel, type StartOptions } from "../core/start-options.js";

export type Command = { kind: "help" } | { kind: "version" } | { kind: "start"; options: StartOptions };

export interface ParseArgsOptions {
  /** Reads a --token-file; injected so tests need no files. Default: fs.readFileSync as UTF-8. */
  readFile?: (path: string) => string;
}

// One table drives both the parser and the help text, so a flag cannot be added to one and not the other.
const FLAGS = {
  token: { type: "string", multiple: true, value: "TOKEN", help: "Cluster secret; repeat to accept several during a rotation, newest first" },
  "token-file": { type: "string", multiple: true, value: "PATH", help: "Read tokens from a file, one per line, newest first" },
  peer: { type: "string", multiple: true, value: "HOST:PORT", help: "A node to join through; repeatable" },
  port: { type: "string", value: "PORT", help: `Cluster port (default ${DEFAULT_PORT}; 0 picks a free one)` },
  host: { type: "string", value: "HOST", help: "Bind address of the cluster port (default 0.0.0.0)" },
  advertise: { type: "string", value: "HOST:PORT", help: "Address other nodes should dial, when not the bind address (containers, NAT)" },
  region: { type: "string", value: "NAME", help: "This node's region (default \"default\")" },
  weight: { type: "string", value: "N", help: "This node's capacity relative to its cores and memory (default 1)" },
  label: { type: "string", multiple: true, value: "NAME", help: "Something this node is near, e.g. postgres (services with near: NAME prefer it); repeatable" },
  placement: { type: "string", value: "on|off", help: "Self-organizing placement (default on); off keeps every service active on this node" },
  services: { type: "string", value: "A,B", help: "Only run these services on this node (default: all)" },
  http: { type: "string", value: "PORT", help: "Turn on the admin HTTP endpoint on this port (off by default)" },
  "http-host": { type: "string", value: "HOST", help: "Bind address of the admin endpoint (default 127.0.0.1)" },
  "log-level": { type: "string", value: "LEVEL", help: "fatal, error, warn, info (default), debug, trace or silent" },
  "max-frame-bytes": { type: "string", value: "BYTES", help: "Largest payload one frame between nodes may carry (default 4194304)" },
  help: { type: "boolean", short: "h", help: "Print this help" },
  version: { type: "boolean", short: "v", help: "Print the app's and Kaffix's versions" },
} as const;

const ENV_VARS = {
  KAFFIX_TOKEN: "Tokens, comma-separated, newest first (used when no --token or --token-file is given)",
  KAFFIX_PEERS: "Peers, comma-separated (used when no --peer is given)",
  KAFFIX_PORT: "Cluster port (used when no --port is given)",
  KAFFIX_REGION: "Region (used when no --region is given)",
  KAFFIX_LABELS: "Labels, comma-separated (used when no --label is given)",
  KAFFIX_WEIGHT: "Weight (used when no --weight is given)",
  KAFFIX_ADVERTISE: "Advertised HOST:PORT (used when no --advertise is given)",
  KAFFIX_LOG_LEVEL: "Log level (used when no --log-level is given)",
} as const;

/**
 * Reads argv (without the node and script paths) and env. Throws KaffixError("INVALID_ARGUMENT") with a
 * message naming the flag at fault. --help and --version win over every other flag and need no token.
 */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv, options: ParseArgsOptions = {}): Command {
  const values = readFlags(argv);
  if (values.help === true) return { kind: "help" };
  if (values.version === true) return { kind: "version" };

  const start: StartOptions = { token: readTokens(values, env, options.readFile ?? readUtf8) };
  const peers = values.peer !== undefined ? values.peer.flatMap(splitList) : splitList(env.KAFFIX_PEERS ?? "");
  if (peers.length > 0) start.peers = peers.map(checkPeer);
  const port = values.port ?? nonEmpty(env.KAFFIX_PORT);
  if (port !== undefined) start.port = parsePort(port, values.port !== undefined ? "--port" : "KAFFIX_PORT");
  if (values.host !== undefined) start.host = values.host;
  const advertise = values.advertise ?? nonEmpty(env.KAFFIX_ADVERTISE);
  if (advertise !== undefined) start.advertise = checkPeer(advertise);
  const region = values.region ?? nonEmpty(env.KAFFIX_REGION);
  if (region !== undefined) start.region = region;
  const weightText = values.weight ?? nonEmpty(env.KAFFIX_WEIGHT);
  if (weightText !== undefined) {
    const weight = Number(weightText);
    const field = values.weight !== undefined ? "--weight" : "KAFFIX_WEIGHT";
    if (weightText.trim() === "" || !Number.isFinite(weight)) invalid(`${field} must be a number, got ${JSON.stringify(weightText)}`);
    start.weight = weight;
  }
  const labels = values.label !== undefined ? values.label.flatMap(splitList) : splitList(env.KAFFIX_LABELS ?? "");
  if (labels.length > 0) start.labels = labels;
  if (values.placement !== undefined) {
    if (values.placement !== "on" && values.placement !== "off") invalid(`--placement must be on or off, got ${JSON.stringify(values.placement)}`);
    if (values.placement === "off") start.placement = false;
  }
  if (values.services !== undefined) {
    start.services = splitList(values.services);
    if (start.services.length === 0) invalid("--services needs at least one service id, e.g. --services DoubleNumberService");
  }
  if (values.http !== undefined) {
    const http = parsePort(values.http, "--http");
    start.http = values["http-host"] === undefined ? http : { port: http, host: values["http-host"] };
  } else if (values["http-host"] !== undefined) {
    invalid("--http-host only applies with --http PORT");
  }
  const logLevel = values["log-level"] ?? nonEmpty(env.KAFFIX_LOG_LEVEL);
  if (logLevel !== undefined) start.logLevel = logLevel as LogLevel;
  if (values["max-frame-bytes"] !== undefined) {
    const bytes = Number(values["max-frame-bytes"]);
    if (!/^\d+$/.test(values["max-frame-bytes"]) || !Number.isSafeInteger(bytes)) {
      invalid(`--max-frame-bytes must be a whole number of bytes, got ${JSON.stringify(values["max-frame-bytes"])}`);
    }
    start.maxFrameBytes = bytes;
  }
  // The app checks its options again at start; checking here too turns a bad value into exit code 2
  // before anything binds. Services are left to start(), which knows the app's service ids.
  resolveStartOptions({ ...start, services: undefined }, [], () => "");
  return { kind: "start", options: start };
}

/** The --help text; `program` is how the user invokes the app. */
export function usage(program: string, appName: string): string {
  const flagLines = Object.entries(FLAGS).map(([name, flag]) => {
    const short = "short" in flag ? `-${flag.short}, ` : "    ";
    const value = "value" in flag ? ` ${flag.value}` : "";
    return [`  ${short}--${name}${value}`, flag.help] as const;
  });
  const envLines = Object.entries(ENV_VARS).map(([name, help]) => [`  ${name}`, help] as const);
  const width = Math.max(...[...flagLines, ...envLines].map(([left]) => left.length)) + 2;
  const table = (rows: readonly (readonly [string, string])[]) => rows.map(([l, r]) => l.padEnd(width) + r).join("\n");
  return `${appName}: a Kaffix app. Every node runs the same program; nodes sharing a token form one cluster.

Usage: ${program} --token TOKEN [--peer HOST:PORT]... [options]

Options:
${table(flagLines)}

Environment:
${table(envLines)}

A token is required: \`kaffix token\` prints a strong one. Give every node of a cluster the same token.

Example:
  ${program} --token=T --peer=host:12345
`;
}

type FlagValues = ReturnType<typeof parseFlagsStrict>["values"];

function parseFlagsStrict(argv: readonly string[]) {
  return parseFlags({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false });
}

function readFlags(argv: readonly string[]): FlagValues {
  try {
    return parseFlagsStrict(argv).values;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") invalid(`unknown flag ${quoted}`);
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") invalid(`unexpected argument ${JSON.stringify(quoted)}; flags look like --name value`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      // Node calls `--token -abc` ambiguous; a token may well start with "-", so say how to pass one.
      if (message.includes("ambiguous")) invalid(`${quoted} is missing its value, or its value starts with "-": then write ${quoted}=VALUE`);
      invalid(message.replace(/\s*\n\s*/g, " "));
    }
    throw error;
  }
}

function readTokens(values: FlagValues, env: NodeJS.ProcessEnv, readFile: (path: string) => string): string[] {
  const tokens: string[] = [];
  for (const token of values.token ?? []) {
    if (token.trim() === "") invalid("--token must not be empty");
    tokens.push(token.trim());
  }
  for (const path of values["token-file"] ?? []) {
    let text: string;
    try {
      text = readFile(path);
    } catch (error) {
      invalid(`cannot read --token-file ${path}: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    const fromFile = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
    if (fromFile.length === 0) invalid(`--token-file ${path} contains no token`);
    tokens.push(...fromFile);
  }
  // The command line overrides the environment rather than adding to it, as for every other setting.
  if (tokens.length === 0) tokens.push(...splitList(env.KAFFIX_TOKEN ?? ""));
  if (tokens.length === 0) {
    invalid("a token is required: pass --token, set KAFFIX_TOKEN or use --token-file (kaffix token prints a strong one)");
  }
  return tokens;
}

function parsePort(raw: string, field: string): number {
  // checkPort words the error; a non-numeric string reaches it as-is so the message quotes what was typed.
  return checkPort(/^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw, field);
}

function splitList(raw: string): string[] {
  return raw.split(",").map((part) => part.trim()).filter((part) => part !== "");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function readUtf8(path: string): string {
  return readFileSync(path, "utf8");
}

function invalid(message: string, cause?: unknown): never {
  throw new KaffixError("INVALID_ARGUMENT", message, cause === undefined ? {} : { cause });
}
