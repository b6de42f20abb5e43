// Node addresses as "host:port" strings, IPv6 hosts in brackets.

import { KaffixError } from "../errors.js";

/** Splits "host:port" or "[v6]:port". */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new KaffixError("INVALID_ARGUMENT", `"${address.slice(0, 300)}" is not a host:port address`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

/** The address peers should dial for a listener on `host`: a wildcard host becomes loopback. */
export function formatAddress(host: string, port: number): string {
  if (host === "0.0.0.0" || host === "") return `127.0.0.1:${port}`;
  if (host === "::") return `[::1]:${port}`;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
