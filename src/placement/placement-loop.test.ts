// PlacementLoop on a fake node: adds, two-phase removals that wait for replacements, busy services, the round timer, view and history.

import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import type { NodeState } from "../cluster/node-state.js";
import { hash32 } from "../hash.js";
import { ManualClock, settle } from "../testing/manual-clock.js";
import type { GossipedNode } from "./gossip-input.js";
import { PlacementLoop, type PlacementHost } from "./placement-loop.js";
import { resolvePlacementOptions } from "./placement-options.js";

const INTERVAL_MS = 1000;

interface FakeHost extends PlacementHost {
  readonly clock: ManualClock;
  /** What nodes() returns: edit between rounds to change the gossiped view. */
  view: GossipedNode[];
  /** "activate S", "deactivate S" and "announce", in order. */
  calls: string[];
  /** Log lines: level name and message. */
  logs: { level: string; msg: string }[];
  /** Times nodes() was called, and when: one per round. */
  roundsAt: number[];
  /** How activate and deactivate answer; default at once (deactivate: true). */
  activation: () => Promise<void>;
  deactivation: () => Promise<boolean>;
}

function host(selfId: string, view: GossipedNode[] = []): FakeHost {
  const clock = new ManualClock();
  const logs: FakeHost["logs"] = [];
  const levels: Record<number, string> = { 30: "info", 40: "warn", 50: "error" };
  const write = (line: string) => {
    const { level, msg } = JSON.parse(line) as { level: number; msg: string };
    logs.push({ level: levels[level] ?? String(level), msg });
  };
  const h: FakeHost = {
    selfId, clock, view, logs, log: pino({ level: "info" }, { write }), services: [{ id: "S", hints: {} }], calls: [], roundsAt: [],
    activation: () => Promise.resolve(),
    deactivation: () => Promise.resolve(true),
    nodes: () => (h.roundsAt.push(clock.now()), h.view),
    activate: (service) => (h.calls.push(`activate ${service}`), h.activation()),
    deactivate: (service) => (h.calls.push(`deactivate ${service}`), h.deactivation()),
    announce: () => h.calls.push("announce"),
  };
  return h;
}

function loopOn(h: FakeHost, options = {}): PlacementLoop {
  return new PlacementLoop(h, resolvePlacementOptions({ intervalMs: INTERVAL_MS, ...options }));
}

interface NodeSpec {
  /** May run S (default true). */
  allowed?: boolean;
  /** Runs S now (default false). */
  runs?: boolean;
  status?: GossipedNode["status"];
  leaving?: boolean;
  /** The replica has seen traffic (default true); one that has not is kept a while to measure. */
  measured?: boolean;
}

function gossiped(id: string, { allowed = true, runs = false, status = "alive", leaving = false, measured = true }: NodeSpec = {}): GossipedNode {
  const state: NodeState = {
    region: "r1",
    capacity: { cores: 1, memoryBytes: 1, weight: 1 },
    labels: [],
    services: allowed ? ["S"] : [],
    running: runs ? { S: { queued: 0, arrivalPerSec: measured ? 1 : 0, serviceTimeMs: 0 } } : {},
    eventLoopLagMs: { mean: 0, p99: 0 },
    ...(leaving ? { leaving: ["S"] } : {}),
  };
  return { id, status, state };
}

/** Node "b" runs S but may no longer run it, so the plan moves S off b and keeps it on "a" (the replacement) only. */
function leavingB(a: NodeSpec = {}, b: NodeSpec = {}): GossipedNode[] {
  return [gossiped("a", { runs: true, ...a }), gossiped("b", { allowed: false, runs: true, ...b })];
}

function outcomes(loop: PlacementLoop): string[] {
  return loop.view().history.map((e) => `${e.action} ${e.service} on ${e.node}: ${e.outcome} (${e.reason})`);
}

