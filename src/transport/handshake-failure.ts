// What a failed handshake means: a log category and reason for the listener, an error for the dialer.

import { KaffixError } from "../errors.js";

/** A log category and reason for a failed inbound handshake. */
export function describeFailure(error: unknown): { category: string; reason: string } {
  if (error instanceof KaffixError) {
    if (error.code === "TIMEOUT") return { category: "handshake timeout", reason: error.message };
    if (error.code === "PROTOCOL_ERROR") return { category: "bad hello", reason: `bad hello: ${error.message}` };
    return { category: "closed during handshake", reason: error.message };
  }
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
  if (typeof code === "string" && code.startsWith("ERR_SSL")) return { category: `tls ${code}`, reason: `TLS handshake failed (${code})` };
  return { category: `error ${typeof code === "string" ? code : "other"}`, reason: `connection failed during the handshake: ${message}` };
}

/** The error `connect()` rejects with: Kaffix errors as they are, TLS failures with a hint, network errors untouched. */
export function dialError(error: unknown, address: string, handshakeTimeoutMs: number): Error {
  if (error instanceof KaffixError) {
    if (error.code === "TIMEOUT") return new KaffixError("TIMEOUT", `no link to ${address} within ${handshakeTimeoutMs} ms`, { cause: error, data: { address } });
    return error;
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("ERR_SSL")) {
    return new KaffixError("LINK_CLOSED", `TLS handshake with ${address} failed (${code}): the peer does not accept this node's token, or is not a Kaffix node`, {
      cause: error,
      data: { address, code },
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}
