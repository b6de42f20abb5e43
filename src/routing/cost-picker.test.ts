// The cost picker: its cost estimate, the local preference, sampling, and load spread in a simulated cluster.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { seededRandom } from "../testing/seeded-random.js";
import { type Candidate, SERVICE_TIME_FLOOR_MS, estimateCostMs, pickByCost } from "./cost-picker.js";

function remote(nodeId: string, fields: Partial<Candidate<string>> = {}): Candidate<string> {
  return { destination: nodeId, nodeId, local: false, rttMs: 0.5, outstanding: 0, capacity: 1, serviceTimeMs: 1, ...fields };
}

function local(fields: Partial<Candidate<string>> = {}): Candidate<string> {
  return { destination: "here", nodeId: "here", local: true, rttMs: 0, outstanding: 0, capacity: 1, serviceTimeMs: 1, ...fields };
}

/** How often each node id is picked over `rounds` picks of the same list. */
function tally(candidates: Candidate<string>[], rounds: number, seed: number, sample?: number): Map<string, number> {
  const random = seededRandom(seed);
  const counts = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const picked = pickByCost(candidates, random, sample === undefined ? undefined : { sample })!;
    counts.set(picked.nodeId, (counts.get(picked.nodeId) ?? 0) + 1);
  }
  return counts;
}

const noRandom = (): number => assert.fail("random() should not be needed here");

// ── The estimate ────────────────────────────────────────────────────────────────────────────────

test("the cost is the round trip plus the queue ahead shared over capacity", () => {
  assert.equal(estimateCostMs(remote("a", { rttMs: 2, outstanding: 3, capacity: 2, serviceTimeMs: 5 })), 2 + (4 / 2) * 5);
  assert.equal(estimateCostMs(local({ outstanding: 0, capacity: 4, serviceTimeMs: 2 })), 0.5);
});

test("an unknown service time counts as the small floor, so queue depth still matters", () => {
  const idle = estimateCostMs(remote("a", { rttMs: 0, serviceTimeMs: 0 }));
  const busy = estimateCostMs(remote("a", { rttMs: 0, serviceTimeMs: 0, outstanding: 9 }));
  assert.equal(idle, SERVICE_TIME_FLOOR_MS);
  assert.equal(busy, 10 * SERVICE_TIME_FLOOR_MS);
});

test("a node without a positive capacity costs Infinity rather than a negative or NaN cost", () => {
  assert.equal(estimateCostMs(remote("a", { capacity: 0 })), Infinity);
  assert.equal(estimateCostMs(remote("a", { capacity: -1 })), Infinity);
  assert.equal(estimateCostMs(remote("a", { capacity: Number.NaN })), Infinity);
  assert.equal(estimateCostMs(remote("a", { capacity: Infinity, serviceTimeMs: Infinity })), Infinity);
});

test("negative round trips and outstanding counts are read as zero", () => {
  assert.equal(estimateCostMs(remote("a", { rttMs: -3, outstanding: -5 })), estimateCostMs(remote("a", { rttMs: 0 })));
});

// ── Trivial lists ───────────────────────────────────────────────────────────────────────────────

test("an empty list gives undefined", () => {
  assert.equal(pickByCost([], noRandom), undefined);
});

test("a single candidate is picked however congested it is", () => {
  const only = remote("a", { outstanding: 1_000_000, rttMs: 500 });
  assert.equal(pickByCost([only], noRandom), only);
});

test("no randomness is needed when every remote is evaluated and none tie", () => {
  const candidates = [remote("a", { outstanding: 3 }), local(), remote("b")];
  assert.equal(pickByCost(candidates, noRandom)?.nodeId, "here");
});

// ── Local preference ────────────────────────────────────────────────────────────────────────────

test("the local mailbox is preferred when it is not congested", () => {
  const candidates = [remote("a"), remote("b"), local(), remote("c"), remote("d")];
  const counts = tally(candidates, 1_000, 1);
  assert.equal(counts.get("here"), 1_000);
});

test("the local mailbox still wins when it is only a little more expensive than the best remote", () => {
  // Remote: 0.5 + 1 = 1.5 ms. Local: 1.55 ms, within 5 % + 0.02 ms of it.
  const candidates = [local({ serviceTimeMs: 1.55 }), remote("a")];
  assert.equal(pickByCost(candidates, noRandom)?.nodeId, "here");
});

test("a remote is chosen when the local mailbox is congested", () => {
  const candidates = [remote("a"), remote("b"), local({ outstanding: 20 }), remote("c")];
  const counts = tally(candidates, 1_000, 2);
  assert.equal(counts.get("here"), undefined);
  assert.equal([...counts.values()].reduce((sum, n) => sum + n, 0), 1_000);
});

