// Kaffix's own version, read from its package.json (two levels up from both src/cli and dist/cli).

import { createRequire } from "node:module";

export function kaffixVersion(): string {
  const manifest = createRequire(import.meta.url)("../../package.json") as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}
