import assert from "node:assert/strict";
import { test } from "node:test";
import {
  diff,
  MemberTable,
  MembershipSnapshot,
  type AliveMessage,
  type ApplyResult,
  type Member,
  type NodeMeta,
} from "./member-table.js";

const T0 = 1_000_000;

function newTable(options: { maxMembers?: number; maxTombstones?: number } = {}): MemberTable {
  return new MemberTable({ self: { nodeId: "me", address: "10.0.0.1:7000", incarnation: 5 }, nowMs: T0, ...options });
}

function meta(version: number, data: Record<string, unknown> = {}): NodeMeta {
  return { version, data };
}

function alive(nodeId: string, incarnation: number, version = 0, address = `${nodeId}.local:7000`): AliveMessage {
  return { type: "alive", nodeId, incarnation, address, meta: meta(version) };
}
const suspect = (nodeId: string, incarnation: number, from = "x") => ({ type: "suspect", nodeId, incarnation, from });
const dead = (nodeId: string, incarnation: number, from = "x") => ({ type: "dead", nodeId, incarnation, from });
const leave = (nodeId: string, incarnation: number) => ({ type: "leave", nodeId, incarnation });

const ignoredAs = (reason: string): ApplyResult => ({ changed: false, ignored: reason as never });

function eventOf(result: ApplyResult): { type: string; state: string; incarnation: number } {
  assert.equal(result.changed, true, `expected a change, got ${JSON.stringify(result)}`);
  const { event } = result as Extract<ApplyResult, { changed: true }>;
  return { type: event.type, state: event.member.state, incarnation: event.member.incarnation };
}

test("a new table knows only itself, alive at its starting incarnation", () => {
  const table = newTable();
  assert.equal(table.size, 1);
  assert.deepEqual(table.self(), {
    nodeId: "me",
    address: "10.0.0.1:7000",
    incarnation: 5,
    state: "alive",
    stateChangedAtMs: T0,
    meta: { version: 0, data: {} },
  });
  assert.equal(table.snapshot().version, 1);
});

test("an alive for an unknown node adds it as joined", () => {
  const table = newTable();
  assert.deepEqual(eventOf(table.apply(alive("a", 3), T0 + 1)), { type: "joined", state: "alive", incarnation: 3 });
  assert.equal(table.get("a")?.stateChangedAtMs, T0 + 1);
});

test("an alive with a greater incarnation replaces address and meta, even a lower meta version", () => {
  const table = newTable();
  table.apply(alive("a", 3, 7), T0);
  assert.equal(eventOf(table.apply(alive("a", 4, 0, "new:1"), T0 + 1)).type, "updated");
  assert.equal(table.get("a")?.address, "new:1");
  assert.equal(table.get("a")?.meta.version, 0);
});

test("an alive with the same incarnation only updates meta when its version is newer", () => {
  const table = newTable();
  table.apply({ ...alive("a", 3, 2), meta: meta(2, { zone: "x" }) }, T0);
  assert.deepEqual(table.apply(alive("a", 3, 2), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(alive("a", 3, 1), T0), ignoredAs("stale"));
  const result = table.apply({ ...alive("a", 3, 3, "elsewhere:1"), meta: meta(3, { zone: "y" }) }, T0);
  assert.equal(eventOf(result).type, "updated");
  assert.deepEqual(table.get("a")?.meta, { version: 3, data: { zone: "y" } });
  assert.equal(table.get("a")?.address, "a.local:7000", "the address belongs to the incarnation");
});

test("an alive with a lower incarnation is ignored", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  assert.deepEqual(table.apply(alive("a", 2, 9), T0), ignoredAs("stale"));
  assert.equal(table.get("a")?.meta.version, 0);
});