test("an add for this node activates the service, then announces it and records it as started", async () => {
  const h = host("a", [gossiped("a")]);
  const loop = loopOn(h);
  const plan = loop.round();
  assert.deepEqual(plan.placement, { S: ["a"] });
  assert.deepEqual(h.calls, ["activate S"]);
  await settle();
  assert.deepEqual(h.calls, ["activate S", "announce"]);
  assert.deepEqual(outcomes(loop), ["add S on a: started (initial)"]);
  assert.deepEqual(loop.report(), { changed: { S: h.clock.now() }, leaving: [] });
});

test("an add whose activation fails is recorded as failed and logged, without an announcement", async () => {
  const h = host("a", [gossiped("a")]);
  h.activation = () => Promise.reject(new Error("onStart failed"));
  const loop = loopOn(h);
  loop.round();
  await settle();
  assert.deepEqual(h.calls, ["activate S"]);
  assert.deepEqual(outcomes(loop), ["add S on a: failed (initial)"]);
  assert.ok(h.logs.some((l) => l.level === "error" && l.msg === "placement: the replica could not start here"));
});

test("moves for other nodes are left to them", async () => {
  const h = host("b", [gossiped("a"), gossiped("b", { allowed: false })]);
  const loop = loopOn(h);
  assert.deepEqual(loop.round().placement, { S: ["a"] });
  await settle();
  assert.deepEqual(h.calls, []);
});

test("a removal takes two rounds: the first only announces that this node is leaving, the next deactivates", async () => {
  const h = host("b", leavingB());
  const loop = loopOn(h);
  loop.round();
  assert.deepEqual(h.calls, ["announce"]);
  assert.deepEqual(loop.report(), { changed: {}, leaving: ["S"] });
  await h.clock.advance(INTERVAL_MS);
  loop.round();
  assert.deepEqual(h.calls, ["announce", "deactivate S", "announce"]);
  assert.deepEqual(loop.report(), { changed: { S: h.clock.now() }, leaving: [] });
  await settle();
  assert.deepEqual(outcomes(loop), ["remove S on b: stopped (node-gone)"]);
});

test("a removal waits while the node keeping the service is not routable from here (unlinked, or another contract)", async () => {
  const h = Object.assign(host("b", leavingB()), { routable: () => false });
  const loop = loopOn(h);
  for (let i = 0; i < 2; i++) loop.round();
  await settle();
  assert.deepEqual(h.calls, []);
  assert.deepEqual(outcomes(loop), ["remove S on b: waiting (node-gone)"]);
});

test("a removal that was taken back by a new activation is not recorded as stopped", async () => {
  const h = host("b", leavingB());
  h.deactivation = () => Promise.resolve(false);
  const loop = loopOn(h);
  for (let i = 0; i < 2; i++) loop.round();
  await settle();
  assert.deepEqual(h.calls, ["announce", "deactivate S", "announce"]);
  assert.deepEqual(outcomes(loop), []);
});

for (const [why, a] of [
  ["does not run the service yet", { runs: false }],
  ["is suspect", { status: "suspect" }],
  ["is itself leaving", { leaving: true }],
] as const) {
  test(`a removal waits, without announcing or deactivating, while a node the plan keeps ${why}`, async () => {
    const h = host("b", leavingB(a));
    const loop = loopOn(h);
    assert.deepEqual(loop.round().placement, { S: ["a"] });
    for (let i = 0; i < 2; i++) loop.round();
    await settle();
    assert.deepEqual(h.calls.filter((c) => c !== "activate S"), []);
    assert.deepEqual(loop.report().leaving, []);
    assert.deepEqual(outcomes(loop), ["remove S on b: waiting (node-gone)"], "a long wait is recorded once");
    assert.equal(h.logs.filter((l) => l.msg.startsWith("placement: keeping a replica here")).length, 1);
    // The replacement is ready: the removal goes ahead, in two rounds.
    h.view = leavingB();
    for (let i = 0; i < 2; i++) loop.round();
    await settle();
    assert.deepEqual(h.calls, ["announce", "deactivate S", "announce"]);
    assert.deepEqual(outcomes(loop).at(-1), "remove S on b: stopped (node-gone)");
  });
}

