// Five real nodes of the example app on 127.0.0.1: they agree on who is in the cluster, declare a kill -9
// dead, take a restarted node back, ride out a short pause and see a graceful leave.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_MEMBERSHIP_OPTIONS } from "../src/cluster/membership-options.js";
import { suspicionTimeoutsMs } from "../src/cluster/suspicion.js";
import type { ClusterView, MemberView } from "../src/index.js";
import { run, type Spawned } from "./support/processes.js";

const MAIN = "examples/double-number/main.ts";
const POLL_EVERY_MS = 100;
const CLUSTER_SIZE = 5;

// The protocol's own timing (memberlist's LAN defaults), from which every bound below is derived.
const { probeIntervalMs, gossipIntervalMs } = DEFAULT_MEMBERSHIP_OPTIONS;
const suspicion = suspicionTimeoutsMs(CLUSTER_SIZE, probeIntervalMs);
/**
 * Every survivor probes the victim once per round-robin pass over the other n − 1 members; a reshuffle
 * can put it last after first, so the first failed probe comes within 2(n − 1) intervals. The
 * suspicion then lasts at most its unconfirmed maximum, and the dead news needs a few gossip rounds:
 * 15 gossip intervals (3 s) cover those rounds, the polling and a loaded machine. 35 s with 5 nodes.
 */
const DEATH_BOUND_MS = 2 * (CLUSTER_SIZE - 1) * probeIntervalMs + suspicion.maxMs + 15 * gossipIntervalMs;
/** Shorter than the suspicion minimum: no timer can run out during the pause. */
const PAUSE_MS = suspicion.minMs / 2;
/** How long to keep watching after a check passed, in case a late suspicion still turns into a death. */
const AFTERWATCH_MS = 3_000;
/** A leave is announced at once; the state "left" (never reached through suspicion) is what proves it graceful. */
const LEAVE_BOUND_MS = 5_000;
/** Joining, rejoining, recovering: a handful of gossip and push-pull round trips, generous for a loaded CI machine. */
const SETTLE_BOUND_MS = 15_000;

interface Node {
  readonly name: string;
  readonly process: Spawned;
  readonly port: number;
  readonly admin: string;
  readonly id: string;
}

/** One observer's /cluster answer, or why it could not be read. */
type View = ClusterView | Error;
type Views = Map<Node, View>;

const token = randomBytes(32).toString("base64url");
/** Node id → a readable name for failure messages ("b", "b (first life)"). */
const names = new Map<string, string>();
const nodes: Node[] = [];

async function startNode(name: string, args: readonly string[]): Promise<Node> {
  const node = run(
    [MAIN, `--token=${token}`, "--host", "127.0.0.1", "--http", "0", "--log-level", "warn", ...args],
    { KAFFIX_PEERS: "" },
  );
  const port = Number((await node.line(/^Running Double Number on port \d+$/)).split(" ").at(-1));
  const admin = (await node.line(/^Admin endpoint: /)).slice("Admin endpoint: ".length);
  const view = await clusterOf(admin);
  names.set(view.self.id, name);
  return { name, process: node, port, admin, id: view.self.id };
}

async function clusterOf(admin: string): Promise<ClusterView> {
  const response = await fetch(`${admin}/cluster`, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`GET /cluster answered ${response.status}`);
  return (await response.json()) as ClusterView;
}

async function look(observers: readonly Node[]): Promise<Views> {
  const answers = await Promise.all(observers.map((node) => clusterOf(node.admin).catch((error: unknown) => error as Error)));
  return new Map(observers.map((node, i) => [node, answers[i]!]));
}

function stateIn(view: View, id: string): MemberView["state"] | "absent" | "unreadable" {
  if (view instanceof Error) return "unreadable";
  return view.members.find((member) => member.id === id)?.state ?? "absent";
}

/** True when every observer read sees exactly `live` alive, and anything else it lists as dead or left. */
function allSeeAlive(views: Views, live: readonly Node[]): boolean {
  const ids = new Set(live.map((node) => node.id));
  return [...views.values()].every(
    (view) =>
      !(view instanceof Error) &&
      live.every((node) => stateIn(view, node.id) === "alive") &&
      view.members.every((member) => ids.has(member.id) || member.state === "dead" || member.state === "left"),
  );
}

function describeViews(views: Views): string {
  return [...views]
    .map(([observer, view]) => {
      if (view instanceof Error) return `  ${observer.name}: unreadable (${view.message})`;
      const members = view.members.map((m) => `${names.get(m.id) ?? m.id}=${m.state}#${m.incarnation}`);
      return `  ${observer.name} sees ${members.join(", ")}`;
    })
    .join("\n");
}

