// One demo node as a child process: started in its own process group, read for its ports and id, its log told in short lines.

import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NODE_PROGRAM = join(dirname(fileURLToPath(import.meta.url)), "demo-node.ts");
/** tsx as this file resolves it, so the nodes start whatever directory the launcher was started from. */
const TSX = import.meta.resolve("tsx");

export interface DemoNodeSpec {
  region: string;
  /** Cluster and admin ports; 0 picks free ones. */
  port: number;
  httpPort: number;
  peers: readonly string[];
  token: string;
  /** Print every line the node writes, not only the story. */
  logs: boolean;
}

export interface Started {
  id: string;
  port: number;
  adminUrl: string;
}

/** How the launcher prints: `say(region, text)`; `regionOf(id)` names a node by its region. */
export interface Narrator {
  say(region: string, text: string): void;
  regionOf(nodeId: string): string;
}

export class DemoNode {
  readonly region: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code, or the signal's name when a signal ended it. */
  readonly exited: Promise<number | string>;
  readonly #started: Promise<Started>;

  constructor(spec: DemoNodeSpec, narrator: Narrator) {
    this.region = spec.region;
    const args = ["--import", TSX, NODE_PROGRAM, "--port", String(spec.port), "--http", String(spec.httpPort), "--with-parent"];
    for (const peer of spec.peers) args.push("--peer", peer);
    // Its own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops the nodes in order.
    // The stdin pipe is the other half of "no orphans": the node stops when the launcher's end closes, even after a kill -9.
    this.child = spawn(process.execPath, args, {
      env: { ...process.env, KAFFIX_TOKEN: spec.token, KAFFIX_REGION: spec.region },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    this.child.stdin!.on("error", () => {}); // a node that already exited closed its end
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
    const seen: Partial<Started> = {};
    this.#started = new Promise((resolve, reject) => {
      onLines(this.child.stdout!, (line) => {
        if (spec.logs) narrator.say(spec.region, line);
        const running = /^Running .* on port (\d+)$/.exec(line);
        if (running !== null) seen.port = Number(running[1]);
        const admin = /^Admin endpoint: (\S+)$/.exec(line);
        if (admin !== null) seen.adminUrl = admin[1]!;
        const node = /^Node (\w+) in /.exec(line);
        if (node !== null) {
          seen.id = node[1]!;
          resolve(seen as Started);
        }
        if (!spec.logs && line.startsWith("{")) tell(line, spec.region, narrator);
      });
      void this.exited.then((code) => reject(new Error(`the ${spec.region} node exited (${code}) before it was running`)));
    });
    onLines(this.child.stderr!, (line) => narrator.say(spec.region, line));
  }

  /** Resolves once the node runs; rejects if it exits first or takes longer than `boundMs`. */
  started(boundMs: number): Promise<Started> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the ${this.region} node did not start within ${boundMs / 1000} s`)), boundMs);
    });
    return Promise.race([this.#started, late]).finally(() => clearTimeout(timer));
  }

  /** SIGTERM, then waits for the node to drain and exit; SIGKILL after `boundMs`. Resolves with how it ended. */
  async stop(boundMs: number): Promise<number | string> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), boundMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function onLines(stream: NodeJS.ReadableStream, handle: (line: string) => void): void {
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") handle(line);
  });
}

/** The node's JSON log, told as a story: joins, deaths, placement's moves, and every warning or error. */
function tell(line: string, region: string, narrator: Narrator): void {
  let entry: { level?: number; msg?: string; service?: string; reason?: string; keptOn?: string[]; node?: string; err?: { message?: string } | string };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return;
  }
  const msg = entry.msg ?? "";
  if (msg === "joined the cluster") return narrator.say(region, "joined the cluster");
  if (msg === "member declared dead" || msg === "member left") return narrator.say(region, `sees ${narrator.regionOf(entry.node ?? "?")}: ${msg}`);
  if (msg === "placement: starting a replica here") return narrator.say(region, `+ ${entry.service} starts here (${entry.reason})`);
  if (msg.startsWith("placement: moving a replica away")) {
    const kept = (entry.keptOn ?? []).map((id) => narrator.regionOf(id)).join(", ");
    return narrator.say(region, `- ${entry.service} moves away (${entry.reason})${kept === "" ? "" : `; it stays on ${kept}`}`);
  }
  if ((entry.level ?? 0) >= 40) {
    const err = typeof entry.err === "string" ? entry.err : entry.err?.message;
    narrator.say(region, `${(entry.level ?? 0) >= 50 ? "error" : "warning"}: ${msg}${err === undefined ? "" : `: ${err}`}`);
  }
}