test(
  "a removal that waits again after the plan dropped it in between is recorded again",
  async () => {
    const h = host("b", leavingB({ runs: false }));
    const loop = loopOn(h);
    loop.round();
    h.view = [gossiped("a"), gossiped("b", { runs: true })]; // b may run S again: no removal
    loop.round();
    h.view = leavingB({ runs: false }); // and the removal is back, waiting again
    loop.round();
    assert.deepEqual(outcomes(loop).filter((o) => o.includes("waiting")), ["remove S on b: waiting (node-gone)", "remove S on b: waiting (node-gone)"]);
  },
);

test("an announced removal is withdrawn when its replacement stops being ready before the next round", async () => {
  const h = host("b", leavingB());
  const loop = loopOn(h);
  loop.round();
  h.view = leavingB({ status: "suspect" });
  loop.round();
  assert.deepEqual(h.calls, ["announce", "announce"]);
  assert.deepEqual(loop.report().leaving, []);
  assert.deepEqual(outcomes(loop), ["remove S on b: waiting (node-gone)"]);
});

test("an announced removal is withdrawn when the plan no longer asks for it", async () => {
  const h = host("b", leavingB());
  const loop = loopOn(h);
  loop.round();
  h.view = [gossiped("a", { runs: true }), gossiped("b", { runs: true })]; // b may run S again: both replicas stay
  assert.deepEqual(loop.round().placement, { S: ["a", "b"] });
  assert.deepEqual(h.calls, ["announce", "announce"]);
  assert.deepEqual(loop.report().leaving, []);
  loop.round();
  assert.deepEqual(h.calls, ["announce", "announce"], "nothing more to say");
});

test("two nodes leaving a service the plan keeps elsewhere both stop it; of two keeping each other, the lower id goes", async () => {
  const others = (leaving: string) => [gossiped("a", { runs: true }), ...["b", "c"].map((id) => gossiped(id, { allowed: false, runs: true, leaving: id === leaving }))];
  for (const [self, other] of [["b", "c"], ["c", "b"]] as const) {
    const h = host(self, others(other));
    const loop = loopOn(h);
    for (let i = 0; i < 2; i++) loop.round();
    await settle();
    assert.deepEqual(h.calls, ["announce", "deactivate S", "announce"], `${self} stops S while ${other} leaves it too: a keeps it`);
  }
  // Views that disagree: each node's plan keeps S on the other (its dependency looks faster there).
  const dependent = (self: string, fast: string) => {
    const node = (id: string) => {
      const g = gossiped(id, { runs: true, leaving: id !== self });
      g.state.running.S!.deps = { db: { perSec: 100, ms: id === fast ? 1 : 9 } };
      return g;
    };
    return Object.assign(host(self, [node("a"), node("b")]), { services: [{ id: "S", hints: { minReplicas: 1, maxReplicas: 1 } }] });
  };
  const onA = dependent("a", "b");
  const loopA = loopOn(onA);
  for (let i = 0; i < 2; i++) loopA.round();
  await settle();
  assert.deepEqual(onA.calls, ["announce", "deactivate S", "announce"], "a, the lower id, goes though b is leaving too");
  const onB = dependent("b", "a");
  const loopB = loopOn(onB);
  for (let i = 0; i < 2; i++) loopB.round();
  await settle();
  assert.deepEqual(onB.calls, [], "b sees a leaving first and keeps its replica");
  assert.deepEqual(outcomes(loopB), ["remove S on b: waiting (scale-down)"]);
});

test("a replica that has measured nothing yet is kept through the loop's first ten rounds, then may go", async () => {
  const h = host("b", leavingB({}, { measured: false }));
  const loop = loopOn(h);
  for (let i = 0; i < 10; i++) loop.round();
  await settle();
  assert.deepEqual(h.calls, []);
  assert.deepEqual(outcomes(loop), ["remove S on b: waiting (node-gone)"]);
  for (let i = 0; i < 2; i++) loop.round();
  assert.deepEqual(h.calls, ["announce", "deactivate S", "announce"], "a replica that has measured nothing may go after that");
});

