// The membership engine in deterministic simulation: seeded network and randomness, a manual clock, no sleeping.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retransmitLimit } from "./gossip-queue.js";
import { DEFAULT_MEMBERSHIP_OPTIONS } from "./membership-options.js";
import { Simulation } from "./membership-simulation.test-support.js";
import { suspicionTimeoutsMs } from "./suspicion.js";

const ids = (n: number, prefix = "n"): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, "0")}`);

/** Measured simulated times, printed once so a run reports them. */
const measured: Record<string, number> = {};
process.on("exit", () => console.log("membership simulation, simulated ms:", JSON.stringify(measured)));

/** Starts `names` one after another (100 ms apart), each joining through `seedOf(i)`. */
async function startCluster(sim: Simulation, names: readonly string[], seedOf: (i: number) => string[]): Promise<void> {
  for (const [i, id] of names.entries()) {
    await sim.start(id, i === 0 ? [] : seedOf(i));
    await sim.run(100, 50);
  }
}

/** n nodes joined through the first, agreed on each other, then left to run `settleMs` more. */
async function convergedCluster(seed: number, n: number, settleMs: number): Promise<{ sim: Simulation; names: string[] }> {
  const sim = new Simulation({ seed });
  const names = ids(n);
  await startCluster(sim, names, () => [names[0]!]);
  assert.notEqual(await sim.until(() => sim.agree(names), 30_000), undefined, `${n} nodes never agreed`);
  if (settleMs > 0) await sim.run(settleMs);
  return { sim, names };
}

describe("Membership", () => {
  it("five nodes joining through one seed all converge to the same five alive members", async () => {
    const sim = new Simulation({ seed: 1 });
    const names = ids(5);
    await startCluster(sim, names, () => [names[0]!]);
    const startedAt = sim.clock.now() - 500;
    const tookMs = await sim.until(() => sim.agree(names), 30_000);
    assert.notEqual(tookMs, undefined, "the five nodes never agreed");
    measured.converge5 = sim.clock.now() - startedAt;
    for (const node of sim.nodes.values()) assert.equal(await node.joined, node.id === names[0] ? 0 : 1);
    await sim.run(20_000);
    assert.ok(sim.agree(names), "the view stays stable once converged");
    assert.deepEqual(sim.changes.filter((c) => c.kind === "died" || c.kind === "suspected"), []);
    // Probe round trips taught every node coordinates: one-way latency is 2–5 ms, so RTTs are 4–10 ms.
    const estimates = [...sim.nodes.values()].flatMap((node) => names.filter((id) => id !== node.id).map((id) => node.membership.estimateRttMs(id)));
    assert.ok(estimates.every((ms) => ms !== undefined && ms > 1 && ms < 20), `RTT estimates ${estimates.join(", ")}`);
    measured.medianRttEstimate = estimates.map(Number).sort((a, b) => a - b)[Math.floor(estimates.length / 2)]!;
    sim.stopAll();
    await sim.run(5000);
    assert.equal(sim.clock.pendingTimers, 0, "stop() leaves no timer behind");
  });

  it("fifty nodes joining through random seeds converge to one view of fifty alive members", async () => {
    const sim = new Simulation({ seed: 2 });
    const names = ids(50);
    await startCluster(sim, names, (i) => [names[Math.floor(sim.random() * i)]!]);
    const startedAt = sim.clock.now();
    const tookMs = await sim.until(() => sim.agree(names), 60_000, 200);
    assert.notEqual(tookMs, undefined, "the fifty nodes never agreed");
    measured.converge50AfterLastJoin = sim.clock.now() - startedAt;
    assert.deepEqual(sim.changes.filter((c) => c.kind === "died"), []);
    sim.stopAll();
  });

  it("two hundred nodes converge, and a crash among them is known to all within the promised bound", { timeout: 60_000 }, async () => {
    const sim = new Simulation({ seed: 7 });
    const names = ids(200);
    await startCluster(sim, names, (i) => [names[Math.floor(sim.random() * i)]!]);
    assert.notEqual(await sim.until(() => sim.agree(names), 120_000, 500), undefined, "the two hundred nodes never agreed");
    const o = DEFAULT_MEMBERSHIP_OPTIONS;
    const n = names.length;
    const boundMs =
      2 * (n - 1) * o.probeIntervalMs +
      suspicionTimeoutsMs(n, o.probeIntervalMs, o.suspicionMult, o.suspicionMaxTimeoutMult).maxMs +
      retransmitLimit(o.retransmitMult, n) * o.gossipIntervalMs;
    const crashed = names[57]!;
    sim.kill(crashed);
    const survivors = names.filter((id) => id !== crashed);
    assert.notEqual(await sim.until(() => sim.agree(survivors), boundMs, 250), undefined, `not all saw ${crashed} dead within ${boundMs} ms`);
    assert.deepEqual(sim.changes.filter((c) => c.kind === "died" && c.nodeId !== crashed), []);
    sim.stopAll();
  });

  it("a node that just joined is probed within about one probe interval, not after a whole pass", async () => {
    const sim = new Simulation({ seed: 11 });
    const names = ids(40);
    await startCluster(sim, names.slice(0, -1), () => [names[0]!]);
    assert.notEqual(await sim.until(() => sim.agree(names.slice(0, -1)), 60_000, 200), undefined);
    await sim.run(3000);
    const newcomer = names.at(-1)!;
    await sim.start(newcomer, [names[0]!]);
    assert.notEqual(await sim.until(() => sim.agree(names), 30_000), undefined);
    const killedAt = sim.clock.now();
    sim.kill(newcomer);
    // Each node put the newcomer at a random place in what was left of its pass; with 39 probers the
    // first probe comes within a few intervals (without that, only after passes of 39 s ended).
    const tookMs = await sim.until(() => sim.changes.some((c) => c.nodeId === newcomer && c.kind === "suspected" && c.atMs >= killedAt), 30_000, 50);
    assert.ok(tookMs !== undefined && tookMs <= 4000, `first suspicion of the newcomer after ${tookMs} ms`);
    sim.stopAll();
  });

  it("probing a dead node through relays that answer with nacks in time leaves the prober's health score alone", async () => {
    const { sim, names } = await convergedCluster(5, 5, 5000);
    sim.kill(names[2]!);
    const survivors = names.filter((id) => id !== names[2]);
    let worst = 0;
    await sim.until(() => {
      for (const id of survivors) worst = Math.max(worst, sim.nodes.get(id)!.membership.awarenessScore);
      return sim.agree(survivors);
    }, 60_000, 50);
    // Every relay reached the others but not the dead node, so each sent a nack in time: a failed
    // probe with all nacks in says the network, not this node, is at fault (Lifeguard).
    assert.equal(worst, 0);
    sim.stopAll();
  });

  it("a crashed node is declared dead by every other node within the bound the protocol promises", async () => {
    const { sim, names } = await convergedCluster(3, 5, 5000);

    const o = DEFAULT_MEMBERSHIP_OPTIONS;
    const n = names.length;
    // A node's round-robin reaches any member within 2(n−1)−1 intervals (the list is reshuffled
    // after each pass); its probe fails one interval later; the suspicion runs at most maxMs without
    // confirmations; then the dead news is gossiped a bounded number of rounds.
    const boundMs =
      2 * (n - 1) * o.probeIntervalMs +
      suspicionTimeoutsMs(n, o.probeIntervalMs, o.suspicionMult, o.suspicionMaxTimeoutMult).maxMs +
      retransmitLimit(o.retransmitMult, n) * o.gossipIntervalMs;

    const crashed = names[2]!;
    const crashedAt = sim.clock.now();
    sim.kill(crashed);
    const survivors = names.filter((id) => id !== crashed);
    const tookMs = await sim.until(() => sim.agree(survivors), boundMs, 50);
    assert.notEqual(tookMs, undefined, `not every node declared ${crashed} dead within ${boundMs} ms`);
    measured.crashDetectedByAll = tookMs!;
    measured.crashDetectionBound = boundMs;
    const firstSuspicion = sim.changes.find((c) => c.nodeId === crashed && c.kind === "suspected" && c.atMs >= crashedAt);
    measured.crashFirstSuspected = firstSuspicion!.atMs - crashedAt;
    for (const node of sim.nodes.values()) assert.equal(node.membership.snapshot().get(crashed)?.state, "dead");
    sim.stopAll();
  });

  it("a node that leaves gracefully is seen as left at once by every peer, with no suspicion", async () => {
    const { sim, names } = await convergedCluster(6, 5, 3000);

    const leaver = sim.nodes.get(names[3]!)!;
    const leftAt = sim.clock.now();
    const leaving = leaver.membership.leave();
    const stayers = names.filter((id) => id !== leaver.id);
    const observers = stayers.map((id) => sim.nodes.get(id)!);
    const tookMs = await sim.until(() => sim.agree(stayers, observers), 1000, 5);
    await leaving;
    assert.notEqual(tookMs, undefined, "peers did not see the leave within a second");
    measured.leaveSeenByAll = tookMs!;
    leaver.transport.close();
    await sim.run(60_000);
    for (const node of observers) assert.equal(node.membership.snapshot().get(leaver.id)?.state, "left");
    const about = sim.changes.filter((c) => c.nodeId === leaver.id && c.observer !== leaver.id && c.atMs >= leftAt);
    assert.deepEqual(new Set(about.map((c) => c.kind)), new Set(["left"]));
    assert.equal(about.length, stayers.length);
    sim.stopAll();
  });

  it("with 10 % of control payloads lost, no live node is declared dead over five minutes", async () => {
    const { sim, names } = await convergedCluster(4, 10, 0);
    sim.network.setLoss(0.1, { lanes: ["control"] });
    const lossFrom = sim.clock.now();
    await sim.run(5 * 60_000, 200);
    sim.network.setLoss(0);
    const during = sim.changes.filter((c) => c.atMs >= lossFrom);
    assert.deepEqual(during.filter((c) => c.kind === "died"), []);
    measured.suspicionsUnderLoss = during.filter((c) => c.kind === "suspected").length;
    assert.notEqual(await sim.until(() => sim.agree(names), 30_000), undefined);
    sim.stopAll();
  });

  it("a node that stops processing for a few seconds is suspected, refutes, and is never declared dead", async () => {
    const { sim, names } = await convergedCluster(5, 5, 3000);

    const frozen = sim.nodes.get(names[1]!)!;
    const frozenAt = sim.clock.now();
    sim.network.pauseDelivery(frozen.address);
    frozen.clock.pause();
    await sim.run(3500, 50);
    sim.network.resumeDelivery(frozen.address);
    frozen.clock.resume();
    const tookMs = await sim.until(() => sim.agree(names), 10_000, 50);
    assert.notEqual(tookMs, undefined, "the cluster did not recover its view");
    measured.pausedNodeRecoveredAfterResume = tookMs!;
    await sim.run(30_000);
    const about = sim.changes.filter((c) => c.nodeId === frozen.id && c.atMs >= frozenAt);
    assert.ok(about.some((c) => c.kind === "suspected"), "nobody suspected the frozen node");
    assert.ok(!about.some((c) => c.kind === "died"), "the frozen node was declared dead");
    assert.ok(frozen.membership.snapshot().get(frozen.id)!.incarnation > 1, "it refuted with a higher incarnation");
    assert.ok(sim.agree(names));
    sim.stopAll();
  });

  it("a restarted node (same address, new incarnation) rejoins and everyone sees it alive", async () => {
    const { sim, names } = await convergedCluster(7, 5, 0);
    const restarted = names[4]!;
    sim.kill(restarted);
    const survivors = names.filter((id) => id !== restarted);
    assert.notEqual(await sim.until(() => sim.agree(survivors), 60_000), undefined);

    const node = await sim.start(restarted, [names[1]!], 2);
    const tookMs = await sim.until(() => sim.agree(names), 30_000, 50);
    assert.notEqual(tookMs, undefined, "the restarted node was not seen alive by everyone");
    measured.restartSeenAliveByAll = tookMs!;
    assert.equal(await node.joined, 1);
    for (const other of sim.nodes.values()) assert.equal(other.membership.snapshot().get(restarted)?.incarnation, 2);
    sim.stopAll();
  });

  it("a partition into two halves, each declaring the other dead, heals into one cluster", async () => {
    const { sim, names } = await convergedCluster(8, 6, 0);
    const left = names.slice(0, 3);
    const right = names.slice(3);
    const cut = (fn: (a: string, b: string) => void): void => {
      for (const a of left) for (const b of right) fn(Simulation.addressOf(a), Simulation.addressOf(b));
    };
    cut((a, b) => sim.network.partition(a, b));
    const split = await sim.until(
      () => sim.agree(left, left.map((id) => sim.nodes.get(id)!)) && sim.agree(right, right.map((id) => sim.nodes.get(id)!)),
      120_000,
    );
    assert.notEqual(split, undefined, "each side never declared the other dead");
    measured.partitionSidesSplit = split!;
    // Past gossipToTheDeadMs: only the reconnect round (a push-pull with a dead member) can heal it now.
    await sim.run(DEFAULT_MEMBERSHIP_OPTIONS.gossipToTheDeadMs + 10_000);
    assert.ok(sim.agree(left, left.map((id) => sim.nodes.get(id)!)));
    cut((a, b) => sim.network.heal(a, b));
    const healed = await sim.until(() => sim.agree(names), 120_000);
    assert.notEqual(healed, undefined, "the two sides never merged back");
    measured.partitionHealed = healed!;
    sim.stopAll();
  });

  it("drops and counts malformed control payloads without disturbing the node, and hands on what is not its own", async () => {
    const sim = new Simulation({ seed: 9 });
    const names = ids(2);
    await startCluster(sim, names, () => [names[0]!]);
    assert.notEqual(await sim.until(() => sim.agree(names), 10_000), undefined);
    const [a, b] = names.map((id) => sim.nodes.get(id)!);
    const link = a!.transport.links.get(b!.id)!;
    const { encode } = await import("../wire/codec.js");
    const handedOn: string[] = [];
    b!.membership.onPayload((_link, lane, payload) => handedOn.push(`${lane}:${payload[0]}`));
    link.send("control", new Uint8Array([0xc1, 1])); // the delivery protocol's mark: not membership's to judge
    link.send("data", new Uint8Array([7]));
    for (const bad of [new Uint8Array([0xd9]), encode({ t: "ping", seq: -1, target: b!.id }), encode({ t: "gossip", gossip: [{ type: "alive" }] }), encode([1, 2])]) {
      link.send("control", bad);
    }
    await sim.run(5000);
    assert.equal(b!.membership.stats.malformed, 4);
    assert.deepEqual(handedOn, ["control:193", "data:7"]);
    assert.ok(sim.agree(names));
    sim.stopAll();
  });
});
