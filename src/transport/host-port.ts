// Node addresses as "host:port" strings, IPv6 hosts in brackets.

import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
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

/**
 * The address peers should dial for a listener on `host`. A wildcard host (0.0.0.0, ::) becomes this
 * machine's first external address of that family, so that other machines can use it; loopback when
 * there is none. (ClusterNode replaces it with the address its seed sees, once it joins.)
 */
export function formatAddress(
  host: string,
  port: number,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  if (host === "0.0.0.0" || host === "" || host === "::") {
    const family = host === "::" ? "IPv6" : "IPv4";
    const external = Object.values(interfaces)
      .flatMap((list) => list ?? [])
      .find((info) => info.family === family && !info.internal && !info.address.startsWith("fe80:"));
    host = external?.address ?? (family === "IPv6" ? "::1" : "127.0.0.1");
  }
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
