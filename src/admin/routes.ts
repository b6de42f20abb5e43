// The admin endpoint's routes: which path and method do what, using only the App's public methods.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { App, DeadLetter } from "../index.js";
import { KaffixError } from "../errors.js";
import type { DashboardStreams } from "./dashboard/dashboard-streams.js";
import { dashboardRoutes } from "./dashboard/dashboard-routes.js";
import { readJsonBody } from "./read-body.js";
import { sendJson, sendText } from "./respond.js";

/** Longest `?timeoutMs=` a caller may ask for: the HTTP connection is held that long. */
export const MAX_TIMEOUT_MS = 300_000;

export interface RouteContext {
  readonly app: App;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  /** The service id from `/publish/<id>` or `/request/<id>`, URL-decoded; "" elsewhere. */
  readonly serviceId: string;
  readonly query: URLSearchParams;
  /** The dashboard's live streams on this endpoint. */
  readonly dashboard: DashboardStreams;
}

export interface Route {
  /** Methods this path answers to; any other gets 405 with these in `Allow`. */
  readonly methods: readonly string[];
  /** Served without the bearer token: only for routes that reveal nothing about the cluster (the dashboard's page and assets). */
  readonly public?: boolean;
  handle(ctx: RouteContext): Promise<void>;
}

const GET = ["GET", "HEAD"] as const;
const POST = ["POST"] as const;

const health: Route = {
  methods: GET,
  async handle({ app, res }) {
    const state = app.state;
    if (state !== "running") {
      sendJson(res, 503, { status: state });
      return;
    }
    const self = app.cluster().self;
    sendJson(res, 200, { status: "ok", node: self.id, app: self.app, version: self.version, startedAt: self.startedAt });
  },
};

const cluster: Route = {
  methods: GET,
  async handle({ app, res }) {
    sendJson(res, 200, app.cluster());
  },
};

const placement: Route = {
  methods: GET,
  async handle({ app, res }) {
    sendJson(res, 200, app.placement());
  },
};

const deadLetters: Route = {
  methods: GET,
  async handle({ app, res }) {
    sendJson(res, 200, { deadLetters: app.deadLetters().map(jsonSafe) });
  },
};

const metrics: Route = {
  methods: GET,
  async handle({ app, res }) {
    const { contentType, body } = await app.metrics();
    sendText(res, 200, body, contentType);
  },
};

/** Answers 202 `{"accepted":true}` once the service's queue took the message. */
const publish: Route = {
  methods: POST,
  async handle({ app, req, res, maxBodyBytes, serviceId, query }) {
    const timeoutMs = timeoutOf(query);
    const body = await readJsonBody(req, maxBodyBytes);
    await app.publish(serviceId, body, timeoutMs === undefined ? undefined : { timeoutMs });
    sendJson(res, 202, { accepted: true });
  },
};

/**
 * Answers 200 `{"reply": <value>}` with the handler's return value. Wrapping keeps every reply a
 * JSON object, so `undefined` (which JSON cannot spell) is sent as `{"reply": null}`.
 */
const request: Route = {
  methods: POST,
  async handle({ app, req, res, maxBodyBytes, serviceId, query }) {
    const timeoutMs = timeoutOf(query);
    const body = await readJsonBody(req, maxBodyBytes);
    const reply = await app.request(serviceId, body, timeoutMs === undefined ? undefined : { timeoutMs });
    let text: string;
    try {
      text = JSON.stringify({ reply: reply ?? null });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new KaffixError("HANDLER_ERROR", `the handler's reply cannot be sent as JSON: ${reason}`, { data: { service: serviceId } });
    }
    sendText(res, 200, text, "application/json; charset=utf-8");
  },
};

const EXACT: ReadonlyMap<string, Route> = new Map([
  ["/health", health],
  ["/cluster", cluster],
  ["/placement", placement],
  ["/dead-letters", deadLetters],
  ["/metrics", metrics],
  ...dashboardRoutes,
]);

const BY_PREFIX: readonly (readonly [string, Route])[] = [
  ["/publish/", publish],
  ["/request/", request],
];

/** True for the paths served without a token even when one is required. */
export function isPublicPath(path: string): boolean {
  return EXACT.get(path)?.public === true;
}

/** The route for a path, with the service id it names; undefined when no route has this path. */
export function matchRoute(path: string): { route: Route; serviceId: string } | undefined {
  const exact = EXACT.get(path);
  if (exact !== undefined) return { route: exact, serviceId: "" };
  for (const [prefix, route] of BY_PREFIX) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    if (rest === "" || rest.includes("/")) return undefined;
    let serviceId: string;
    try {
      serviceId = decodeURIComponent(rest);
    } catch {
      throw new KaffixError("BAD_REQUEST", `the service id in ${JSON.stringify(path)} is not valid URL encoding`);
    }
    return { route, serviceId };
  }
  return undefined;
}

/** Reads `?timeoutMs=N`: absent is fine, anything but an integer from 1 to MAX_TIMEOUT_MS is not. */
function timeoutOf(query: URLSearchParams): number | undefined {
  const raw = query.get("timeoutMs");
  if (raw === null) return undefined;
  const value = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= MAX_TIMEOUT_MS)) {
    throw new KaffixError("BAD_REQUEST", `timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(raw)}`, {
      data: { field: "timeoutMs" },
    });
  }
  return value;
}

/**
 * Local messages are never serialized, so a dead letter may hold a BigInt or a cycle; one such entry
 * must not break the listing of all the others.
 */
function jsonSafe(letter: DeadLetter): DeadLetter {
  try {
    JSON.stringify(letter.message);
    return letter;
  } catch {
    return { ...letter, message: { unserializable: Object.prototype.toString.call(letter.message) } };
  }
}