test("a suspect at the known incarnation or above makes an alive node suspect", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(alive("b", 3), T0);
  const suspected = (incarnation: number) => ({ type: "suspected", state: "suspect", incarnation });
  assert.deepEqual(eventOf(table.apply(suspect("a", 3), T0 + 5)), suspected(3));
  assert.deepEqual(eventOf(table.apply(suspect("b", 4), T0 + 5)), suspected(4));
  assert.equal(table.get("a")?.stateChangedAtMs, T0 + 5);
});

test("a suspect with an older incarnation, or about an unknown node, is ignored", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  assert.deepEqual(table.apply(suspect("a", 2), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(suspect("nobody", 2), T0), ignoredAs("unknown-node"));
  assert.equal(table.get("a")?.state, "alive");
});

test("the same suspicion heard again is a confirmation naming the accuser, not a change", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(suspect("a", 3, "b"), T0);
  const version = table.version;
  assert.deepEqual(table.apply(suspect("a", 3, "c"), T0 + 1), { changed: false, confirmed: "c" });
  assert.equal(table.version, version);
});

test("a suspect with a newer incarnation restarts the suspicion", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(suspect("a", 3), T0);
  const result = table.apply(suspect("a", 4), T0 + 9);
  assert.deepEqual(eventOf(result), { type: "suspected", state: "suspect", incarnation: 4 });
  assert.equal(table.get("a")?.stateChangedAtMs, T0 + 9);
});

test("only an alive with a greater incarnation clears a suspicion", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(suspect("a", 3), T0);
  assert.deepEqual(table.apply(alive("a", 3), T0), ignoredAs("stale"));
  assert.deepEqual(eventOf(table.apply(alive("a", 4), T0 + 2)), { type: "recovered", state: "alive", incarnation: 4 });
});

test("a newer meta version at the same incarnation updates a suspect node and keeps it suspect", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(suspect("a", 3), T0);
  assert.deepEqual(eventOf(table.apply(alive("a", 3, 1), T0)), { type: "updated", state: "suspect", incarnation: 3 });
});

test("a dead at the known incarnation or above declares an alive or suspect node dead", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(alive("b", 3), T0);
  table.apply(suspect("b", 3), T0);
  assert.deepEqual(table.apply(dead("a", 2), T0), ignoredAs("stale"));
  assert.deepEqual(eventOf(table.apply(dead("a", 3, "c"), T0)), { type: "died", state: "dead", incarnation: 3 });
  assert.deepEqual(eventOf(table.apply(dead("b", 5), T0)), { type: "died", state: "dead", incarnation: 5 });
  assert.deepEqual(table.apply(dead("nobody", 1), T0), ignoredAs("unknown-node"));
});

test("suspect, dead and leave about a node already dead or left are ignored", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(alive("b", 3), T0);
  table.apply(dead("a", 3), T0);
  table.apply(leave("b", 3), T0);
  for (const id of ["a", "b"]) {
    for (const message of [suspect(id, 4), dead(id, 4), leave(id, 4)]) {
      assert.deepEqual(table.apply(message, T0), ignoredAs("gone"));
    }
  }
  assert.equal(table.get("a")?.state, "dead");
  assert.equal(table.get("b")?.state, "left");
});

test("a graceful leave marks the node left at once, with no suspicion, unlike dead", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(alive("b", 3), T0);
  assert.deepEqual(table.apply(leave("a", 2), T0), ignoredAs("stale"));
  assert.deepEqual(eventOf(table.apply(leave("a", 3), T0)), { type: "left", state: "left", incarnation: 3 });
  assert.deepEqual(eventOf(table.apply(dead("b", 3), T0)), { type: "died", state: "dead", incarnation: 3 });
});

