// The options a node starts with (from app.start or the command line), their defaults and their validation.

import type { Logger } from "pino";
import { KaffixError } from "../errors.js";
import type { Clock } from "../clock.js";
import { membershipOptions, type MembershipOptions } from "../cluster/membership-options.js";
import { resolvePlacementOptions, type PlacementOptions, type ResolvedPlacementOptions } from "../placement/placement-options.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface HttpOptions {
  /** Port of the admin endpoint; 0 picks a free one. */
  port: number;
  /** Bind address. Default 127.0.0.1; any other address requires `Authorization: Bearer <token>`. */
  host?: string;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface StartOptions {
  /**
   * The cluster's shared secret. Several (newest first) are accepted during a rotation. Without one a
   * random token is made, so the node can serve but never join a cluster.
   */
  token?: string | readonly string[];
  /** Peers to join through, as host:port (used once membership lands). */
  peers?: readonly string[];
  /** Cluster port. Default 12345; 0 picks a free one. */
  port?: number;
  /** Bind address of the cluster port. Default 0.0.0.0. */
  host?: string;
  /**
   * host:port other nodes should dial, when it differs from the bind address (containers, NAT).
   * Default: the bind address, or this machine's first external address when bound to 0.0.0.0.
   */
  advertise?: string;
  region?: string;
  /** This node's capacity relative to its cores and memory, e.g. 2 for a machine that should take twice the work. Default 1. */
  weight?: number;
  /**
   * Names of things this node is near (e.g. "postgres", "gpu"): a service declaring `near: "postgres"`
   * prefers nodes with that label. Letters, digits and `_ . : = / -`, at most 128 characters each, at most 32.
   */
  labels?: readonly string[];
  /**
   * Self-organizing placement (on by default): which services are active on which node, decided by
   * the runtime from measured load, traffic and latency. `false` keeps every service this node may
   * run active here; give the same setting to every node of a cluster.
   */
  placement?: false | Partial<PlacementOptions>;
  /** Ids of the services this node may run. Default: every service added to the app. */
  services?: readonly string[];
  /** Admin HTTP endpoint; off unless given. A number is shorthand for `{ port }`. */
  http?: number | HttpOptions;
  /** Default "info". Ignored when `logger` is given. */
  logLevel?: LogLevel;
  /** A pino logger to use instead of the node's own. */
  logger?: Logger;
  /** Dead letters kept in memory. Default 1000. */
  deadLetterLimit?: number;
  /** Largest payload one frame between nodes may carry, in bytes. Default 4 MiB. */
  maxFrameBytes?: number;
  /**
   * Membership protocol settings (probe interval and timeout, indirect probes, suspicion multipliers,
   * gossip fanout and interval, push-pull interval, …). Default: memberlist's LAN settings.
   */
  membership?: Partial<MembershipOptions>;
  /** Injected time, for tests. */
  clock?: Clock;
  /** Injected randomness in [0, 1), for tests. */
  random?: () => number;
}

export interface ResolvedStartOptions {
  tokens: string[];
  tokenGenerated: boolean;
  peers: string[];
  port: number;
  host: string;
  advertise: string | undefined;
  region: string;
  weight: number;
  labels: string[];
  /** Undefined when placement is off. */
  placement: ResolvedPlacementOptions | undefined;
  services: string[] | undefined;
  http: Required<HttpOptions> | undefined;
  logLevel: LogLevel;
  deadLetterLimit: number;
  maxFrameBytes: number;
  membership: Readonly<MembershipOptions>;
}

export const DEFAULT_PORT = 12345;
const LABEL_PATTERN = /^[A-Za-z0-9_.:=\/-]{1,128}$/;

function invalid(message: string, field: string): never {
  throw new KaffixError("INVALID_ARGUMENT", message, { data: { field } });
}

export function checkPort(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535) {
    invalid(`${field} must be an integer from 0 to 65535, got ${JSON.stringify(value)}`, field);
  }
  return value;
}

/** Checks a host:port string; returns it unchanged. */
export function checkPeer(value: unknown): string {
  if (typeof value !== "string") invalid(`a peer must be "host:port", got ${JSON.stringify(value)}`, "peers");
  const colon = value.lastIndexOf(":");
  const host = value.slice(0, colon);
  const port = Number(value.slice(colon + 1));
  if (colon <= 0 || host.length === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    invalid(`a peer must be "host:port" with a port from 1 to 65535, got ${JSON.stringify(value)}`, "peers");
  }
  return value;
}

