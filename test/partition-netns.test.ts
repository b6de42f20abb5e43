// A real network partition: three nodes of the example app, each in its own network namespace; iptables cuts one off, then lets it back.
//
// An observer in the hub namespace (outside the partition) reads every node's /cluster five times a
// second. Needs root, iproute2 and iptables; skipped with the reason otherwise.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test, type TestContext } from "node:test";
import { TestNetwork, whyNoNetns, type Host, type HostProcess } from "./support/netns.js";

const MAIN = "examples/double-number/main.ts";
const CLUSTER_PORT = 12345;
const ADMIN_PORT = 18080;
// Bounds, not expectations: joining is a cold `--import tsx` start; detection is a few probe
// intervals plus a 4 s suspicion; healing waits for a reconnect round, which runs every 30 s.
const JOIN_BOUND_MS = 20_000;
const DETECT_BOUND_MS = 20_000;
const HEAL_BOUND_MS = 40_000;
// Dead members still get gossip for 30 s (gossipToTheDeadMs), and that alone heals a short
// partition within a second. The partition is held past it so that the healing under test is the
// one every partition relies on: the reconnect round's push-pull with a dead member.
const HOLD_AFTER_DEATH_MS = 31_000;

type State = "alive" | "suspect" | "dead" | "left";
/** Viewer label → member label → state, as each node's /cluster reported it; null when it did not answer. */
type Views = Record<string, Record<string, State> | null>;
/** Viewer→member pairs ("a→c"), each true when that view has that member in a wanted state. */
type Check = (views: Views) => Map<string, boolean>;

const allAlive = wantStates({ a: { a: "alive", b: "alive", c: "alive" }, b: { a: "alive", b: "alive", c: "alive" }, c: { a: "alive", b: "alive", c: "alive" } });
const partitioned = wantStates({ a: { a: "alive", b: "alive", c: "dead" }, b: { a: "alive", b: "alive", c: "dead" }, c: { a: "dead", b: "dead", c: "alive" } });
// While the partition stands nobody may come back across it, and A and B must not lose each other
// (a moment of suspicion between them is allowed: a loaded CI machine can miss a probe).
const stillPartitioned = wantStates({
  a: { a: "alive", b: ["alive", "suspect"], c: "dead" },
  b: { a: ["alive", "suspect"], b: "alive", c: "dead" },
  c: { a: "dead", b: "dead", c: "alive" },
});

const setup = prepare();
after(() => setup.network?.destroy());

function prepare(): { network?: TestNetwork; skip?: string } {
  const unavailable = whyNoNetns();
  if (unavailable !== undefined) return { skip: unavailable };
  try {
    return { network: TestNetwork.create(["a", "b", "c"]) };
  } catch (error) {
    return { skip: `could not create network namespaces: ${error instanceof Error ? error.message : String(error)}` };
  }
}