test(
  "a replica that appears late in the loop's life still gets its rounds to measure before it is moved away",
  async () => {
    const h = host("b", [gossiped("a", { runs: true }), gossiped("b", { allowed: false })]);
    const loop = loopOn(h);
    for (let i = 0; i < 11; i++) loop.round(); // S runs on a only: nothing for b to do
    h.view = leavingB({}, { measured: false }); // now b runs S too, and has not measured anything yet
    loop.round();
    assert.deepEqual(h.calls, [], "kept to measure, as a replica present from the start would be");
  },
);

test("a service being started is not touched again until the start ends", async () => {
  let finish = () => {};
  const h = host("a", [gossiped("a")]);
  h.activation = () => new Promise((resolve) => (finish = resolve));
  const loop = loopOn(h);
  loop.round();
  loop.round();
  await settle();
  assert.deepEqual(h.calls, ["activate S"]);
  finish();
  await settle();
  loop.round(); // gossip still says S is not running here: a new attempt
  assert.deepEqual(h.calls, ["activate S", "announce", "activate S"]);
});

test("a service being stopped is not touched again until the stop ends", async () => {
  const h = host("b", leavingB());
  h.deactivation = () => new Promise(() => {});
  const loop = loopOn(h);
  for (let i = 0; i < 4; i++) loop.round();
  await settle();
  assert.deepEqual(h.calls, ["announce", "deactivate S", "announce"]);
  assert.deepEqual(loop.report().leaving, []);
});

test(
  "a replica still draining is taken back when the plan wants it here again, rather than leaving the service nowhere",
  async () => {
    const h = host("b", leavingB());
    h.deactivation = () => new Promise(() => {}); // a handler holds the drain
    const loop = loopOn(h);
    for (let i = 0; i < 2; i++) loop.round();
    h.view = [gossiped("b")]; // a is gone and b no longer routes S: S runs nowhere
    assert.deepEqual(loop.round().placement, { S: ["b"] });
    assert.deepEqual(h.calls, ["announce", "deactivate S", "announce", "activate S"]);
  },
);

test("without maxMovesPerRound the round's move budget follows the cluster's size; a given one holds", async () => {
  // S runs on a and b with 3 cores of work: it wants all five nodes, three budgeted adds.
  const busy = (node: GossipedNode): GossipedNode => ({ ...node, state: { ...node.state, running: { S: { queued: 0, arrivalPerSec: 1500, serviceTimeMs: 2 } } } });
  const view = () => [busy(gossiped("a")), busy(gossiped("b")), gossiped("c"), gossiped("d"), gossiped("e")];
  const following = host("e", view());
  assert.deepEqual(loopOn(following).round().placement, { S: ["a", "b", "c", "d", "e"] });
  assert.deepEqual(following.calls, ["activate S"]);
  const fixed = host("e", view());
  const plan = loopOn(fixed, { maxMovesPerRound: 2 }).round();
  assert.equal(plan.services.S!.deferred, "move-budget");
  assert.deepEqual(fixed.calls, []);
});

test("report() forgets changes older than twice the minimum move interval", async () => {
  const h = host("a", [gossiped("a")]);
  const loop = loopOn(h, { minMoveIntervalMs: 10_000 });
  loop.round();
  const at = h.clock.now();
  await h.clock.advance(20_000);
  assert.deepEqual(loop.report().changed, { S: at });
  await h.clock.advance(1);
  assert.deepEqual(loop.report().changed, {});
});

