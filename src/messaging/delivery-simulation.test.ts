// The delivery contract (docs/delivery.md) in deterministic simulation: the scenarios of test/e2e-delivery.test.ts
// (kill -9, SIGSTOP, requests under kills) plus a poison message and a dead origin, each over many seeds.
//
// KAFFIX_SIM_SEEDS=200 runs more seeds per scenario; KAFFIX_SIM_SEED=17 replays one; KAFFIX_SIM_LOG=info shows logs.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { CallLog, drive } from "./delivery-calls.test-support.js";
import { DeliverySimulation, type SimNode } from "./delivery-simulation.test-support.js";

const SEEDS: readonly number[] =
  process.env.KAFFIX_SIM_SEED !== undefined
    ? [Number(process.env.KAFFIX_SIM_SEED)]
    : Array.from({ length: Number(process.env.KAFFIX_SIM_SEEDS ?? 20) }, (_, i) => i + 1);

const WORKERS = 4;
const WORKER_SLOTS = Array.from({ length: WORKERS }, (_, i) => i);
const PUBLISHES = 2_000;
/** 2,000 messages over 10 simulated seconds: room for three kills about three seconds apart. */
const PUBLISH_RATE_PER_SEC = 200;
const PUBLISH_TIMEOUT_MS = 10_000;
/** How far past its timeoutMs a publish may settle before it counts as hung (as in the real-process tests). */
const SLACK_MS = 1_000;
/** 1,200 requests over 6 simulated seconds: room for two kills. */
const REQUESTS = 1_200;
const REQUEST_TIMEOUT_MS = 3_000;
/** Requests time out with one sweep per node every 10 ms: a TIMEOUT comes at most this late. */
const SWEEP_RESOLUTION_MS = 10;
/** After the driver is done, how long the sinks may take to record everything accepted (reroutes, re-injections). */
const DRAIN_BOUND_MS = 30_000;
/** At most one of four workers is down at a time; the floors keep a run where all was refused from passing vacuously. */
const MIN_ACCEPTED_FRACTION = 0.9;
const MIN_REPLIED_FRACTION = 0.5;

/** Transform and Echo take no time, about 20 ms or about 100 ms by seed: slow handlers keep more in flight at a kill. */
const handlerMsOf = (seed: number): number => [0, 20, 100][seed % 3]!;

/**
 * Publishes to Ingest from `node`, outside any handler. Keyed, the messages spread over every worker by affinity;
 * unkeyed, the router's cost decides, and with simulated round trips of 4–10 ms it may leave the farthest worker idle.
 */
const publishTo = (node: SimNode, keyed: boolean) => (id: string) =>
  node.runtime.publish("Ingest", { id }, { timeoutMs: PUBLISH_TIMEOUT_MS, ...(keyed ? { key: id } : {}) });

/** The driver runs Ingest too, and its Ingest is slow (it never gets to pass a message on). */
const withSlowIngestOnDriver = (seed: number) =>
  DeliverySimulation.start({ seed, workers: 3, driverAlso: ["Ingest"], behaviour: { holdOnDriver: true, handlerMs: handlerMsOf(seed) } });

/** What one scenario saw over all its seeds. */
class Tally {
  accepted = 0;
  duplicates = 0;
  maxLatencyMs = 0;
  readonly errors: Record<string, number> = {};
  readonly perSeed: string[] = [];

  add(seed: number, log: CallLog, sim: DeliverySimulation, note = ""): void {
    this.accepted += log.ok().length;
    this.duplicates += sim.records.duplicates;
    this.maxLatencyMs = Math.max(this.maxLatencyMs, log.maxLatencyMs());
    for (const [code, n] of Object.entries(log.errors())) this.errors[code] = (this.errors[code] ?? 0) + n;
    this.perSeed.push(`${seed}:${sim.records.duplicates}${note}`);
  }

  report(t: TestContext, what: string): void {
    t.diagnostic(
      `${SEEDS.length} seeds: ${this.accepted} ${what}, none lost, ${this.duplicates} duplicate sink records; ` +
        `errors ${JSON.stringify(this.errors)}; slowest call ${Math.round(this.maxLatencyMs)} simulated ms`,
    );
    t.diagnostic(`duplicates by seed: ${this.perSeed.join(" ")}`);
  }
}

/** Every call settled in time, and each failure is a KaffixError with a known code. */
function checkCalls(seed: number, log: CallLog, boundMs: number): void {
  const unsettled = log.unsettled();
  assert.deepEqual(unsettled.slice(0, 10), [], `seed ${seed}: ${unsettled.length} calls never settled`);
  assert.equal(log.errors().UNTYPED ?? 0, 0, `seed ${seed}: rejections that were not a KaffixError with a known code`);
  assert.ok(log.maxLatencyMs() <= boundMs, `seed ${seed}: a call settled after ${log.maxLatencyMs()} simulated ms (bound ${boundMs})`);
}

