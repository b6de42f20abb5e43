// Starts Kaffix programs as real child processes for end-to-end tests: bounded waits, output captured, killed after.

import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// Generous bounds: a cold `--import tsx` start on a loaded CI machine can take a few seconds.
const START_BOUND_MS = 20_000;
const EXIT_BOUND_MS = 15_000;

const running = new Set<ChildProcess>();

after(() => {
  for (const child of running) child.kill("SIGKILL");
});

export interface Spawned {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern`; rejects if none comes within the bound. */
  line(pattern: RegExp, boundMs?: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal); kills and rejects after the bound. */
  exited(boundMs?: number): Promise<number | null>;
}

export function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // A token in the test runner's own environment must not leak into the cases that expect none.
  if (!("KAFFIX_TOKEN" in env)) delete childEnv.KAFFIX_TOKEN;
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exit = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  const describeOutput = () => `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    line(pattern, boundMs = START_BOUND_MS) {
      return new Promise((resolve, reject) => {
        const find = () => out.split("\n").find((l) => pattern.test(l));
        const timer = setTimeout(() => finish(new Error(`no stdout line matched ${pattern} within ${boundMs} ms${describeOutput()}`)), boundMs);
        const onData = () => {
          const found = find();
          if (found !== undefined) finish(found);
        };
        const onExit = () => setImmediate(() => finish(find() ?? new Error(`process exited before printing ${pattern}${describeOutput()}`)));
        function finish(result: string | Error) {
          clearTimeout(timer);
          child.stdout!.off("data", onData);
          child.off("exit", onExit);
          if (typeof result === "string") resolve(result);
          else reject(result);
        }
        child.stdout!.on("data", onData);
        child.on("exit", onExit);
        onData();
      });
    },
    async exited(boundMs = EXIT_BOUND_MS) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`process did not exit within ${boundMs} ms${describeOutput()}`));
        }, boundMs);
      });
      try {
        return await Promise.race([exit, bound]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
