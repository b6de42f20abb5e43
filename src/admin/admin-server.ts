// The node's admin HTTP endpoint: health, cluster view, publish/request by service id, dead letters, metrics and the dashboard.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { App } from "../index.js";
import type { HttpOptions } from "../index.js";
import { systemClock } from "../clock.js";
import { KaffixError } from "../errors.js";
import { checkBearer, isLoopback } from "./bearer-auth.js";
import { DashboardStreams } from "./dashboard/dashboard-streams.js";
import { answerClientError, sendError, type HeaderMap } from "./respond.js";
import { isPublicPath, matchRoute } from "./routes.js";

export interface AdminServer {
  /** Base URL to reach the endpoint, e.g. `http://127.0.0.1:8080`; a wildcard bind is reported as 127.0.0.1. */
  readonly url: string;
  /**
   * Stops listening and closes idle keep-alive connections at once. Requests in progress get
   * CLOSE_GRACE_MS to finish; those still running are then answered 503 STOPPING and every
   * connection is closed. Resolves once the port is released. Safe to call more than once.
   */
  close(): Promise<void>;
}

// Bounds that keep one slow or hostile client from holding the node's resources.
/** Time to receive a whole request, headers and body (not the time to answer it). */
const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 1024;
/** How long close() lets requests in progress finish before answering them itself. */
const CLOSE_GRACE_MS = 1_000;
/** How long the STOPPING answers get to reach their clients before every socket is destroyed. */
const CLOSE_FLUSH_MS = 200;

export async function startAdminServer(app: App, http: Required<HttpOptions>, logger: Logger): Promise<AdminServer> {
  const needsToken = !isLoopback(http.host);
  const inProgress = new Set<ServerResponse>();
  const dashboard = new DashboardStreams({ source: app, clock: systemClock, logger });
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    inProgress.add(res);
    res.once("close", () => inProgress.delete(res));
    // Once close() has begun, no connection is kept alive past the answer it is waiting for.
    if (closing) res.setHeader("connection", "close");
    const headers: HeaderMap = {};
    try {
      const target = req.url ?? "/";
      const queryAt = target.indexOf("?");
      const path = queryAt < 0 ? target : target.slice(0, queryAt);
      if (needsToken && !isPublicPath(path)) checkBearer(req, app);
      const query = new URLSearchParams(queryAt < 0 ? "" : target.slice(queryAt + 1));
      const matched = matchRoute(path);
      if (matched === undefined) throw new KaffixError("NOT_FOUND", `no admin route at ${JSON.stringify(path)}`);
      const { route, serviceId } = matched;
      const method = req.method ?? "GET";
      if (!route.methods.includes(method)) {
        headers.allow = route.methods.join(", ");
        throw new KaffixError("METHOD_NOT_ALLOWED", `${path} answers to ${route.methods.join(" or ")}, not ${method}`);
      }
      await route.handle({ app, req, res, logger, maxBodyBytes: http.maxBodyBytes, serviceId, query, dashboard });
    } catch (thrown) {
      if (thrown instanceof KaffixError && thrown.code === "UNAUTHORIZED") headers["www-authenticate"] = "Bearer";
      // A body left unread (refused, or over the limit) is not drained: the connection closes instead.
      if (!req.complete && hasBody(req)) headers.connection = "close";
      sendError(res, thrown, logger, headers);
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;
  server.on("clientError", answerClientError);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: http.host, port: http.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => logger.error({ err: error }, "admin endpoint: server error"));

  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(http.host)}:${port}`;
  let closed: Promise<void> | undefined;

  function close(): Promise<void> {
    if (closed !== undefined) return closed;
    closing = true;
    // Event streams never finish on their own: end them now rather than after the grace period.
    dashboard.close();
    for (const res of inProgress) if (!res.headersSent) res.setHeader("connection", "close");
    closed = new Promise<void>((resolve) => {
      const grace = setTimeout(() => {
        const stopping = new KaffixError("STOPPING", "the node is stopping; the admin endpoint is closing");
        for (const res of inProgress) sendError(res, stopping, logger, { connection: "close" });
        setTimeout(() => server.closeAllConnections(), CLOSE_FLUSH_MS).unref();
      }, CLOSE_GRACE_MS);
      grace.unref();
      server.close(() => {
        clearTimeout(grace);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  }

  return { url, close };
}

/** The host part of the endpoint's URL: wildcard binds are reached through loopback; IPv6 is bracketed. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "[::]") return "127.0.0.1";
  if (isIP(host) === 6) return `[${host}]`;
  return host;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}
