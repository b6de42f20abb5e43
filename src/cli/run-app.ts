// What `app.run()` does: read the command line, start the node, print where it runs, stop cleanly on a signal.

import type { App } from "../index.js";
import { KaffixError } from "../errors.js";
import { kaffixVersion } from "./kaffix-version.js";
import { parseArgs, usage, type Command } from "./parse-args.js";

/** The process as runApp sees it; injected so a test can drive runApp without exiting. */
export interface CliProcess {
  stdout(text: string): void;
  stderr(text: string): void;
  exit(code: number): void;
  onSignal(signal: NodeJS.Signals, handler: () => void): void;
}

export const realProcess: CliProcess = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  exit: (code) => process.exit(code),
  onSignal: (signal, handler) => process.on(signal, handler),
};

/**
 * Resolves once the node is running; exits the process on --help, --version, bad arguments (code 2)
 * and start failures (2 for INVALID_ARGUMENT, 1 otherwise).
 */
export async function runApp(app: App, argv: readonly string[], env: NodeJS.ProcessEnv, proc: CliProcess = realProcess): Promise<void> {
  let command: Command;
  try {
    command = parseArgs(argv, env);
  } catch (error) {
    proc.stderr(`error: ${describe(error)}\nrun with --help for usage\n`);
    return proc.exit(2);
  }
  if (command.kind === "help") {
    proc.stdout(usage(programName(app.name), app.name));
    return proc.exit(0);
  }
  if (command.kind === "version") {
    proc.stdout(`${app.name} ${app.version}\nkaffix ${kaffixVersion()}\n`);
    return proc.exit(0);
  }
  // Signals count from here on: a Ctrl-C during start stops the node cleanly once it is up.
  stopOnSignals(app, proc);
  try {
    await app.start(command.options);
  } catch (error) {
    proc.stderr(`error: ${describe(error)}\n`);
    return proc.exit(error instanceof KaffixError && error.code === "INVALID_ARGUMENT" ? 2 : 1);
  }
  proc.stdout(`Running ${app.name} on port ${app.port}\n`);
  if (app.httpUrl !== undefined) proc.stdout(`Admin endpoint: ${app.httpUrl}\n`);
}

function stopOnSignals(app: App, proc: CliProcess): void {
  let stopping = false;
  const onSignal = (): void => {
    // A second Ctrl-C means "now": do not wait for in-flight work any longer.
    if (stopping) return proc.exit(1);
    stopping = true;
    app.stop().then(
      () => proc.exit(0),
      (error: unknown) => {
        proc.stderr(`error: stopping failed: ${describe(error)}\n`);
        proc.exit(1);
      },
    );
  };
  proc.onSignal("SIGINT", onSignal);
  proc.onSignal("SIGTERM", onSignal);
}

function describe(error: unknown): string {
  const errno = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (errno?.code === "EADDRINUSE") {
    const where = errno.port !== undefined ? `port ${errno.port}${errno.address ? ` on ${errno.address}` : ""}` : "the port";
    return `${where} is already in use (EADDRINUSE); stop the other process or choose another with --port / --http`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** A command-like name for the help text: "Double Number" → "double-number". */
function programName(appName: string): string {
  return appName.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "my-app";
}
