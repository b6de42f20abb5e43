// Reads the deployment files (Kubernetes manifests, the Dockerfile, the systemd unit) and checks command lines
// against what the CLI really accepts: its flags and environment variables as `--help` lists them, and parseArgs.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { parseArgs, usage } from "../../src/cli/parse-args.js";
import type { StartOptions } from "../../src/index.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** A token strong enough that the CLI does not warn about it, for command lines that need one. */
export const SAMPLE_TOKEN = "x".repeat(8) + "Q7f0aZk2Lr9sVb1N4cTm8yWpH3uJdE6g";

export interface Manifest {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  // The manifests are data from a file: a loose shape, checked by the tests that read it.
  readonly doc: any;
}

/**
 * Every document of every .yaml file in `dir`. Fails on any YAML error or warning (duplicate keys included), and
 * when a document reads differently as YAML 1.1, which Kubernetes' parser speaks (`on`, `off` and `yes` are
 * booleans there, `0600` an octal number).
 */
export function readManifests(dir: string): Manifest[] {
  const out: Manifest[] = [];
  for (const name of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith(".yaml")).sort()) {
    const file = join(dir, name);
    const text = readFileSync(join(ROOT, file), "utf8");
    const docs = parseAllDocuments(text, { uniqueKeys: true, strict: true, prettyErrors: true });
    const asOld = parseAllDocuments(text, { version: "1.1", uniqueKeys: true });
    if (!Array.isArray(docs) || !Array.isArray(asOld)) throw new Error(`${file}: not a YAML stream`);
    docs.forEach((doc, i) => {
      const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
      if (problems.length > 0) throw new Error(`${file}, document ${i + 1}: ${problems.join("; ")}`);
      const value = doc.toJS();
      if (JSON.stringify(value) !== JSON.stringify(asOld[i]!.toJS())) {
        throw new Error(`${file}, document ${i + 1} reads differently as YAML 1.1 (Kubernetes): quote values like on, off, yes, 0600`);
      }
      if (typeof value?.kind !== "string" || typeof value?.apiVersion !== "string" || typeof value?.metadata?.name !== "string") {
        throw new Error(`${file}, document ${i + 1} lacks apiVersion, kind or metadata.name`);
      }
      out.push({ file, kind: value.kind, name: value.metadata.name, doc: value });
    });
  }
  return out;
}

/** The one manifest of `kind` (and `name`, when given); throws when there is none or more than one. */
export function only(manifests: readonly Manifest[], kind: string, name?: string): any {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ""}, found ${found.length}`);
  return found[0]!.doc;
}

const HELP = usage("app", "App");

/** Every flag the CLI has, as `--help` lists them (the help text and the parser share one table). */
export const CLI_FLAGS: ReadonlySet<string> = new Set([...HELP.matchAll(/^ {2}(?:-\w, | {4})--([a-z][a-z-]*)/gm)].map((m) => m[1]!));
/** Every environment variable the CLI reads, as `--help` lists them. */
export const CLI_ENV_VARS: ReadonlySet<string> = new Set([...HELP.slice(HELP.indexOf("Environment:")).matchAll(/^ {2}(KAFFIX_[A-Z_]+)/gm)].map((m) => m[1]!));

/** Throws when a KAFFIX_* name is not one the CLI reads (a misspelled variable is silently ignored otherwise). */
export function checkEnvNames(names: Iterable<string>, where: string): void {
  for (const name of names) {
    if (name.startsWith("KAFFIX_") && !CLI_ENV_VARS.has(name)) {
      throw new Error(`${where}: ${name} is not an environment variable the CLI reads (${[...CLI_ENV_VARS].join(", ")})`);
    }
  }
}

/**
 * Runs argv through the CLI's own parser with `env`, after naming any unknown flag itself (the clearer message).
 * --token-file reads are answered with a sample token. Returns the start options the node would get.
 */
export function checkArgv(argv: readonly string[], env: NodeJS.ProcessEnv, where: string): StartOptions {
  for (const arg of argv) {
    const flag = /^--([^=]+)/.exec(arg)?.[1];
    if (flag !== undefined && !CLI_FLAGS.has(flag)) throw new Error(`${where}: --${flag} is not a flag of the CLI (${[...CLI_FLAGS].join(", ")})`);
  }
  checkEnvNames(Object.keys(env), where);
  const command = parseArgs(argv, env, { readFile: () => `${SAMPLE_TOKEN}\n` });
  if (command.kind !== "start") throw new Error(`${where}: the command line asks for ${command.kind}, not to start a node`);
  return command.options;
}

/** `{ port }` of an `http` start option, whichever form it has. */
export function httpOf(options: StartOptions): { port: number; host: string } | undefined {
  if (options.http === undefined) return undefined;
  return typeof options.http === "number" ? { port: options.http, host: "127.0.0.1" } : { port: options.http.port, host: options.http.host ?? "127.0.0.1" };
}

export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
  /** Index of the FROM this instruction belongs to; -1 before the first. */
  readonly stage: number;
}

/** The Dockerfile's instructions, continuation lines joined and comments dropped. */
export function readDockerfile(path = "Dockerfile"): DockerInstruction[] {
  const lines = readFileSync(join(ROOT, path), "utf8").split("\n");
  const out: DockerInstruction[] = [];
  let stage = -1;
  let pending = "";
  for (const raw of lines) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue; // a comment inside a continued instruction
    pending += (pending === "" ? "" : " ") + line.replace(/\\$/, "").trim();
    if (line.endsWith("\\")) continue;
    const [keyword, ...rest] = pending.split(/\s+/);
    if (keyword!.toUpperCase() === "FROM") stage++;
    out.push({ keyword: keyword!.toUpperCase(), args: rest.join(" "), stage });
    pending = "";
  }
  return out;
}

/** The JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK's CMD; throws on the shell form, whose signals are lost. */
export function execForm(args: string, where: string): string[] {
  const json = args.slice(args.indexOf("["));
  try {
    const value = JSON.parse(json) as unknown;
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  } catch {
    // reported below
  }
  throw new Error(`${where} is not in exec form (a JSON array of strings): ${args}`);
}

/** A systemd unit as section → key → values (a key may repeat). */
export function readUnit(path: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of readFileSync(join(ROOT, path), "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section !== null) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === undefined || eq < 0) throw new Error(`${path}: cannot read ${JSON.stringify(line)}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** KEY=value lines of an environment file (systemd's EnvironmentFile, without quoting). */
export function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of readFileSync(join(ROOT, path), "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) throw new Error(`${path}: not KEY=value: ${JSON.stringify(line)}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}
