// The per-call options of publish and request, checked: timeout and affinity key.

import { KaffixError } from "../errors.js";
import type { Registration } from "./service-registry.js";

export const DEFAULT_TIMEOUT_MS = 10_000;
/** setTimeout's own limit (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The `timeoutMs` of publish/request options, checked; a bad one is an INVALID_ARGUMENT, never a hang. */
export function timeoutOf(options: { timeoutMs?: number } | undefined): number | KaffixError {
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs === "number" && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS) return timeoutMs;
  return new KaffixError("INVALID_ARGUMENT", `timeoutMs must be a number from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`, {
    data: { field: "timeoutMs" },
  });
}

/** The affinity key of a message: the publish option first, then the service's `key` function. */
export function keyOf(options: { key?: string | number } | undefined, registration: Registration, message: unknown): string | undefined | KaffixError {
  let key: unknown = options?.key;
  if (key === undefined && registration.options.key !== undefined) {
    try {
      key = registration.options.key(message);
    } catch (thrown) {
      const reason = thrown instanceof Error ? thrown.message : String(thrown);
      return new KaffixError("INVALID_ARGUMENT", `the key function of "${registration.id}" threw: ${reason}`, { data: { service: registration.id } });
    }
  }
  if (key === undefined) return undefined;
  if (typeof key === "string") return key;
  if (typeof key === "number" && Number.isFinite(key)) return String(key);
  return new KaffixError("INVALID_ARGUMENT", `an affinity key must be a string or a finite number, got ${typeof key}`, { data: { field: "key" } });
}
