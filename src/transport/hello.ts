// The hello exchanged after a connection is secured: who may join whom, and which services agree.

import type { Hello } from "./transport.js";

/** Bumped on any incompatible change of the wire protocol. */
export const PROTOCOL_VERSION = 1;

/**
 * Why `remote` may not join `local`, said so that both sides' logs name what differs; undefined
 * when they are compatible. Different service sets are normal and never a reason.
 */
export function refusalReason(local: Hello, remote: Hello): string | undefined {
  if (remote.protocol !== local.protocol) {
    return `protocol version differs: this node speaks ${local.protocol}, node ${remote.nodeId} at ${remote.address} speaks ${remote.protocol}`;
  }
  if (remote.app !== local.app) {
    return `app differs: this node belongs to "${local.app}", node ${remote.nodeId} at ${remote.address} to "${remote.app}"`;
  }
  if (remote.nodeId === local.nodeId) return `node ${remote.nodeId} dialed itself`;
  return undefined;
}

/** Services both nodes have whose contract fingerprints differ (a rolling upgrade in progress). */
export function mismatchedServices(local: Pick<Hello, "services">, remote: Pick<Hello, "services">): string[] {
  const out: string[] = [];
  for (const [id, fingerprint] of Object.entries(remote.services)) {
    if (!Object.hasOwn(local.services, id)) continue; // not ours; and never a name from Object.prototype
    if (local.services[id] !== fingerprint) out.push(id);
  }
  return out.sort();
}

/** Checks that a decoded value is a well-formed Hello; returns the problem, or undefined. */
export function helloProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return "hello is not an object";
  const h = value as Record<string, unknown>;
  if (!Number.isInteger(h.protocol)) return "hello.protocol is not an integer";
  if (typeof h.app !== "string" || h.app.length > 256) return "hello.app is not a string of at most 256 characters";
  if (typeof h.nodeId !== "string" || h.nodeId.length === 0 || h.nodeId.length > 128) return "hello.nodeId is invalid";
  if (!Number.isSafeInteger(h.incarnation) || (h.incarnation as number) < 0) return "hello.incarnation is invalid";
  if (typeof h.address !== "string" || h.address.length > 300) return "hello.address is invalid";
  if (h.maxFrameBytes !== undefined && (!Number.isSafeInteger(h.maxFrameBytes) || (h.maxFrameBytes as number) < 1)) return "hello.maxFrameBytes is invalid";
  if (h.features !== undefined && (!Array.isArray(h.features) || h.features.length > 64 || !h.features.every((f) => typeof f === "string" && f.length <= 64))) {
    return "hello.features is invalid";
  }
  if (h.services === null || typeof h.services !== "object" || Array.isArray(h.services)) return "hello.services is not an object";
  const entries = Object.entries(h.services as object);
  if (entries.length > 10_000) return "hello.services has too many entries";
  for (const [id, fingerprint] of entries) {
    if (id.length > 128 || typeof fingerprint !== "string" || fingerprint.length > 128) return `hello.services["${id.slice(0, 40)}"] is invalid`;
  }
  return undefined;
}
