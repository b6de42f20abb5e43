// Decides whether the admin endpoint needs a bearer token (any bind address but loopback) and checks it.

import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import type { App } from "../index.js";
import { KaffixError } from "../errors.js";

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** True for 127.0.0.0/8, ::1 (in any spelling, IPv4-mapped included) and "localhost". */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 0) return false;
  return loopback.check(bare, family === 4 ? "ipv4" : "ipv6");
}

/** Throws UNAUTHORIZED unless the request carries `Authorization: Bearer <token>` with a token the app accepts. */
export function checkBearer(req: IncomingMessage, app: App): void {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (match === null) {
    throw new KaffixError("UNAUTHORIZED", "this endpoint needs an `Authorization: Bearer <token>` header with the cluster token");
  }
  if (!app.acceptsToken(match[1]!)) throw new KaffixError("UNAUTHORIZED", "the bearer token is not one this node accepts");
}