test("a dead node rejoins only with a greater incarnation, and its old incarnation is refused after", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(dead("a", 3), T0);
  assert.deepEqual(table.apply(alive("a", 3), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(alive("a", 2), T0), ignoredAs("stale"));
  assert.deepEqual(eventOf(table.apply(alive("a", 4, 0, "restarted:1"), T0 + 7)), {
    type: "joined",
    state: "alive",
    incarnation: 4,
  });
  assert.equal(table.get("a")?.address, "restarted:1");
  assert.deepEqual(table.apply(alive("a", 3), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(dead("a", 3), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(suspect("a", 3), T0), ignoredAs("stale"));
  assert.equal(table.get("a")?.state, "alive");
});

test("a left node rejoins with a greater incarnation", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(leave("a", 3), T0);
  assert.deepEqual(table.apply(alive("a", 3), T0), ignoredAs("stale"));
  assert.equal(eventOf(table.apply(alive("a", 4), T0)).type, "joined");
});

test("a suspicion about ourselves is refuted with an incarnation above the accused one, never applied", () => {
  const table = newTable();
  const version = table.version;
  assert.deepEqual(table.apply(suspect("me", 5), T0), { changed: false, refute: 6 });
  assert.equal(table.self().state, "alive");
  assert.equal(table.localAlive().incarnation, 6);
  assert.equal(table.version, version + 1, "our new incarnation is a change to the view");
  assert.deepEqual(table.apply(suspect("me", 9), T0), { changed: false, refute: 10 });
});

test("a death or a leave claimed about ourselves is refuted likewise", () => {
  const table = newTable();
  assert.deepEqual(table.apply(dead("me", 5), T0), { changed: false, refute: 6 });
  assert.deepEqual(table.apply(leave("me", 6), T0), { changed: false, refute: 7 });
  assert.equal(table.self().state, "alive");
});

test("accusations about an older incarnation of ourselves are ignored", () => {
  const table = newTable();
  assert.deepEqual(table.apply(suspect("me", 4), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(dead("me", 0), T0), ignoredAs("stale"));
  assert.equal(table.self().incarnation, 5);
});

test("our own alive echoed back is ignored, but an alive from another life of ours is refuted", () => {
  const table = newTable();
  assert.deepEqual(table.apply(table.localAlive(), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(alive("me", 4, 0, "10.0.0.1:7000"), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(alive("me", 8, 0, "10.0.0.1:7000"), T0), { changed: false, refute: 9 });
  assert.deepEqual(table.apply(alive("me", 9, 0, "10.0.0.9:7000"), T0), { changed: false, refute: 10 });
  assert.equal(table.self().address, "10.0.0.1:7000");
});

test("a leaving node no longer refutes anything about itself", () => {
  const table = newTable();
  assert.deepEqual(table.leave(T0 + 3), { type: "leave", nodeId: "me", incarnation: 5 });
  assert.equal(table.leaving, true);
  assert.equal(table.self().state, "left");
  assert.equal(table.self().stateChangedAtMs, T0 + 3);
  assert.deepEqual(table.apply(dead("me", 5), T0), ignoredAs("leaving"));
  assert.deepEqual(table.apply(suspect("me", 9), T0), ignoredAs("leaving"));
  assert.deepEqual(table.apply(alive("me", 9), T0), ignoredAs("leaving"));
  const version = table.version;
  table.leave(T0 + 4);
  assert.equal(table.version, version, "leaving twice changes nothing");
});

test("only the local node raises its own incarnation, through bumpIncarnation and refute", () => {
  const table = newTable();
  assert.equal(table.bumpIncarnation(), 6);
  assert.equal(table.refute(3), 7, "an old accusation still moves us up by one");
  assert.equal(table.refute(20), 21);
  assert.throws(() => table.refute(-1), RangeError);
});

test("an accusation at the largest safe incarnation cannot be refuted and is ignored", () => {
  const table = newTable();
  assert.deepEqual(table.apply(suspect("me", Number.MAX_SAFE_INTEGER), T0), ignoredAs("unrefutable"));
});

test("updating the local meta bumps its version and returns the alive to broadcast", () => {
  const table = newTable();
  const message = table.updateLocalMeta({ services: ["billing"] });
  assert.deepEqual(message, {
    type: "alive",
    nodeId: "me",
    incarnation: 5,
    address: "10.0.0.1:7000",
    meta: { version: 1, data: { services: ["billing"] } },
  });
  assert.deepEqual(table.apply(alive("me", 5, 0, "10.0.0.1:7000"), T0), ignoredAs("stale"), "our older meta");
});

test("another node accepts our meta update at the same incarnation", () => {
  const ours = newTable();
  const theirs = new MemberTable({ self: { nodeId: "them", address: "t:1" }, nowMs: T0 });
  theirs.apply(ours.localAlive(), T0);
  assert.equal(eventOf(theirs.apply(ours.updateLocalMeta({ load: 3 }), T0)).type, "updated");
  assert.deepEqual(theirs.get("me")?.meta.data, { load: 3 });
});

test("moving to a new address raises our incarnation, and other nodes take the new address", () => {
  const ours = newTable();
  const theirs = new MemberTable({ self: { nodeId: "them", address: "t:1" }, nowMs: T0 });
  theirs.apply(ours.localAlive(), T0);
  const message = ours.setLocalAddress("127.0.0.1:7000");
  assert.deepEqual([message.incarnation, message.address], [6, "127.0.0.1:7000"]);
  assert.equal(eventOf(theirs.apply(message, T0)).type, "updated");
  assert.equal(theirs.get("me")?.address, "127.0.0.1:7000");
  assert.equal(ours.setLocalAddress("127.0.0.1:7000").incarnation, 6, "the same address again changes nothing");
});

test("malformed messages are ignored without changing anything", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  const version = table.version;
  const good = alive("b", 1);
  const bad: unknown[] = [
    null,
    "alive",
    42,
    [],
    {},
    { ...good, type: "hello" },
    { ...good, nodeId: "" },
    { ...good, nodeId: 7 },
    { ...good, nodeId: "n".repeat(129) },
    { ...good, address: "h".repeat(301) },
    { ...good, address: "" },
    { ...good, incarnation: -1 },
    { ...good, incarnation: 1.5 },
    { ...good, incarnation: "1" },
    { ...good, incarnation: 2 ** 53 },
    { ...good, incarnation: Number.NaN },
    { ...good, meta: undefined },
    { ...good, meta: { version: -1, data: {} } },
    { ...good, meta: { version: 1, data: [] } },
    { ...good, meta: { version: 1, data: null } },
    { ...suspect("a", 4), from: undefined },
    { ...dead("a", 4), from: "f".repeat(129) },
    { ...leave("a", 4), incarnation: Infinity },
  ];
  for (const message of bad) {
    assert.deepEqual(table.apply(message, T0), ignoredAs("malformed"), JSON.stringify(message));
  }
  assert.equal(table.version, version);
  assert.equal(table.get("a")?.state, "alive");
});

test("ids and addresses at their length limits are accepted", () => {
  const table = newTable();
  const id = "n".repeat(128);
  assert.equal(table.apply({ ...alive(id, 0), address: "h".repeat(300) }, T0).changed, true);
  assert.equal(table.apply(suspect(id, 0, "f".repeat(128)), T0).changed, true);
});

test("a snapshot is frozen and does not follow later changes", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  const snapshot = table.snapshot();
  assert.ok(Object.isFrozen(snapshot) && Object.isFrozen(snapshot.members));
  assert.ok(snapshot.members.every((m) => Object.isFrozen(m) && Object.isFrozen(m.meta)));
  assert.throws(() => (snapshot.members as Member[]).push(snapshot.members[0]!), TypeError);
  assert.throws(() => {
    (snapshot.get("a") as { state: string }).state = "dead";
  }, TypeError);
  table.apply(dead("a", 3), T0);
  assert.equal(snapshot.get("a")?.state, "alive");
  assert.equal(table.snapshot().get("a")?.state, "dead");
});

test("the snapshot version increases on every change and only then", () => {
  const table = newTable();
  const first = table.snapshot();
  assert.equal(table.snapshot(), first, "no change, same snapshot");
  const versions = [first.version];
  const changes: Array<() => unknown> = [
    () => table.apply(alive("a", 1), T0),
    () => table.apply(alive("a", 1, 1), T0),
    () => table.apply(suspect("a", 1), T0),
    () => table.apply(dead("a", 1), T0),
    () => table.reap(T0, 0),
    () => table.apply(suspect("me", 5), T0),
    () => table.updateLocalMeta({}),
    () => table.leave(T0),
  ];
  for (const change of changes) {
    change();
    versions.push(table.snapshot().version);
  }
  assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  table.apply(alive("a", 0), T0);
  table.apply(dead("zz", 1), T0);
  table.reap(T0, 0);
  assert.equal(table.snapshot().version, 9, "ignored messages and empty reaps change nothing");
});

test("a snapshot lists members by node id, finds them, and tells alive from live", () => {
  const table = newTable();
  for (const id of ["c", "a", "b", "d"]) table.apply(alive(id, 1), T0);
  table.apply(suspect("b", 1), T0);
  table.apply(dead("d", 1), T0);
  const snapshot = table.snapshot();
  assert.deepEqual(
    snapshot.members.map((m) => m.nodeId),
    ["a", "b", "c", "d", "me"],
  );
  assert.equal(snapshot.size, 5);
  assert.equal(snapshot.get("b")?.state, "suspect");
  assert.equal(snapshot.get("zz"), undefined);
  assert.deepEqual(
    snapshot.alive().map((m) => m.nodeId),
    ["a", "c", "me"],
  );
  assert.deepEqual(
    snapshot.live().map((m) => m.nodeId),
    ["a", "b", "c", "me"],
  );
  assert.ok(Object.isFrozen(snapshot.alive()));
});

function ids(members: readonly Member[]): string[] {
  return members.map((m) => m.nodeId);
}

test("a diff sorts every change between two snapshots into one list", () => {
  const table = newTable();
  for (const id of ["stays", "suspected", "recovers", "dies", "leaves", "updates", "reaped", "rejoins"]) {
    table.apply(alive(id, 1), T0);
  }
  table.apply(suspect("recovers", 1), T0);
  table.apply(dead("rejoins", 1), T0);
  const older = table.snapshot();
  table.apply(alive("new", 1), T0);
  table.apply(suspect("suspected", 1), T0);
  table.apply(alive("recovers", 2), T0);
  table.apply(dead("dies", 1), T0);
  table.apply(leave("leaves", 1), T0);
  table.apply(alive("updates", 1, 4), T0);
  table.apply(dead("reaped", 1), T0 - 10);
  table.reap(T0, 5);
  table.apply(alive("rejoins", 2), T0);
  table.apply(alive("came-and-went", 1), T0);
  table.apply(dead("came-and-went", 1), T0);
  const changes = diff(older, table.snapshot());
  assert.deepEqual(
    Object.fromEntries(Object.entries(changes).map(([kind, members]) => [kind, ids(members)])),
    {
      joined: ["new", "rejoins"],
      left: ["leaves"],
      died: ["dies", "reaped"],
      suspected: ["suspected"],
      recovered: ["recovers"],
      updated: ["updates"],
    },
  );
  assert.equal(changes.updated[0]?.meta.version, 4, "lists hold the newer record");
  assert.equal(changes.died[1]?.state, "alive", "a reaped member is its last record seen");
});

test("a diff between equal views is empty, and a refutation shows as our update", () => {
  const table = newTable();
  table.apply(alive("a", 1), T0);
  const before = table.snapshot();
  const empty = { joined: [], left: [], died: [], suspected: [], recovered: [], updated: [] };
  assert.deepEqual(diff(before, before), empty);
  assert.deepEqual(diff(before, new MembershipSnapshot(99, before.members)), empty);
  table.apply(suspect("me", 5), T0);
  assert.deepEqual(ids(diff(before, table.snapshot()).updated), ["me"]);
});

test("reaping removes members dead or left for the keep period, never live ones or ourselves", () => {
  const table = newTable();
  for (const id of ["a", "b", "c", "d"]) table.apply(alive(id, 1), T0);
  table.apply(dead("a", 1), T0);
  table.apply(leave("b", 1), T0 + 50);
  table.apply(suspect("c", 1), T0);
  table.leave(T0);
  assert.deepEqual(table.reap(T0 + 99, 100), []);
  assert.deepEqual(table.reap(T0 + 100, 100), ["a"]);
  assert.deepEqual(table.reap(T0 + 150, 100), ["b"]);
  assert.deepEqual(ids(table.snapshot().members), ["c", "d", "me"]);
});

test("a reaped node leaves a tombstone: only a newer incarnation brings it back", () => {
  const table = newTable();
  table.apply(alive("a", 3), T0);
  table.apply(dead("a", 3), T0);
  table.reap(T0, 0);
  assert.equal(table.get("a"), undefined);
  assert.deepEqual(table.apply(alive("a", 3), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(alive("a", 1), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(dead("a", 3), T0), ignoredAs("unknown-node"));
  assert.equal(eventOf(table.apply(alive("a", 4), T0)).type, "joined");
  table.apply(leave("a", 4), T0);
  table.reap(T0, 0);
  assert.deepEqual(table.apply(alive("a", 4), T0), ignoredAs("stale"), "the tombstone moved to the newer incarnation");
});

test("the tombstone map is capped, forgetting the oldest first", () => {
  const table = newTable({ maxTombstones: 2 });
  for (const [i, id] of ["a", "b", "c"].entries()) {
    table.apply(alive(id, 5), T0);
    table.apply(dead(id, 5), T0);
    table.reap(T0 + i, 0);
  }
  assert.equal(table.apply(alive("a", 5), T0).changed, true, "a's tombstone was evicted");
  assert.deepEqual(table.apply(alive("b", 5), T0), ignoredAs("stale"));
  assert.deepEqual(table.apply(alive("c", 5), T0), ignoredAs("stale"));
});

test("a full table refuses new nodes but still updates known ones, until a reap makes room", () => {
  const table = newTable({ maxMembers: 3 });
  table.apply(alive("a", 1), T0);
  table.apply(alive("b", 1), T0);
  assert.deepEqual(table.apply(alive("c", 1), T0), ignoredAs("table-full"));
  assert.equal(table.apply(dead("a", 1), T0).changed, true);
  assert.deepEqual(table.apply(alive("c", 1), T0), ignoredAs("table-full"), "dead members still take room");
  table.reap(T0, 0);
  assert.equal(eventOf(table.apply(alive("c", 1), T0)).type, "joined");
  assert.equal(table.size, 3);
});

test("the default table holds 10,000 members", () => {
  const table = newTable();
  for (let i = 0; i < 9_999; i++) table.apply(alive(`n${i}`, 0), T0);
  assert.equal(table.size, 10_000);
  assert.deepEqual(table.apply(alive("one-more", 0), T0), ignoredAs("table-full"));
  assert.equal(table.snapshot().live().length, 10_000);
});

test("a table refuses an invalid description of itself or invalid bounds", () => {
  const self = { nodeId: "me", address: "h:1" };
  assert.throws(() => new MemberTable({ self: { ...self, nodeId: "" }, nowMs: T0 }), RangeError);
  assert.throws(() => new MemberTable({ self: { ...self, address: "a".repeat(301) }, nowMs: T0 }), RangeError);
  assert.throws(() => new MemberTable({ self: { ...self, incarnation: -1 }, nowMs: T0 }), RangeError);
  const arrayMeta = { version: 0, data: [] as never };
  assert.throws(() => new MemberTable({ self: { ...self, meta: arrayMeta }, nowMs: T0 }), RangeError);
  assert.throws(() => new MemberTable({ self, nowMs: T0, maxMembers: 0 }), RangeError);
  assert.throws(() => new MemberTable({ self, nowMs: T0, maxTombstones: -1 }), RangeError);
});