test("the relative slack decides for costs of milliseconds", () => {
  const candidates = [local({ serviceTimeMs: 1.8 }), remote("a")]; // 1.8 ms against 1.5 ms
  assert.equal(pickByCost(candidates, noRandom)?.nodeId, "a");
  assert.equal(pickByCost(candidates, noRandom, { localSlack: 0.25 })?.nodeId, "here");
});

test("the absolute slack keeps tiny costs from sending messages away over microseconds", () => {
  // Zero-rtt peers with no service-time estimate: local 0.1 ms (one queued) against 0.05 ms.
  const candidates = [local({ serviceTimeMs: 0, outstanding: 1 }), remote("a", { rttMs: 0, serviceTimeMs: 0 })];
  assert.equal(pickByCost(candidates, noRandom, { localSlackMs: 0 })?.nodeId, "a");
  assert.equal(pickByCost(candidates, noRandom, { localSlackMs: 0.06 })?.nodeId, "here");
});

test("only the first local candidate competes as local; another one is sampled like a remote", () => {
  const second = local({ destination: "other", nodeId: "other" });
  const candidates = [local({ outstanding: 50 }), second];
  assert.equal(pickByCost(candidates, noRandom), second);
});

// ── Sampling ────────────────────────────────────────────────────────────────────────────────────

test("when there are no more remotes than the sample size, the cheapest remote always wins", () => {
  const candidates = [remote("a", { outstanding: 4 }), remote("b", { outstanding: 1 }), remote("c", { outstanding: 7 })];
  assert.deepEqual([...tally(candidates, 200, 3, 3)], [["b", 200]]);
});

test("with two of three sampled, the most expensive remote is never picked", () => {
  const candidates = [remote("cheap"), remote("middle", { outstanding: 1 }), remote("dear", { outstanding: 2 })];
  const counts = tally(candidates, 30_000, 4);
  assert.equal(counts.get("dear"), undefined);
  // The cheapest is in two of the three possible pairs.
  assert.ok(Math.abs(counts.get("cheap")! / 30_000 - 2 / 3) < 0.02, `cheap: ${counts.get("cheap")}`);
});

test("a sample of one spreads equal-cost remotes evenly", () => {
  const candidates = ["a", "b", "c", "d", "e"].map((id) => remote(id));
  const counts = tally(candidates, 50_000, 5, 1);
  for (const id of ["a", "b", "c", "d", "e"]) {
    assert.ok(Math.abs(counts.get(id)! / 50_000 - 0.2) < 0.01, `${id}: ${counts.get(id)}`);
  }
});

test("a sample larger than eight still draws distinct remotes", () => {
  const candidates = Array.from({ length: 40 }, (_, i) => remote(`n${i}`, { outstanding: i }));
  // Sampling 39 distinct of 40 always includes n0 or n1, so nothing dearer than n1 wins.
  const counts = tally(candidates, 2_000, 6, 39);
  assert.deepEqual([...counts.keys()].sort(), ["n0", "n1"]);
});

test("equal costs are broken by the lower round trip", () => {
  // Both cost exactly 2 ms: 1 + 1 and 0.5 + 1.5.
  const far = remote("far", { rttMs: 1 });
  const near = remote("near", { rttMs: 0.5, outstanding: 2, capacity: 2 });
  assert.equal(estimateCostMs(far), estimateCostMs(near));
  assert.equal(pickByCost([far, near], noRandom), near);
  assert.equal(pickByCost([near, far], noRandom), near);
});

test("exact ties are broken at random", () => {
  const counts = tally([remote("a"), remote("b"), remote("c")], 30_000, 7, 3);
  for (const id of ["a", "b", "c"]) {
    assert.ok(Math.abs(counts.get(id)! / 30_000 - 1 / 3) < 0.02, `${id}: ${counts.get(id)}`);
  }
});

test("a random source that returns 1 does not break sampling", () => {
  const candidates = [remote("a"), remote("b"), local({ outstanding: 99 }), remote("c"), remote("d")];
  const picked = pickByCost(candidates, () => 1);
  assert.ok(picked !== undefined && candidates.includes(picked) && !picked.local);
});

// ── A simulated cluster ─────────────────────────────────────────────────────────────────────────

test("a node with twice the capacity takes about twice the messages", () => {
  const capacities = [2, 1, 1, 1, 1];
  const outstanding = capacities.map(() => 0);
  const taken = capacities.map(() => 0);
  const random = seededRandom(42);
  const perUnitPerTick = 2; // messages one unit of capacity finishes per tick
  const arrivalsPerTick = 11; // 92 % of the cluster's 12 per tick
  for (let tick = 0; tick < 20_000; tick++) {
    const candidates = capacities.map((capacity, i) =>
      remote(`n${i}`, { destination: String(i), capacity, outstanding: outstanding[i]! }),
    );
    for (let m = 0; m < arrivalsPerTick; m++) {
      const i = Number(pickByCost(candidates, random)!.destination);
      outstanding[i]!++;
      taken[i]!++;
      // The caller's own view moves with each send, like an unacknowledged count.
      candidates[i] = { ...candidates[i]!, outstanding: outstanding[i]! };
    }
    capacities.forEach((capacity, i) => {
      outstanding[i] = Math.max(0, outstanding[i]! - capacity * perUnitPerTick);
    });
  }
  const others = (taken[1]! + taken[2]! + taken[3]! + taken[4]!) / 4;
  const ratio = taken[0]! / others;
  assert.ok(ratio > 1.7 && ratio < 2.3, `the double-capacity node took ${ratio.toFixed(2)}× the others`);
});