/**
 * Runs until every id in `accepted` is in some sink, every call settled and no node holds anything more for another
 * (every outbox acked done, every copy released: the credit came back); asserts that none was lost.
 */
async function assertNoneLost(seed: number, sim: DeliverySimulation, log: CallLog, accepted = log.ok()): Promise<void> {
  const missing = () => accepted.filter((id) => !sim.records.counts.has(id));
  await sim.until(() => missing().length === 0 && log.unsettled().length === 0 && sim.unfinished().length === 0, DRAIN_BOUND_MS);
  const lost = missing();
  assert.deepEqual(lost.slice(0, 10), [], `seed ${seed}: ${lost.length} of ${accepted.length} accepted ids are in no sink`);
  assert.deepEqual(sim.unfinished(), [], `seed ${seed}: still held after the sinks recorded everything`);
}

/**
 * Kills and replaces a different worker, round-robin from a seeded slot, `gapMs()` after the last kill, and only once
 * every node has declared the last victim dead: one failure at a time, which is what the contract covers.
 */
function killer(sim: DeliverySimulation, firstAtMs: number, gapMs: () => number) {
  let slot = Math.floor(sim.random() * WORKERS);
  let nextAtMs = firstAtMs;
  let victim: string | undefined;
  const state = {
    kills: 0,
    onStep: async (elapsedMs: number) => {
      if (elapsedMs < nextAtMs || (victim !== undefined && !sim.knownDead(victim))) return;
      victim = sim.slots[slot];
      await sim.replace(slot);
      state.kills++;
      slot = (slot + 1) % WORKERS;
      nextAtMs = elapsedMs + gapMs();
    },
  };
  return state;
}

