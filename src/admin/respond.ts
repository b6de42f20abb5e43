// Writes the admin endpoint's responses: JSON bodies, and errors in their wire form with the matching HTTP status.

import { STATUS_CODES, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { KaffixError, type WireError } from "../errors.js";

/** HTTP status per error code. A code not listed is a handler's own and answers 500 with its code kept. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  INVALID_ARGUMENT: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  UNKNOWN_SERVICE: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  QUEUE_FULL: 503,
  SERVICE_UNAVAILABLE: 503,
  STOPPING: 503,
  NOT_RUNNING: 503,
  TIMEOUT: 504,
};

/** How long a client is told to wait after QUEUE_FULL, in seconds (the unit Retry-After uses). */
const QUEUE_FULL_RETRY_AFTER_S = "1";

export type HeaderMap = Record<string, string>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: HeaderMap = {}): void {
  sendText(res, status, JSON.stringify(body), "application/json; charset=utf-8", headers);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string, headers: HeaderMap = {}): void {
  if (res.headersSent || res.destroyed) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = Buffer.from(text);
  res.writeHead(status, { ...headers, "content-type": contentType, "content-length": String(body.length) });
  res.end(body);
}

/**
 * Answers with whatever was thrown, as `{ code, message, retryable, data? }` and never a stack.
 * Anything that is not a KaffixError, and INTERNAL itself, is a Kaffix bug: the client gets a
 * generic message and the real error goes to the log.
 */
export function sendError(res: ServerResponse, thrown: unknown, logger: Logger, headers: HeaderMap = {}): void {
  let wire: WireError;
  if (thrown instanceof KaffixError && thrown.code !== "INTERNAL") {
    wire = thrown.toWire();
  } else {
    logger.error({ err: thrown, method: res.req.method, url: res.req.url }, "admin endpoint: unexpected error");
    wire = { code: "INTERNAL", message: "internal error; the node's log has the details", retryable: false };
  }
  const status = STATUS_BY_CODE[wire.code] ?? 500;
  const extra: HeaderMap = { ...headers };
  if (wire.code === "QUEUE_FULL") extra["retry-after"] = QUEUE_FULL_RETRY_AFTER_S;
  // An answer already sent (say STOPPING, at close) is not logged a second time when the handler ends.
  if (status >= 500 && wire.code !== "INTERNAL" && !res.headersSent) {
    logger.warn(
      { status, code: wire.code, error: wire.message, method: res.req.method, url: res.req.url },
      "admin endpoint answered with a server error",
    );
  }
  sendJson(res, status, wire, extra);
}

/**
 * Answers a request Node could not parse (or that timed out before it was whole) in the same JSON
 * form as every other error, instead of Node's default empty 400.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const responding = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === "ECONNRESET" || !socket.writable || responding) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "TIMEOUT", "the request was not received in time"]
      : error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "BAD_REQUEST", "the request headers are too large"]
        : [400, "BAD_REQUEST", "the request is not valid HTTP"];
  const body = JSON.stringify({ code, message, retryable: code === "TIMEOUT" });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
