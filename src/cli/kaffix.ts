#!/usr/bin/env node
// The `kaffix` command: tools around a Kaffix app (the app itself runs as the user's own program).

import { randomBytes } from "node:crypto";
import { kaffixVersion } from "./kaffix-version.js";
import { processIo, runStatus } from "./status-command.js";

interface Command {
  /** Shown after the name in `kaffix help`. */
  args: string;
  summary: string;
  /** Returns the exit code. */
  run(args: readonly string[]): number | Promise<number>;
}

// Add a command here and it appears in the help text.
const COMMANDS: Record<string, Command> = {
  token: {
    args: "",
    summary: "Print a strong random token (256 bits, base64url) for --token / KAFFIX_TOKEN",
    run: (args) => {
      if (args.length > 0) return fail(`kaffix token takes no arguments, got ${JSON.stringify(args[0])}`);
      process.stdout.write(`${strongToken()}\n`);
      return 0;
    },
  },
  status: {
    args: "<admin-url> [--watch] [--json]",
    summary: "Print the cluster as a node sees it: members, services per node, rates, placement moves (--help for more)",
    run: (args) => runStatus(args, process.env, processIo()),
  },
  help: {
    args: "",
    summary: "Print this help",
    run: () => {
      process.stdout.write(usage());
      return 0;
    },
  },
  version: {
    args: "",
    summary: "Print Kaffix's version",
    run: () => {
      process.stdout.write(`kaffix ${kaffixVersion()}\n`);
      return 0;
    },
  },
};

const ALIASES: Record<string, string> = { "--help": "help", "-h": "help", "--version": "version", "-v": "version" };

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, command]) => [`  kaffix ${name}${command.args ? ` ${command.args}` : ""}`, command.summary]);
  const width = Math.max(...rows.map(([left]) => left!.length)) + 2;
  return `kaffix ${kaffixVersion()}: tools for Kaffix apps.

Usage: kaffix <command>

Commands:
${rows.map(([left, right]) => left!.padEnd(width) + right).join("\n")}

Your app is its own program: run it with --help to see how to start a node.
`;
}

/** 32 random bytes in base64url, redrawn when it starts with "-" so `--token $T` never reads as a flag. */
function strongToken(): string {
  for (;;) {
    const token = randomBytes(32).toString("base64url");
    if (!token.startsWith("-")) return token;
  }
}

function fail(message: string): number {
  process.stderr.write(`error: ${message}\nrun kaffix help for usage\n`);
  return 2;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  const command = COMMANDS[ALIASES[name] ?? name];
  if (command === undefined) return fail(`unknown command ${JSON.stringify(name)}`);
  return command.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