describe("delivery in deterministic simulation", () => {
  test("every message accepted by a publish is processed while workers are killed and replaced", async (t) => {
    const tally = new Tally();
    for (const seed of SEEDS) {
      const sim = await DeliverySimulation.start({ seed, workers: WORKERS, behaviour: { handlerMs: handlerMsOf(seed) } });
      const kills = killer(sim, 1_500 + sim.random() * 1_000, () => 2_000 + sim.random() * 1_000);
      const log = await drive(sim, { count: PUBLISHES, ratePerSec: PUBLISH_RATE_PER_SEC, call: publishTo(sim.driver, seed % 2 === 0), onStep: kills.onStep });
      await assertNoneLost(seed, sim, log);
      checkCalls(seed, log, PUBLISH_TIMEOUT_MS + SLACK_MS);
      assert.ok(kills.kills >= 3, `seed ${seed}: only ${kills.kills} kills while publishing`);
      assert.ok(log.ok().length >= MIN_ACCEPTED_FRACTION * PUBLISHES, `seed ${seed}: only ${log.ok().length} accepted; errors ${JSON.stringify(log.errors())}`);
      tally.add(seed, log, sim);
      sim.stopAll();
    }
    tally.report(t, "publishes accepted");
  });

  test("every message accepted by a publish is processed while a worker is paused, and the worker takes new messages once resumed", async (t) => {
    const tally = new Tally();
    for (const seed of SEEDS) {
      const sim = await DeliverySimulation.start({ seed, workers: WORKERS, behaviour: { handlerMs: handlerMsOf(seed) } });
      const paused = sim.worker(Math.floor(sim.random() * WORKERS));
      // Paused 1–5 s from 2 s in: sometimes shorter than death detection (1–3 s), sometimes longer.
      const pauseAtMs = 2_000;
      const resumeAtMs = pauseAtMs + 1_000 + Math.floor(sim.random() * 4_000);
      let atPause: number | undefined;
      let whilePaused = 0;
      let firstIdAfterResume: number | undefined;
      const log = await drive(sim, {
        count: PUBLISHES,
        ratePerSec: PUBLISH_RATE_PER_SEC,
        call: publishTo(sim.driver, true),
        onStep: (elapsedMs, sent) => {
          const recorded = sim.records.of(paused.id);
          if (elapsedMs >= pauseAtMs && atPause === undefined) {
            sim.pause(paused.id);
            atPause = -1; // what it had started before the pause still finishes in this step: count from the next
          } else if (atPause === -1) {
            atPause = recorded;
          } else if (elapsedMs >= resumeAtMs && firstIdAfterResume === undefined) {
            whilePaused = recorded - atPause!;
            sim.resume(paused.id);
            firstIdAfterResume = sent;
          }
        },
      });
      assert.notEqual(firstIdAfterResume, undefined, `seed ${seed}: the driver was done before the worker resumed`);
      await assertNoneLost(seed, sim, log);
      checkCalls(seed, log, PUBLISH_TIMEOUT_MS + SLACK_MS);
      assert.equal(whilePaused, 0, `seed ${seed}: ${paused.id} recorded messages while paused`);
      const newAfterResume = (sim.records.byNode.get(paused.id) ?? []).filter((id) => Number(id) >= firstIdAfterResume!).length;
      assert.ok(newAfterResume > 0, `seed ${seed}: ${paused.id} processed none of the messages sent after it resumed (ids ≥ ${firstIdAfterResume})`);
      assert.ok(log.ok().length >= MIN_ACCEPTED_FRACTION * PUBLISHES, `seed ${seed}: only ${log.ok().length} accepted; errors ${JSON.stringify(log.errors())}`);
      tally.add(seed, log, sim, `(${resumeAtMs - pauseAtMs}ms)`);
      sim.stopAll();
    }
    tally.report(t, "publishes accepted");
  });

  test("every request gets its reply or a typed error before its deadline while workers are killed", async (t) => {
    const tally = new Tally();
    for (const seed of SEEDS) {
      const sim = await DeliverySimulation.start({ seed, workers: WORKERS, behaviour: { handlerMs: handlerMsOf(seed) } });
      const kills = killer(sim, 1_000 + sim.random() * 500, () => 1_000 + sim.random() * 1_000);
      const keyed = seed % 2 === 0;
      const request = (id: string) => sim.driver.runtime.request("Echo", { id }, { timeoutMs: REQUEST_TIMEOUT_MS, ...(keyed ? { key: id } : {}) });
      const log = await drive(sim, {
        count: REQUESTS,
        ratePerSec: 200,
        call: request,
        onStep: kills.onStep,
      });
      await sim.until(() => log.unsettled().length === 0 && sim.unfinished().length === 0, REQUEST_TIMEOUT_MS + SLACK_MS);
      checkCalls(seed, log, REQUEST_TIMEOUT_MS + SWEEP_RESOLUTION_MS);
      assert.deepEqual(sim.unfinished(), [], `seed ${seed}: still held once every request settled`);
      assert.ok(kills.kills >= 2, `seed ${seed}: only ${kills.kills} kills while requesting`);
      for (const [id, call] of log.calls) {
        if (call.code !== undefined) continue;
        const reply = call.reply as { id?: unknown; node?: unknown };
        assert.equal(reply.id, id, `seed ${seed}: a reply that does not echo its request`);
      }
      assert.ok(log.ok().length >= MIN_REPLIED_FRACTION * REQUESTS, `seed ${seed}: only ${log.ok().length} answered; errors ${JSON.stringify(log.errors())}`);
      tally.add(seed, log, sim);
      sim.stopAll();
    }
    const slowestMs = Math.round(tally.maxLatencyMs);
    t.diagnostic(`${SEEDS.length} seeds: ${tally.accepted} requests answered, errors ${JSON.stringify(tally.errors)}, slowest ${slowestMs} simulated ms`);
  });

  test("a poison message is dead-lettered exactly once in the cluster while the rest of the pipeline flows on every node", async (t) => {
    const MESSAGES = 750;
    const tally = new Tally();
    for (const seed of SEEDS) {
      // Among the first 100 ids; a plain Error (retried 3 times, then dead-lettered) or a non-retryable KaffixError.
      const poison = { id: String((seed * 37) % 100), retryable: seed % 2 === 1 };
      const sim = await DeliverySimulation.start({ seed, workers: WORKERS, behaviour: { poison, handlerMs: handlerMsOf(seed) } });
      let atDeadLetter: Map<string, number> | undefined;
      const log = await drive(sim, {
        count: MESSAGES,
        ratePerSec: PUBLISH_RATE_PER_SEC,
        call: publishTo(sim.driver, true),
        onStep: () => {
          if (atDeadLetter !== undefined || sim.deadLetters().length === 0) return;
          atDeadLetter = new Map(WORKER_SLOTS.map((slot) => [sim.slots[slot]!, sim.records.of(sim.slots[slot]!)]));
        },
      });
      await assertNoneLost(seed, sim, log, log.ok().filter((id) => id !== poison.id));
      await sim.run(2_000); // room for a second dead letter to show, were there one
      checkCalls(seed, log, PUBLISH_TIMEOUT_MS + SLACK_MS);
      const letters = sim.deadLetters();
      assert.equal(letters.length, 1, `seed ${seed}: ${letters.length} dead letters: ${JSON.stringify(letters)}`);
      const { letter } = letters[0]!;
      assert.deepEqual(letter.message, { id: poison.id });
      assert.equal(letter.service, "Transform");
      assert.equal(letter.attempts, poison.retryable ? 4 : 1, `seed ${seed}: the default 3 retries for a retryable failure, none otherwise`);
      assert.equal(sim.records.counts.has(poison.id), false);
      assert.notEqual(atDeadLetter, undefined, `seed ${seed}: the poison was dead-lettered only after the driver was done`);
      for (const [node, before] of atDeadLetter!) {
        assert.ok(sim.records.of(node) > before, `seed ${seed}: ${node}'s sink recorded nothing after the poison was dead-lettered`);
      }
      tally.add(seed, log, sim, poison.retryable ? "(retried)" : "");
      sim.stopAll();
    }
    tally.report(t, "other publishes accepted");
  });

  test("a message the origin took into its own mailbox is re-injected by the worker holding its copy when the origin is killed", async (t) => {
    const MESSAGES = 200;
    let reinjected = 0;
    let duplicates = 0;
    const perSeed: string[] = [];
    for (const seed of SEEDS) {
      // What the driver took into its own (slow) Ingest exists only there and as the copy a worker holds.
      const sim = await withSlowIngestOnDriver(seed);
      const log = await drive(sim, { count: MESSAGES, ratePerSec: 500, call: publishTo(sim.driver, false) });
      // The moment every publish should have resolved: each message held by a worker, or taken by the driver and copied.
      const covered = () => [...log.calls].every(([id, call]) => call.settledAtMs !== undefined || sim.heldOnDriver.has(id));
      const tookMs = await sim.until(() => covered() && sim.heldCopies() >= sim.heldOnDriver.size, PUBLISH_TIMEOUT_MS);
      assert.notEqual(tookMs, undefined, `seed ${seed}: ${sim.heldCopies()} copies held for ${sim.heldOnDriver.size} messages the driver took`);
      const held = sim.heldOnDriver.size;
      assert.ok(held > 0, `seed ${seed}: the driver took none of its messages itself; the scenario tests nothing`);
      log.callerDead = true;
      sim.kill(sim.driver.id);
      await assertNoneLost(seed, sim, log, [...log.calls.keys()]);
      reinjected += held;
      duplicates += sim.records.duplicates;
      perSeed.push(`${seed}:${sim.records.duplicates}/${held}`);
      sim.stopAll();
    }
    t.diagnostic(
      `${SEEDS.length} seeds: ${SEEDS.length * MESSAGES} published, none lost, ${duplicates} duplicate sink records; ` +
        `${reinjected} of them were only in the killed driver's mailbox and a worker's copy, and were re-injected`,
    );
    t.diagnostic(`duplicates/re-injected by seed: ${perSeed.join(" ")}`);
  });

  test("a seed replays exactly: the same sink records on the same nodes, every call settled at the same simulated time", async () => {
    const seed = SEEDS[0]!;
    const replay = async (): Promise<string> => {
      const sim = await DeliverySimulation.start({ seed, workers: WORKERS, behaviour: { handlerMs: 100 } });
      const kills = killer(sim, 1_000, () => 1_000);
      const log = await drive(sim, { count: 1_000, ratePerSec: PUBLISH_RATE_PER_SEC, call: publishTo(sim.driver, false), onStep: kills.onStep });
      await assertNoneLost(seed, sim, log);
      sim.stopAll();
      const settled = [...log.calls].map(([id, call]) => `${id}@${call.settledAtMs}`);
      return JSON.stringify([[...sim.records.byNode], settled]);
    };
    const first = await replay();
    assert.ok(first === (await replay()), `seed ${seed} ran differently the second time`);
  });

  test(
    "a message accepted for the origin's own mailbox survives the origin being killed right after the publish resolved",
    async (t) => {
      const MESSAGES = 200;
      const tally = new Tally();
      for (const seed of SEEDS) {
        const sim = await withSlowIngestOnDriver(seed);
        const killAfter = String(20 + Math.floor(sim.random() * (MESSAGES - 40)));
        const log = new CallLog(sim.clock);
        const publish = (id: string): Promise<void> => {
          const accepted = publishTo(sim.driver, false)(id);
          if (id === killAfter) {
            // A microtask after the log's own callback (registered later, by drive), so this outcome is counted.
            const kill = () => {
              log.callerDead = true;
              sim.kill(sim.driver.id);
            };
            accepted.then(() => {}).then(kill, () => {});
          }
          return accepted;
        };
        await drive(sim, { count: MESSAGES, ratePerSec: 500, call: publish, log });
        await sim.until(() => log.callerDead, PUBLISH_TIMEOUT_MS);
        const takenHere = sim.heldOnDriver.has(killAfter) ? "the driver took it itself" : "it went to a worker";
        assert.ok(log.callerDead, `seed ${seed}: publish ${killAfter} never resolved (${takenHere}; workers hold ${sim.heldCopies()} copies)`);
        await assertNoneLost(seed, sim, log);
        tally.add(seed, log, sim, `/${sim.heldOnDriver.size}`);
        sim.stopAll();
      }
      tally.report(t, "publishes resolved before the kill");
    },
  );
});