test("rounds start one interval after construction at the earliest, then follow one per interval at this node's offset", async () => {
  const h = host("a", [gossiped("a", { runs: true })]);
  const created = h.clock.now();
  const loop = loopOn(h);
  loop.start();
  await h.clock.advance(INTERVAL_MS);
  assert.deepEqual(h.roundsAt, [], "no round within the first interval");
  await h.clock.advance(INTERVAL_MS);
  assert.equal(h.roundsAt.length, 1);
  assert.ok(h.roundsAt[0]! > created + INTERVAL_MS);
  await h.clock.advance(3 * INTERVAL_MS);
  assert.equal(h.roundsAt.length, 4);
  const offset = hash32("a") % (INTERVAL_MS / 2);
  for (const [i, at] of h.roundsAt.entries()) {
    assert.equal(at % INTERVAL_MS, offset, "every round at the node's own offset into the interval");
    if (i > 0) assert.equal(at - h.roundsAt[i - 1]!, INTERVAL_MS);
  }
  loop.stop();
  assert.equal(h.clock.pendingTimers, 0);
  await h.clock.advance(10 * INTERVAL_MS);
  assert.equal(h.roundsAt.length, 4, "no round after stop");
});

test("stop() before the first round means no round ever runs", async () => {
  const h = host("a", [gossiped("a")]);
  const loop = loopOn(h);
  loop.start();
  loop.stop();
  assert.equal(h.clock.pendingTimers, 0);
  await h.clock.advance(5 * INTERVAL_MS);
  assert.deepEqual(h.roundsAt, []);
});

test("a round that throws is logged and the next round still runs", async () => {
  const h = host("a", [gossiped("a", { runs: true })]);
  const nodes = h.nodes;
  let failures = 1;
  h.nodes = () => {
    const view = nodes(); // counted as a round
    if (failures-- > 0) throw new Error("gossip unreadable");
    return view;
  };
  const loop = loopOn(h);
  loop.start();
  await h.clock.advance(2 * INTERVAL_MS);
  assert.equal(h.roundsAt.length, 1);
  assert.deepEqual(h.logs.filter((l) => l.level === "error").map((l) => l.msg), ["placement round failed"]);
  await h.clock.advance(INTERVAL_MS);
  assert.equal(h.roundsAt.length, 2);
  assert.deepEqual(loop.view().placement, { S: ["a"] }, "the second round planned");
  loop.stop();
});

test("view() shows the last plan, where services run, the round, and the history", async () => {
  const h = host("b", [gossiped("a", { runs: true }), gossiped("b")]);
  const loop = loopOn(h);
  assert.deepEqual(loop.view(), { enabled: true, node: "b", intervalMs: INTERVAL_MS, round: undefined, running: {}, placement: {}, pending: [], services: {}, history: [] });
  loop.round();
  await settle();
  const view = loop.view();
  assert.deepEqual(view.running, { S: ["a"] });
  assert.deepEqual(view.placement, { S: ["a", "b"] });
  assert.deepEqual(view.pending.map((m) => `${m.action} ${m.node}`), ["add b"]);
  assert.equal(view.services.S!.replicas, 2);
  assert.equal(view.round!.nodes, 2);
  assert.equal(view.round!.services, 1);
  assert.equal(view.round!.at, new Date(h.clock.now()).toISOString());
  assert.deepEqual(outcomes(loop), ["add S on b: started (replace)"]);
});

test("another node's change seen in gossip is listed in the history", async () => {
  const h = host("a", [gossiped("a", { runs: true }), gossiped("b")]);
  const loop = loopOn(h);
  loop.round(); // plans b in: b's move, not ours
  h.view = [gossiped("a", { runs: true }), gossiped("b", { runs: true })];
  loop.round();
  assert.deepEqual(outcomes(loop), ["add S on b: seen (replace)"]);
});

test("the history keeps the latest 200 events", async () => {
  const h = host("a", [gossiped("a")]); // gossip never shows S running here: every round adds it again
  const loop = loopOn(h);
  for (let i = 0; i < 205; i++) {
    await h.clock.advance(INTERVAL_MS);
    loop.round();
    await settle();
  }
  const history = loop.view().history;
  assert.equal(history.length, 200);
  assert.equal(history[0]!.at, new Date(h.clock.now() - 199 * INTERVAL_MS).toISOString(), "the oldest were dropped");
  assert.equal(history.at(-1)!.at, new Date(h.clock.now()).toISOString());
});