test("queues stay short when the load keeps under the cluster's capacity", () => {
  const outstanding = [0, 0, 0, 0, 0, 0];
  const random = seededRandom(43);
  let deepest = 0;
  for (let tick = 0; tick < 5_000; tick++) {
    for (let m = 0; m < 5; m++) {
      const candidates = outstanding.map((n, i) => remote(`n${i}`, { destination: String(i), outstanding: n }));
      const i = Number(pickByCost(candidates, random)!.destination);
      deepest = Math.max(deepest, ++outstanding[i]!);
    }
    outstanding.forEach((n, i) => (outstanding[i] = Math.max(0, n - 1)));
  }
  assert.ok(deepest <= 4, `deepest queue ${deepest}`);
});

// ── Properties ──────────────────────────────────────────────────────────────────────────────────

const candidateArb = fc.record({
  destination: fc.string(),
  nodeId: fc.string(),
  local: fc.boolean(),
  rttMs: fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom(0, Infinity, Number.NaN, -1)),
  outstanding: fc.oneof(fc.nat(1_000), fc.constantFrom(Infinity, Number.NaN, -3)),
  capacity: fc.oneof(fc.double({ min: 0.01, max: 64, noNaN: true }), fc.constantFrom(0, Infinity, Number.NaN)),
  serviceTimeMs: fc.oneof(fc.double({ min: 0, max: 50, noNaN: true }), fc.constantFrom(Infinity, Number.NaN)),
});
const randomArb = fc.oneof(
  fc.integer().map((seed) => seededRandom(seed)),
  fc.constantFrom(() => 0, () => 1, () => 0.999_999_999_999),
);
const optionsArb = fc.option(
  fc.record({ sample: fc.integer({ min: -1, max: 12 }), localSlack: fc.double({ min: 0, max: 1, noNaN: true }) }, { requiredKeys: [] }),
  { nil: undefined },
);

test("a pick is always one of the candidates, and there is one whenever the list is not empty", () => {
  fc.assert(
    fc.property(fc.array(candidateArb, { maxLength: 20 }), randomArb, optionsArb, (candidates, random, options) => {
      const picked = pickByCost(candidates, random, options);
      if (candidates.length === 0) return picked === undefined;
      return picked !== undefined && candidates.includes(picked);
    }),
  );
});

test("every cost is a number that is not NaN and not negative", () => {
  fc.assert(fc.property(candidateArb, (c) => estimateCostMs(c) >= 0));
});

test("a picked remote is never beaten by more than remotes-minus-sample others", () => {
  const remotesArb = fc.array(candidateArb.map((c) => ({ ...c, local: false })), { minLength: 1, maxLength: 20 });
  fc.assert(
    fc.property(remotesArb, fc.integer(), fc.integer({ min: 1, max: 8 }), (candidates, seed, sample) => {
      const picked = pickByCost(candidates, seededRandom(seed), { sample })!;
      const costMs = estimateCostMs(picked);
      const cheaper = candidates.filter((c) => estimateCostMs(c) < costMs).length;
      return cheaper <= Math.max(0, candidates.length - sample);
    }),
  );
});

test("the local mailbox is picked exactly when it is within the slack of the best remote, if every remote is sampled", () => {
  fc.assert(
    fc.property(candidateArb, fc.array(candidateArb, { minLength: 1, maxLength: 6 }), fc.integer(), (here, others, seed) => {
      const candidates = [{ ...here, local: true }, ...others.map((c) => ({ ...c, local: false }))];
      const picked = pickByCost(candidates, seededRandom(seed), { sample: 6 })!;
      const bestMs = Math.min(...candidates.slice(1).map(estimateCostMs));
      const localWins = estimateCostMs(candidates[0]!) <= bestMs * 1.05 + 0.02;
      return localWins ? picked === candidates[0] : !picked.local && estimateCostMs(picked) === bestMs;
    }),
  );
});

test("picking leaves the candidates as they were", () => {
  fc.assert(
    fc.property(fc.array(candidateArb, { maxLength: 10 }), fc.integer(), (candidates, seed) => {
      // Frozen objects throw on any write in strict-mode code such as this ES module.
      const frozen = Object.freeze(candidates.map((c) => Object.freeze(c)));
      pickByCost(frozen, seededRandom(seed));
    }),
  );
});
