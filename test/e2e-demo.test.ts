// The one-command demo as a newcomer runs it: three real nodes form a cluster, orders flow, and Ctrl-C leaves nothing behind.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { run, type Spawned } from "./support/processes.js";

const LAUNCHER = "examples/shop/demo.ts";
/** A cold start of four tsx processes on a loaded 2-core machine can take a while. */
const UP_BOUND_MS = 45_000;
const GONE_BOUND_MS = 20_000;

interface Demo {
  launcher: Spawned;
  pids: number[];
  adminUrls: string[];
}

/** Starts the launcher on free ports and reads the nodes' pids and admin endpoints from its banner. */
async function startDemo(): Promise<Demo> {
  const launcher = run([LAUNCHER, "--base-port", "0", "--http-base-port", "0", "--rate", "20"]);
  await launcher.line(/^ {2}Press Ctrl-C to stop all three\.$/, UP_BOUND_MS);
  const nodeLines = launcher.stdout().split("\n").filter((line) => /^ {4}\S+ +node \w+ +pid \d+ +admin /.test(line));
  assert.equal(nodeLines.length, 3, launcher.stdout());
  const pids = nodeLines.map((line) => Number(/pid (\d+)/.exec(line)![1]));
  const adminUrls = nodeLines.map((line) => /admin (\S+)/.exec(line)![1]!);
  assert.match(launcher.stdout(), new RegExp(`Dashboard: +${adminUrls[0]}/`));
  assert.match(launcher.stdout(), new RegExp(`kaffix\\.ts status ${adminUrls[0]}`));
  return { launcher, pids, adminUrls };
}

/** A process that exited is gone even while it waits to be reaped (a zombie, when PID 1 does not reap orphans). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return true; // no /proc (not Linux): kill(0) is all there is
  }
}

async function until(what: string, boundMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${boundMs} ms`);
    await sleep(200);
  }
}

interface ClusterAnswer {
  members: { state: string; region?: string }[];
  self: { services: { active: { id: string; processed: number }[] } };
}

async function cluster(url: string): Promise<ClusterAnswer> {
  return (await (await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(5_000) })).json()) as ClusterAnswer;
}

describe("the demo (npm start)", () => {
  test("three nodes in three regions form a cluster, orders are processed, and Ctrl-C stops all three and exits 0", async () => {
    const { launcher, pids, adminUrls } = await startDemo();
    const view = await cluster(adminUrls[0]!);
    assert.deepEqual(view.members.filter((m) => m.state === "alive").map((m) => m.region).sort(), ["ap-south", "eu-west", "us-east"]);

    // Orders reach the gateway through every admin endpoint; gateways may hand them on, so count over all three.
    await until("orders processed by a gateway", UP_BOUND_MS, async () => {
      const views = await Promise.all(adminUrls.map(cluster));
      return views.some((v) => v.self.services.active.some((s) => s.id === "gateway" && s.processed > 0));
    });

    launcher.child.kill("SIGINT");
    assert.equal(await launcher.exited(GONE_BOUND_MS), 0, launcher.stderr());
    assert.match(launcher.stdout(), /Stopped: all three nodes exited cleanly\./);
    for (const pid of pids) assert.equal(isRunning(pid), false, `node process ${pid} is gone`);
  });

  test("a launcher killed with -9 leaves no node behind: each stops when the launcher's pipe closes", async () => {
    const { launcher, pids } = await startDemo();
    launcher.child.kill("SIGKILL");
    assert.equal(await launcher.exited(), null);
    await until("every node process exits", GONE_BOUND_MS, () => pids.every((pid) => !isRunning(pid)));
  });
});
