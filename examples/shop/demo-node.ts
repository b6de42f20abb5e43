// One node of the demo cluster (demo.ts starts three): the shop on 127.0.0.1, with placement's quick demo settings.

import { parseArgs } from "node:util";
import type { LogLevel, PlacementOptions } from "../../src/index.js";
import { createShopApp } from "./app.js";

/**
 * Demo settings, so that a newcomer sees placement settle within a minute: a round every 2 s, and a
 * service moved at most every 5 s. The defaults (5 s and 30 s) suit production, where moving less
 * often is worth more than settling fast.
 */
const DEMO_PLACEMENT: Partial<PlacementOptions> = { intervalMs: 2_000, minMoveIntervalMs: 5_000 };

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    http: { type: "string", default: "0" },
    peer: { type: "string", multiple: true, default: [] },
    label: { type: "string", multiple: true, default: [] },
    "log-level": { type: "string", default: "info" },
    // Stop when stdin closes: the launcher holds the other end, so even a launcher killed with -9 leaves no node behind.
    "with-parent": { type: "boolean", default: false },
  },
});

const app = createShopApp();
let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  app.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`error: stopping failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
if (values["with-parent"]) {
  process.stdin.on("end", stop).on("error", stop).resume();
}

const region = process.env.KAFFIX_REGION?.trim() || "default";
const tokens = (process.env.KAFFIX_TOKEN ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "");
if (tokens.length === 0) {
  process.stderr.write("error: set KAFFIX_TOKEN to the demo's token (npm start prints it)\n");
  process.exit(2);
}
try {
  await app.start({
    token: tokens,
    host: "127.0.0.1",
    port: Number(values.port),
    peers: values.peer,
    region,
    labels: values.label,
    http: { port: Number(values.http), host: "127.0.0.1" },
    logLevel: values["log-level"] as LogLevel, // start() checks it
    placement: DEMO_PLACEMENT,
  });
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
process.stdout.write(`Running ${app.name} on port ${app.port}\nAdmin endpoint: ${app.httpUrl}\nNode ${app.nodeId} in ${region}\n`);
