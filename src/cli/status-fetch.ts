// Fetches one snapshot of a node's view (GET /cluster and GET /placement) and says plainly why when it cannot.

import type { ClusterView, PlacementView } from "../index.js";

/** What `kaffix status` shows, and what `--json` prints. */
export interface StatusSnapshot {
  /** The admin endpoint asked. */
  url: string;
  /** When the answers arrived (ISO 8601). */
  fetchedAt: string;
  cluster: ClusterView;
  /** The node's placement view; null when the node has no /placement route (an older Kaffix). */
  placement: PlacementView | { enabled: false; node: string } | null;
}

export type StatusFailure = "unreachable" | "timeout" | "unauthorized" | "not-kaffix" | "refused";

/** Why a snapshot could not be had. Never carries the token. */
export class StatusError extends Error {
  override readonly name = "StatusError";
  readonly reason: StatusFailure;

  constructor(reason: StatusFailure, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

export interface FetchSnapshotOptions {
  token: string | undefined;
  timeoutMs: number;
  /** Aborts the requests in progress (Ctrl-C during --watch); they then reject with the abort reason. */
  signal?: AbortSignal;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
  now?: () => Date;
}

export async function fetchSnapshot(base: URL, options: FetchSnapshotOptions): Promise<StatusSnapshot> {
  const [cluster, placement] = await Promise.all([getJson(base, "cluster", options), getJson(base, "placement", options, true)]);
  if (!isClusterView(cluster)) {
    throw notKaffix(base, "GET /cluster answered JSON without the members list a Kaffix node sends");
  }
  if (placement !== null && !isPlacement(placement)) {
    throw notKaffix(base, "GET /placement answered JSON that is not a Kaffix placement view");
  }
  return { url: display(base), fetchedAt: (options.now?.() ?? new Date()).toISOString(), cluster, placement };
}

/** The JSON body of GET `path`; null when `optional` and the node answers Kaffix's own NOT_FOUND. */
async function getJson(base: URL, path: string, options: FetchSnapshotOptions, optional = false): Promise<unknown> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  let response: Response;
  let text: string;
  try {
    // A redirect could carry the token to another host: an admin endpoint never redirects, so none is followed.
    response = await (options.fetch ?? fetch)(url, { headers, signal, redirect: "manual" });
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted === true) throw options.signal.reason;
    if (timeout.aborted) throw new StatusError("timeout", `${display(base)} did not answer GET /${path} within ${options.timeoutMs} ms`, error);
    throw unreachable(base, error);
  }
  const body = parseJson(text);
  if (response.status === 401) {
    const hint =
      options.token === undefined
        ? "it needs the cluster token: pass --token, --token-file or set KAFFIX_TOKEN (an endpoint bound to anything but loopback always asks for it)"
        : "the token given is not one this node accepts";
    throw new StatusError("unauthorized", `${display(base)} answered 401 Unauthorized: ${hint}`);
  }
  const kaffixError = isWireError(body) ? body : undefined;
  if (response.status === 404 && optional && kaffixError?.code === "NOT_FOUND") return null;
  if (response.status < 200 || response.status > 299) {
    if (kaffixError === undefined) throw notKaffix(base, `GET /${path} answered ${response.status} ${response.statusText}`.trim());
    throw new StatusError("refused", `${display(base)} answered GET /${path} with ${response.status} ${kaffixError.code}: ${kaffixError.message}`);
  }
  if (body === undefined) {
    const type = response.headers.get("content-type") ?? "no content type";
    throw notKaffix(base, `GET /${path} answered ${type}, not JSON`);
  }
  return body;
}

function unreachable(base: URL, error: unknown): StatusError {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const why =
    code === "ECONNREFUSED"
      ? "connection refused; is the node running, with its admin endpoint on this port (--http)?"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? `the host name ${JSON.stringify(base.hostname)} does not resolve`
        : code !== undefined
          ? code
          : typeof cause?.message === "string"
            ? cause.message
            : error instanceof Error
              ? error.message
              : String(error);
  return new StatusError("unreachable", `cannot reach ${display(base)}: ${why}`, error);
}

function notKaffix(base: URL, what: string): StatusError {
  return new StatusError("not-kaffix", `${display(base)} does not look like a Kaffix admin endpoint: ${what}. Give the URL of a node's --http port.`);
}

/** The URL as the user would type it: no trailing slash on the bare origin. */
function display(base: URL): string {
  return base.pathname === "/" ? base.origin : base.href;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isWireError(value: unknown): value is { code: string; message: string } {
  return isRecord(value) && typeof value.code === "string" && typeof value.message === "string";
}

function isClusterView(value: unknown): value is ClusterView {
  if (!isRecord(value) || !isRecord(value.self) || typeof value.self.id !== "string" || !Array.isArray(value.members)) return false;
  return value.members.every((member) => isRecord(member) && typeof member.id === "string" && typeof member.state === "string");
}

function isPlacement(value: unknown): value is PlacementView | { enabled: false; node: string } {
  if (!isRecord(value) || typeof value.enabled !== "boolean") return false;
  return value.enabled === false || (isRecord(value.running) && isRecord(value.placement) && Array.isArray(value.history));
}
