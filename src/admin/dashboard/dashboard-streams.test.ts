// The dashboard's live feed on a manual clock: what a stream receives, the bound on streams, idling, closing, slow readers.

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import pino from "pino";
import type { ClusterView, MemberView } from "../../index.js";
import { KaffixError } from "../../errors.js";
import { ManualClock, settle } from "../../testing/manual-clock.js";
import { member } from "./member-fixtures.test-support.js";
import type { DashboardSource } from "./dashboard-snapshot.js";
import { DashboardStreams, type FullEvent, type TickEvent } from "./dashboard-streams.js";

/** Records what the feed writes; `reading = false` makes writes report a full socket buffer. */
class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, string> = {};
  written = "";
  reading = true;
  ended = false;
  destroyed = false;
  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }
  write(chunk: string): boolean {
    this.written += chunk;
    return this.reading;
  }
  end(): void {
    this.ended = true;
    this.emit("close");
  }
  destroy(): void {
    this.destroyed = true;
    this.emit("close");
  }
  /** The events received so far, parsed. */
  get events(): { event: string; data: any }[] {
    return this.written
      .split("\n\n")
      .filter((block) => block.startsWith("event: "))
      .map((block) => {
        const [event, data] = block.split("\n");
        return { event: event!.slice("event: ".length), data: JSON.parse(data!.slice("data: ".length)) };
      });
  }
  get last(): { event: string; data: any } | undefined {
    return this.events.at(-1);
  }
}

function fakeSource(members: () => MemberView[]): DashboardSource {
  const cluster = (): ClusterView => ({
    self: {
      id: "a",
      app: "Test",
      version: "1.0.0",
      state: "running",
      address: "10.0.0.1:12345",
      region: "eu-west",
      startedAt: "2030-01-01T00:00:00.000Z",
      delivery: { sent: 0, resent: 0, rerouted: 0, received: 0, duplicates: 0, refused: 0, outbox: 0, parked: 0, heldCopies: 0, malformed: 0 },
      services: { available: ["Front"], active: [{ id: "Front", queued: 2, inFlight: 1, received: 10, processed: 9, failed: 0 }], retiring: [] },
    },
    members: members(),
    peers: [],
  });
  return {
    name: "Test",
    version: "1.0.0",
    serviceIds: ["Front"],
    cluster,
    placement: () => ({ enabled: false, node: "a" }),
    deadLetters: () => [],
    metrics: async () => ({ contentType: "text/plain", body: 'kaffix_dead_letters_total{service="Front"} 4\n' }),
  };
}

function setup(options: { maxStreams?: number; stallMs?: number } = {}) {
  let members = [member("a", "alive", { Front: { arrivalPerSec: 10 } }), member("b", "alive", { Front: { arrivalPerSec: 5 } })];
  const clock = new ManualClock(1_000_000);
  const streams = new DashboardStreams({ source: fakeSource(() => members), clock, logger: pino({ level: "silent" }), tickMs: 1000, ...options });
  const open = async () => {
    const res = new FakeResponse();
    streams.open(res as unknown as ServerResponse);
    await settle();
    return res;
  };
  return { clock, streams, open, setMembers: (next: MemberView[]) => (members = next) };
}

test("a new stream first gets everything, then one tick per interval with what changed", async () => {
  const { clock, open, setMembers } = setup();
  const res = await open();
  assert.equal(res.status, 200);
  assert.equal(res.headers["content-type"], "text/event-stream; charset=utf-8");
  const full = res.last as { event: string; data: FullEvent };
  assert.equal(full.event, "full");
  assert.deepEqual(full.data.now.nodes.map((n) => [n.id, n.state, n.self]), [["a", "alive", true], ["b", "alive", false]]);
  assert.deepEqual(full.data.now.services.map((s) => [s.id, s.perSec, s.queued, s.here?.processed]), [["Front", 15, 2, 9]]);
  assert.deepEqual(full.data.now.deadLetters.totalByService, { Front: 4 });
  assert.deepEqual(full.data.series.t, [1_000_000]);
  assert.deepEqual(full.data.timeline.map((e) => e.kind), ["watching"]);

  setMembers([member("a", "alive", { Front: { arrivalPerSec: 10 } }), member("b", "dead", { Front: { arrivalPerSec: 5 } })]);
  await clock.advance(1000);
  const tick = res.last as { event: string; data: TickEvent };
  assert.equal(tick.event, "tick");
  assert.equal(tick.data.point.t, 1_001_000);
  assert.equal(tick.data.point.services.Front!.perSec, 10, "the dead node's rate no longer counts");
  assert.deepEqual(tick.data.timeline.map((e) => `${e.kind} ${e.node}`), ["died b"]);
  await clock.advance(1000);
  assert.deepEqual(res.last!.data.timeline, []);
  assert.equal(res.events.length, 3);
});

test("one stream more than the bound is refused until a client goes away", async () => {
  const { open } = setup({ maxStreams: 2 });
  const first = await open();
  await open();
  await assert.rejects(open(), (error: KaffixError) => error.code === "SERVICE_UNAVAILABLE" && error.retryable);
  first.emit("close");
  const again = await open();
  assert.equal(again.events[0]!.event, "full");
});

test("sampling stops when the last stream closes, and the history is still there for the next viewer", async () => {
  const { clock, open, streams } = setup();
  const res = await open();
  await clock.advance(3000);
  res.emit("close");
  assert.equal(streams.size, 0);
  assert.equal(clock.pendingTimers, 0, "no sampler runs while nobody watches");
  await clock.advance(60_000);
  const later = await open();
  assert.deepEqual(later.events[0]!.data.series.t, [1_000_000, 1_001_000, 1_002_000, 1_003_000, 1_063_000]);
});

test("close ends every stream, stops sampling and refuses new streams", async () => {
  const { clock, open, streams } = setup();
  const one = await open();
  const two = await open();
  streams.close();
  assert.ok(one.ended && two.ended);
  assert.equal(clock.pendingTimers, 0);
  await assert.rejects(open(), (error: KaffixError) => error.code === "STOPPING");
});

test("a client that stops reading is skipped, caught up with everything once it drains, and cut when it stays stuck", async () => {
  const { clock, open } = setup({ stallMs: 5_000 });
  const res = await open();
  res.reading = false;
  await clock.advance(1000);
  const seen = res.events.length;
  await clock.advance(2000);
  assert.equal(res.events.length, seen, "nothing more is written while the client is behind");
  res.reading = true;
  res.emit("drain");
  await clock.advance(1000);
  assert.equal(res.last!.event, "full");
  assert.equal(res.last!.data.series.t.length, 5);

  res.reading = false;
  await clock.advance(1000);
  await clock.advance(10_000);
  assert.ok(res.destroyed, "a stream stuck past stallMs is cut");
});
