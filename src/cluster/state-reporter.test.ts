// StateReporter: the gossiped state's rates over the refresh interval, flows and dependencies, remembered latencies, and placement's report.

import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ManualClock } from "../testing/manual-clock.js";
import { MAX_GOSSIPED_DEPENDENCIES, MAX_GOSSIPED_FLOWS, MAX_REMEMBERED_SERVICES } from "./node-state.js";
import { REMEMBER_MS, round2, StateReporter, type PlacementReport, type ReportedService, type StateSources, type UsageSample } from "./state-reporter.js";
import type { Coordinate } from "./vivaldi.js";

interface Scene {
  reporter: StateReporter;
  clock: ManualClock;
  /** The active services load() reports; edit to start, stop or count. */
  active: ReportedService[];
  /** What the next usage() call returns (then it is emptied, as the meter does). */
  usage: Map<string, UsageSample>;
  placement: PlacementReport | undefined;
  coordinate: Coordinate | undefined;
}

function scene(t: TestContext, fields: Partial<StateSources> = {}): Scene {
  const clock = new ManualClock();
  const s: Omit<Scene, "reporter"> = { clock, active: [], usage: new Map(), placement: undefined, coordinate: undefined };
  const reporter = new StateReporter({
    region: "eu",
    runnable: ["A", "B", "C"],
    weight: 2,
    labels: ["postgres"],
    clock,
    load: () => s.active,
    usage: () => {
      const taken = s.usage;
      s.usage = new Map();
      return taken;
    },
    placement: () => s.placement ?? { changed: {}, leaving: [] },
    coordinate: () => s.coordinate,
    ...fields,
  });
  t.after(() => reporter.stop());
  return Object.assign(s, { reporter });
}

function service(id: string, received: number, serviceTimeMs = 1, queued = 0): ReportedService {
  return { id, queued, received, serviceTimeMs };
}

test("round2 keeps two significant digits, floors tiny positives at 0.001, and turns anything not positive or finite into 0", () => {
  assert.equal(round2(1234), 1200);
  assert.equal(round2(1.256), 1.3);
  assert.equal(round2(0.012345), 0.012);
  assert.equal(round2(0.001), 0.001);
  assert.equal(round2(0.0001), 0.001);
  assert.equal(round2(0), 0);
  assert.equal(round2(-3), 0);
  assert.equal(round2(Number.NaN), 0);
  assert.equal(round2(Infinity), 0);
});

test("the state carries region, capacity with the weight, labels, the services the node may run, and its lag", (t) => {
  const { reporter } = scene(t);
  const state = reporter.current();
  assert.equal(state.region, "eu");
  assert.equal(state.capacity.weight, 2);
  assert.ok(state.capacity.cores >= 1 && state.capacity.memoryBytes > 0);
  assert.deepEqual(state.labels, ["postgres"]);
  assert.deepEqual(state.services, ["A", "B", "C"]);
  assert.deepEqual(state.running, {});
  assert.ok(state.eventLoopLagMs.mean >= 0 && state.eventLoopLagMs.p99 >= 0);
  for (const field of ["coord", "changed", "leaving", "measured"]) assert.equal(field in state, false, `no ${field}`);
});

test("arrival rates are the messages received since the previous measure, per second of the interval", async (t) => {
  const s = scene(t);
  s.active = [service("A", 100, 1.234, 5)];
  await s.clock.advance(2000);
  assert.deepEqual(s.reporter.measure().running, { A: { queued: 5, arrivalPerSec: 50, serviceTimeMs: 1.2 } });
  s.active = [service("A", 130, 1.234, 0)];
  await s.clock.advance(10_000);
  assert.equal(s.reporter.measure().running.A!.arrivalPerSec, 3);
});

test("flows to other services are gossiped per second, the largest MAX_GOSSIPED_FLOWS of them", async (t) => {
  const s = scene(t);
  s.active = [service("A", 0)];
  const sent = Object.fromEntries(Array.from({ length: MAX_GOSSIPED_FLOWS + 4 }, (_, i) => [`T${i}`, (i + 1) * 10]));
  s.usage.set("A", { sent, dependencies: {} });
  await s.clock.advance(10_000);
  const to = s.reporter.measure().running.A!.to!;
  assert.equal(Object.keys(to).length, MAX_GOSSIPED_FLOWS);
  assert.equal(to.T19, 20, "200 messages in 10 s");
  assert.equal(to.T4, 5);
  assert.equal(to.T3, undefined, "the smallest flows are left out");
});

test("dependencies are gossiped as calls per second and mean ms per call, the most called MAX_GOSSIPED_DEPENDENCIES", async (t) => {
  const s = scene(t);
  s.active = [service("A", 0)];
  const dependencies = Object.fromEntries(Array.from({ length: MAX_GOSSIPED_DEPENDENCIES + 2 }, (_, i) => [`d${i}`, { calls: (i + 1) * 4, ms: (i + 1) * 4 * 2.5 }]));
  dependencies.idle = { calls: 0, ms: 0 };
  s.usage.set("A", { sent: {}, dependencies });
  await s.clock.advance(4000);
  const deps = s.reporter.measure().running.A!.deps!;
  assert.equal(Object.keys(deps).length, MAX_GOSSIPED_DEPENDENCIES);
  assert.deepEqual(deps.d9, { perSec: 10, ms: 2.5 });
  assert.equal(deps.d0, undefined);
  assert.equal(deps.idle, undefined);
  assert.equal(s.reporter.measure().running.A!.deps, undefined, "no calls since: no dependencies");
});

