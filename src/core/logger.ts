// Builds the node's pino logger: JSON lines by default, human-readable when stdout is a terminal.

import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./start-options.js";

export function createLogger(level: LogLevel, bindings: Record<string, unknown>): Logger {
  const options = { level, base: bindings };
  if (process.stdout.isTTY) return pino(options, pretty({ sync: true, colorize: true, ignore: "pid,hostname" }));
  // Synchronous writes keep log lines in order with each other and with the CLI's own stdout lines.
  return pino(options, pino.destination({ sync: true }));
}