describe("three nodes in separate network namespaces", () => {
  const skip = setup.skip ?? false;
  // Undefined only when every test below is skipped.
  const network = setup.network as TestNetwork;
  const [a, b, c] = (setup.network?.hosts ?? []) as [Host, Host, Host];
  const token = randomBytes(32).toString("base64url");
  const nodes = new Map<string, HostProcess>();
  let views: Views = {};
  let observer: HostProcess;
  // Each step builds on the one before; after a failure the rest are skipped rather than waited out.
  let stepsDone = 0;

  test("all three come to see each other alive", { skip, timeout: JOIN_BOUND_MS + 2_000 }, async (t) => {
    for (const host of network.hosts) nodes.set(host.label, startNode(host, host === a ? [] : [a]));
    observer = watch();
    const times = await eventually(allAlive, JOIN_BOUND_MS);
    report(t, "joined", times);
    stepsDone = 1;
  });

  test("cut off from the others, C is declared dead by A and B, and C declares both of them dead", { skip, timeout: DETECT_BOUND_MS + HOLD_AFTER_DEATH_MS + 2_000 }, async (t) => {
    if (stepsDone < 1) return t.skip("the cluster never formed");
    network.cut(c, [a, b]);
    const times = await eventually(partitioned, DETECT_BOUND_MS);
    report(t, "partition seen", times);
    await throughout(stillPartitioned, HOLD_AFTER_DEATH_MS);
    stepsDone = 2;
  });

  test("when the network heals, the reconnect round makes the cluster one again: every node sees all three alive", { skip, timeout: HEAL_BOUND_MS + 2_000 }, async (t) => {
    if (stepsDone < 2) return t.skip("the partition was never seen");
    network.heal(c);
    const times = await eventually(allAlive, HEAL_BOUND_MS);
    report(t, "healed", times);
  });

  function startNode(host: Host, peers: readonly Host[]): HostProcess {
    const args = ["--import", "tsx", MAIN, "--host", host.ip, "--port", String(CLUSTER_PORT), "--http", String(ADMIN_PORT), "--http-host", host.ip, "--log-level", "warn"];
    for (const peer of peers) args.push("--peer", `${peer.ip}:${CLUSTER_PORT}`);
    return network.spawnNode(host, args, { KAFFIX_TOKEN: token });
  }

  /** Starts the observer in the hub: one JSON line of every node's view per round. */
  function watch(): HostProcess {
    const labels = Object.fromEntries(network.hosts.map((h) => [`${h.ip}:${CLUSTER_PORT}`, h.label]));
    const urls = Object.fromEntries(network.hosts.map((h) => [h.label, `http://${h.ip}:${ADMIN_PORT}/cluster`]));
    const script = `
      const { labels, urls } = JSON.parse(process.env.KFX_WATCH);
      const headers = { authorization: "Bearer " + process.env.KAFFIX_TOKEN };
      async function view(url) {
        try {
          const response = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
          if (!response.ok) return null;
          const { members } = await response.json();
          return Object.fromEntries(members.map((m) => [labels[m.address] ?? m.address, m.state]));
        } catch {
          return null;
        }
      }
      for (;;) {
        const views = await Promise.all(Object.entries(urls).map(async ([label, url]) => [label, await view(url)]));
        process.stdout.write(JSON.stringify(Object.fromEntries(views)) + "\\n");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }`;
    const watcher = network.spawnNode(network.hub, ["--input-type=module", "-e", script], { KAFFIX_TOKEN: token, KFX_WATCH: JSON.stringify({ labels, urls }) });
    let pending = "";
    watcher.child.stdout!.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop()!;
      if (lines.length > 0) views = JSON.parse(lines.at(-1)!) as Views;
    });
    return watcher;
  }

  /**
   * Waits until every view matches at once; resolves with when (ms from the call) each viewer first
   * saw each member in its expected state. Fails with all views and node output after `boundMs`.
   */
  async function eventually(wanted: Check, boundMs: number): Promise<Map<string, number>> {
    const startedAt = Date.now();
    const firstSeen = new Map<string, number>();
    for (;;) {
      const met = wanted(views);
      for (const [pair, ok] of met) if (ok && !firstSeen.has(pair)) firstSeen.set(pair, Date.now() - startedAt);
      if ([...met.values()].every(Boolean)) {
        firstSeen.set("all", Date.now() - startedAt);
        return firstSeen;
      }
      failIfExited();
      if (Date.now() - startedAt > boundMs) assert.fail(`not within ${boundMs} ms; last views ${JSON.stringify(views)}${outputs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Fails as soon as a view that answered stops matching, or a node exits; resolves after `durationMs`. */
  async function throughout(wanted: Check, durationMs: number): Promise<void> {
    const startedAt = Date.now();
    while (Date.now() - startedAt < durationMs) {
      failIfExited();
      // A view that did not answer in time (a loaded machine) says nothing either way.
      const broken = [...wanted(views)].filter(([pair, ok]) => !ok && views[viewerOf(pair)] !== null).map(([pair]) => pair);
      if (broken.length > 0) assert.fail(`${broken.join(", ")} changed after ${Date.now() - startedAt} ms; views ${JSON.stringify(views)}${outputs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  function failIfExited(): void {
    const all = [...nodes, ["observer", observer] as const];
    const gone = all.filter(([, p]) => p.child.exitCode !== null || p.child.signalCode !== null).map(([label]) => label);
    if (gone.length > 0) assert.fail(`${gone.join(", ")} exited; last views ${JSON.stringify(views)}${outputs()}`);
  }

  function outputs(): string {
    const parts = [...nodes].map(([label, node]) => `\n--- node ${label} ---\n${node.output().slice(-4000)}`);
    return parts.join("") + `\n--- observer ---\n${observer.output().split("\n").slice(-3).join("\n")}`;
  }
});

function wantStates(wanted: Record<string, Record<string, State | State[]>>): Check {
  return (views) => {
    const met = new Map<string, boolean>();
    for (const [viewer, members] of Object.entries(wanted)) {
      for (const [member, states] of Object.entries(members)) {
        const seen = views[viewer]?.[member];
        met.set(`${viewer}→${member}`, seen !== undefined && ([] as State[]).concat(states).includes(seen));
      }
    }
    return met;
  };
}

function viewerOf(pair: string): string {
  return pair.split("→")[0]!;
}

/** Measurements, not assertions: how long each view took, shown with the results. */
function report(t: TestContext, what: string, times: Map<string, number>): void {
  const pairs = [...times].filter(([pair]) => pair !== "all" && viewerOf(pair) !== pair.split("→")[1]);
  t.diagnostic(`${what} after ${times.get("all")} ms (${pairs.map(([pair, ms]) => `${pair} ${ms} ms`).join(", ")})`);
}