export function resolveStartOptions(
  options: StartOptions,
  knownServices: readonly string[],
  makeToken: () => string,
): ResolvedStartOptions {
  if (options === null || typeof options !== "object") invalid("start options must be an object", "options");
  const given = options.token === undefined ? [] : typeof options.token === "string" ? [options.token] : [...options.token];
  for (const token of given) {
    if (typeof token !== "string" || token.length === 0) invalid("a token must be a non-empty string", "token");
  }
  const tokens = given.length > 0 ? given : [makeToken()];
  const peers = (options.peers ?? []).map(checkPeer);
  const port = checkPort(options.port ?? DEFAULT_PORT, "port");
  const host = options.host ?? "0.0.0.0";
  if (typeof host !== "string" || host.length === 0) invalid("host must be a non-empty string", "host");
  const region = options.region ?? "default";
  if (typeof region !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(region)) {
    invalid(`region must be 1-64 letters, digits, "_", "." or "-", got ${JSON.stringify(region)}`, "region");
  }
  let services: string[] | undefined;
  if (options.services !== undefined) {
    services = [...options.services];
    const unknown = services.filter((id) => !knownServices.includes(id));
    if (unknown.length > 0) {
      invalid(
        `unknown service${unknown.length > 1 ? "s" : ""} ${unknown.map((s) => `"${s}"`).join(", ")}; this app has ${knownServices.map((s) => `"${s}"`).join(", ") || "no services"}`,
        "services",
      );
    }
  }
  let http: Required<HttpOptions> | undefined;
  if (options.http !== undefined) {
    const spec = typeof options.http === "number" ? { port: options.http } : options.http;
    const maxBodyBytes = spec.maxBodyBytes ?? 1024 * 1024;
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) invalid("http.maxBodyBytes must be a positive integer", "http");
    http = { port: checkPort(spec.port, "http port"), host: spec.host ?? "127.0.0.1", maxBodyBytes };
  }
  const logLevel = options.logLevel ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) invalid(`log level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`, "logLevel");
  const deadLetterLimit = options.deadLetterLimit ?? 1000;
  if (!Number.isInteger(deadLetterLimit) || deadLetterLimit < 1) invalid("deadLetterLimit must be a positive integer", "deadLetterLimit");
  const maxFrameBytes = options.maxFrameBytes ?? 4 * 1024 * 1024;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024 || maxFrameBytes > 64 * 1024 * 1024) {
    invalid(`maxFrameBytes must be an integer from 1024 to 64 MiB, got ${JSON.stringify(maxFrameBytes)}`, "maxFrameBytes");
  }
  const advertise = options.advertise === undefined ? undefined : checkPeer(options.advertise);
  const weight = options.weight ?? 1;
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0 || weight > 1000) {
    invalid(`weight must be a number above 0 and at most 1000, got ${JSON.stringify(weight)}`, "weight");
  }
  const labels = [...(options.labels ?? [])];
  if (labels.length > 32) invalid(`at most 32 labels, got ${labels.length}`, "labels");
  for (const label of labels) {
    if (typeof label !== "string" || !LABEL_PATTERN.test(label)) {
      invalid(`a label must be 1-128 letters, digits, "_", ".", ":", "=", "/" or "-", got ${JSON.stringify(label)}`, "labels");
    }
  }
  const placement = options.placement === false ? undefined : resolvePlacementOptions(options.placement ?? {});
  return { tokens, tokenGenerated: given.length === 0, peers, port, host, advertise, region, weight, labels, placement, services, http, logLevel, deadLetterLimit, maxFrameBytes, membership: membershipOptions(options.membership ?? {}) };
}

/** Rough entropy of a token in bits, from its length and the character classes it uses. */
export function estimateTokenBits(token: string): number {
  let alphabet = 0;
  if (/[a-z]/.test(token)) alphabet += 26;
  if (/[A-Z]/.test(token)) alphabet += 26;
  if (/[0-9]/.test(token)) alphabet += 10;
  if (/[^A-Za-z0-9]/.test(token)) alphabet += 33;
  return token.length * Math.log2(Math.max(alphabet, 2));
}