/**
 * Polls the observers' /cluster until `done` holds, calling `each` with every round; fails with the
 * last views after `boundMs`. Resolves with the milliseconds it took.
 */
async function waitUntil(
  what: string,
  observers: readonly Node[],
  done: (views: Views) => boolean,
  boundMs: number,
  each: (views: Views, elapsedMs: number) => void = () => {},
): Promise<number> {
  const started = performance.now();
  for (;;) {
    const views = await look(observers);
    const elapsedMs = performance.now() - started;
    each(views, elapsedMs);
    if (done(views)) return elapsedMs;
    if (elapsedMs > boundMs) assert.fail(`${what}: not within ${boundMs} ms; the last /cluster views:\n${describeViews(views)}`);
    await sleep(POLL_EVERY_MS);
  }
}

/** Polls the observers for `durationMs`, calling `each` with every round (which throws to fail). */
async function watch(observers: readonly Node[], durationMs: number, each: (views: Views) => void): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    each(await look(observers));
    await sleep(POLL_EVERY_MS);
  }
}

/** Fails at once if any observer sees any of `live` dead or left. */
function noneGone(live: readonly Node[]): (views: Views) => void {
  return (views) => {
    for (const [observer, view] of views) {
      for (const node of live) {
        const state = stateIn(view, node.id);
        if (state === "dead" || state === "left") {
          assert.fail(`${observer.name} sees ${node.name} ${state}, yet it is running; the /cluster views:\n${describeViews(views)}`);
        }
      }
    }
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

after(() => {
  for (const node of nodes) node.process.child.kill("SIGKILL");
});

// A hard cap for the whole file; a passing run takes 15 to 20 s, most of it the wait for the kill -9 to be detected.
describe("five nodes on loopback", { timeout: 150_000 }, () => {
  let a: Node; // the seed
  let b: Node; // killed with SIGKILL, then restarted
  let c: Node; // paused with SIGSTOP
  let d: Node; // stopped with SIGTERM
  let e: Node;
  let startedMs = 0;

  before(
    async () => {
      const spawnedAt = performance.now();
      a = await startNode("a", ["--port", "0"]);
      nodes.push(a);
      const seed = ["--peer", `127.0.0.1:${a.port}`];
      const rest = await Promise.all(["b", "c", "d", "e"].map((name) => startNode(name, ["--port", "0", ...seed])));
      nodes.push(...rest);
      [b, c, d, e] = rest as [Node, Node, Node, Node];
      startedMs = performance.now() - spawnedAt;
    },
    { timeout: 45_000 },
  );

  test("all five, joined through one seed, see the same five members alive", { timeout: 30_000 }, async () => {
    const tookMs = await waitUntil("all five alive everywhere", nodes, (views) => allSeeAlive(views, nodes), SETTLE_BOUND_MS);
    console.log(`membership e2e: 5 nodes started in ${seconds(startedMs)}, then agreed on 5 alive members in ${seconds(tookMs)}`);
  });

  test("a node killed with SIGKILL is declared dead by every other node within the protocol's bound", { timeout: DEATH_BOUND_MS + 15_000 }, async () => {
    const survivors = [a, c, d, e];
    const firstSuspectedMs = new Map<Node, number>();
    const firstDeadMs = new Map<Node, number>();
    const killedAt = performance.now();
    b.process.child.kill("SIGKILL");
    assert.equal(await b.process.exited(), null);
    await waitUntil(
      `every survivor sees b dead (bound: ${2 * (CLUSTER_SIZE - 1)} probe intervals + suspicion max ${seconds(suspicion.maxMs)} + gossip)`,
      survivors,
      (views) => [...views.values()].every((view) => stateIn(view, b.id) === "dead"),
      DEATH_BOUND_MS,
      (views) => {
        noneGone(survivors)(views);
        const elapsedMs = performance.now() - killedAt;
        for (const [observer, view] of views) {
          const state = stateIn(view, b.id);
          if (state === "suspect" && !firstSuspectedMs.has(observer)) firstSuspectedMs.set(observer, elapsedMs);
          if (state === "dead" && !firstDeadMs.has(observer)) firstDeadMs.set(observer, elapsedMs);
          // Dead is final for that life: nothing may bring it back.
          if (firstDeadMs.has(observer) && state !== "unreadable") assert.equal(state, "dead", `${observer.name} saw b dead, then ${state}`);
        }
      },
    );
    const suspected = [...firstSuspectedMs.values()];
    const dead = [...firstDeadMs.values()];
    console.log(
      `membership e2e: kill -9 detected by all in ${seconds(Math.max(...dead))} ` +
        `(first saw it dead after ${seconds(Math.min(...dead))}, first suspicion seen after ` +
        `${suspected.length > 0 ? seconds(Math.min(...suspected)) : "none polled"}; bound ${seconds(DEATH_BOUND_MS)})`,
    );
  });

  test("the killed node, restarted on its old port, rejoins under a new id while its old life stays dead", { timeout: 45_000 }, async () => {
    const old = b;
    const restarted = await startNode("b", ["--port", String(old.port), "--peer", `127.0.0.1:${a.port}`]);
    nodes.push(restarted);
    names.set(old.id, "b (first life)");
    assert.equal(restarted.port, old.port);
    assert.notEqual(restarted.id, old.id);
    b = restarted;
    const live = [a, b, c, d, e];
    const tookMs = await waitUntil(
      "the restarted b alive everywhere, its first life dead or left",
      live,
      (views) =>
        allSeeAlive(views, live) &&
        // The survivors saw the first life die; the new node may not have heard of it at all.
        [...views].every(([observer, view]) => ["dead", "left", ...(observer === b ? ["absent"] : [])].includes(stateIn(view, old.id))),
      SETTLE_BOUND_MS,
      noneGone(live),
    );
    console.log(`membership e2e: restarted node seen alive by all in ${seconds(tookMs)}`);
  });

  test("a node paused for less than the suspicion minimum is never declared dead and is alive everywhere after", { timeout: 45_000 }, async () => {
    const live = [a, b, c, d, e];
    const others = [a, b, d, e];
    const suspectedBy = new Set<string>();
    /** Healthy members suspected meanwhile ("observer→member"): a resumed node may briefly doubt the others. */
    const othersSuspected = new Set<string>();
    const noteSuspicions = (views: Views) => {
      for (const [observer, view] of views) {
        if (stateIn(view, c.id) === "suspect") suspectedBy.add(observer.name);
        for (const node of others) if (stateIn(view, node.id) === "suspect") othersSuspected.add(`${observer.name}→${node.name}`);
      }
    };
    c.process.child.kill("SIGSTOP");
    try {
      // The paused node cannot answer HTTP: only the others are asked meanwhile.
      await watch(others, PAUSE_MS, (views) => {
        noneGone(live)(views);
        noteSuspicions(views);
      });
    } finally {
      c.process.child.kill("SIGCONT");
    }
    const tookMs = await waitUntil("all five alive everywhere after the pause", live, (views) => allSeeAlive(views, live), SETTLE_BOUND_MS, (views) => {
      noneGone(live)(views);
      noteSuspicions(views);
    });
    await watch(live, AFTERWATCH_MS, (views) => {
      noneGone(live)(views);
      noteSuspicions(views);
    });
    await waitUntil("all five alive everywhere a while after the pause", live, (views) => allSeeAlive(views, live), SETTLE_BOUND_MS, noneGone(live));
    console.log(
      `membership e2e: SIGSTOP ${seconds(PAUSE_MS)} suspected by ${suspectedBy.size > 0 ? [...suspectedBy].sort().join(", ") : "none polled"}, ` +
        `declared dead by none; all alive again ${seconds(tookMs)} after SIGCONT` +
        (othersSuspected.size > 0 ? `; healthy members suspected meanwhile: ${[...othersSuspected].sort().join(", ")}` : ""),
    );
  });

  test("a node stopped with SIGTERM exits 0 and the others see it leave without suspecting it", { timeout: 30_000 }, async () => {
    const others = [a, b, c, e];
    d.process.child.kill("SIGTERM");
    const exit = d.process.exited();
    const tookMs = await waitUntil(
      "every other node sees d left",
      others,
      (views) => [...views.values()].every((view) => stateIn(view, d.id) === "left"),
      LEAVE_BOUND_MS,
      (views) => {
        noneGone(others)(views);
        for (const [observer, view] of views) {
          const state = stateIn(view, d.id);
          assert.ok(state === "alive" || state === "left" || state === "unreadable", `${observer.name} sees d ${state} while it leaves; the /cluster views:\n${describeViews(views)}`);
        }
      },
    );
    assert.equal(await exit, 0);
    // Left is final: no later probe or gossip turns it into a suspect or a death.
    await watch(others, 1_000, (views) => {
      for (const view of views.values()) assert.ok(["left", "unreadable"].includes(stateIn(view, d.id)), describeViews(views));
    });
    console.log(`membership e2e: SIGTERM leave seen by all in ${seconds(tookMs)}`);
  });
});