test("usage of services not active here is not gossiped as load", async (t) => {
  const s = scene(t);
  s.active = [service("A", 0)];
  s.usage.set("Gone", { sent: { A: 5 }, dependencies: {} });
  await s.clock.advance(1000);
  assert.deepEqual(Object.keys(s.reporter.measure().running), ["A"]);
});

test("current() keeps the last measured rates of services still active and gives a new one zero arrivals", async (t) => {
  const s = scene(t);
  s.active = [service("A", 50, 2)];
  s.usage.set("A", { sent: { B: 10 }, dependencies: {} });
  await s.clock.advance(1000);
  s.reporter.measure();
  s.active = [service("A", 90, 3, 7), service("B", 40, 0.5, 2)];
  const running = s.reporter.current().running;
  assert.deepEqual(running.A, { queued: 0, arrivalPerSec: 50, serviceTimeMs: 2, to: { B: 10 } });
  assert.deepEqual(running.B, { queued: 2, arrivalPerSec: 0, serviceTimeMs: 0.5 });
  s.active = [];
  assert.deepEqual(s.reporter.current().running, {}, "a stopped service leaves the state at once");
});

test("a service that stops running here gossips the dependency latencies measured while it ran", async (t) => {
  const s = scene(t);
  s.active = [service("A", 0), service("B", 0)];
  s.usage.set("A", { sent: {}, dependencies: { db: { calls: 10, ms: 30 }, cache: { calls: 1, ms: 0.25 } } });
  await s.clock.advance(1000);
  assert.equal(s.reporter.measure().measured, undefined, "nothing while it still runs here");
  s.active = [service("B", 0)];
  assert.deepEqual(s.reporter.current().measured, { A: { db: 3, cache: 0.25 } });
  s.active = [service("A", 0), service("B", 0)];
  assert.equal(s.reporter.current().measured, undefined, "running here again: its live numbers count");
});

test("the latest latencies measured are the ones remembered", async (t) => {
  const s = scene(t);
  s.active = [service("A", 0)];
  s.usage.set("A", { sent: {}, dependencies: { db: { calls: 1, ms: 30 } } });
  await s.clock.advance(1000);
  s.reporter.measure();
  s.usage.set("A", { sent: {}, dependencies: { db: { calls: 1, ms: 4 } } });
  await s.clock.advance(1000);
  s.reporter.measure();
  s.active = [];
  assert.deepEqual(s.reporter.current().measured, { A: { db: 4 } });
});

test("remembered latencies are forgotten REMEMBER_MS (an hour) after they were measured", async (t) => {
  const s = scene(t);
  s.active = [service("A", 0)];
  s.usage.set("A", { sent: {}, dependencies: { db: { calls: 1, ms: 30 } } });
  await s.clock.advance(1000);
  s.reporter.measure();
  s.active = [];
  await s.clock.advance(REMEMBER_MS);
  assert.deepEqual(s.reporter.current().measured, { A: { db: 30 } }, "exactly REMEMBER_MS: still known");
  await s.clock.advance(1);
  assert.equal(s.reporter.current().measured, undefined);
});

test("at most MAX_REMEMBERED_SERVICES services are remembered; the longest unmeasured go first", async (t) => {
  const s = scene(t);
  const ids = Array.from({ length: MAX_REMEMBERED_SERVICES + 2 }, (_, i) => `S${i}`);
  for (const id of ids) {
    s.active = [service(id, 0)];
    s.usage.set(id, { sent: {}, dependencies: { db: { calls: 1, ms: 1 } } });
    await s.clock.advance(1000);
    s.reporter.measure();
  }
  s.active = [];
  const measured = s.reporter.current().measured!;
  assert.equal(Object.keys(measured).length, MAX_REMEMBERED_SERVICES);
  assert.equal(measured.S0, undefined);
  assert.equal(measured.S1, undefined);
  assert.deepEqual(measured[ids.at(-1)!], { db: 1 });
});

test("the coordinate is gossiped rounded to 0.01 ms", (t) => {
  const s = scene(t);
  s.coordinate = { vec: [1.23456, -0.006, 0, 0, 0, 0, 0, 0], height: 0.0567, error: 0.3333, adjustment: -0.126 };
  assert.deepEqual(s.reporter.current().coord, { vec: [1.23, -0.01, 0, 0, 0, 0, 0, 0], height: 0.06, error: 0.33, adjustment: -0.13 });
});

test("placement's recent changes and the services it is about to stop are gossiped, and left out when there are none", (t) => {
  const s = scene(t);
  s.placement = { changed: { A: 1_000_000 }, leaving: ["B"] };
  const state = s.reporter.current();
  assert.deepEqual(state.changed, { A: 1_000_000 });
  assert.deepEqual(state.leaving, ["B"]);
  s.placement = { changed: {}, leaving: [] };
  const quiet = s.reporter.current();
  assert.equal("changed" in quiet || "leaving" in quiet, false);
});

test("a node without placement or usage sources still reports its load", async (t) => {
  const s = scene(t, { placement: undefined, usage: undefined });
  s.active = [service("A", 20)];
  await s.clock.advance(1000);
  assert.deepEqual(s.reporter.measure().running, { A: { queued: 0, arrivalPerSec: 20, serviceTimeMs: 1 } });
});

test("a service taken back after a drain counts arrivals from where it left off, not its lifetime total", async (t) => {
  const s = scene(t);
  s.active = [service("A", 720_000)];
  s.reporter.measure();
  s.active = []; // retiring: out of the active set for a while
  await s.clock.advance(1000);
  s.reporter.measure();
  s.active = [service("A", 720_002)]; // taken back, same mailbox
  await s.clock.advance(1000);
  assert.equal(s.reporter.measure().running.A!.arrivalPerSec, 2);
});
