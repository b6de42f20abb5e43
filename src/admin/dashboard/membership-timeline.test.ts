// Membership events derived from successive member lists: what a user sees in the dashboard's timeline.

import assert from "node:assert/strict";
import { test } from "node:test";
import { member } from "./member-fixtures.test-support.js";
import { MembershipTimeline } from "./membership-timeline.js";

const kinds = (events: readonly { kind: string; node: string }[]) => events.map((e) => `${e.kind} ${e.node}`.trim());

test("the first list is a baseline, then joins, suspicions, recoveries, deaths and leaves are told apart", () => {
  const timeline = new MembershipTimeline();
  assert.deepEqual(kinds(timeline.observe(0, [member("a", "alive"), member("b", "alive")])), ["watching"]);
  assert.equal(timeline.events[0]!.detail, "2 members: 2 alive");
  assert.deepEqual(kinds(timeline.observe(1, [member("a", "alive"), member("b", "suspect"), member("c", "alive")])), ["suspected b", "joined c"]);
  assert.deepEqual(kinds(timeline.observe(2, [member("a", "alive"), member("b", "alive"), member("c", "alive")])), ["recovered b"]);
  assert.deepEqual(kinds(timeline.observe(3, [member("a", "alive"), member("b", "dead"), member("c", "left")])), ["died b", "left c"]);
  assert.deepEqual(kinds(timeline.observe(4, [member("a", "alive"), member("b", "alive")])), ["rejoined b", "forgotten c"]);
  assert.deepEqual(timeline.events.map((e) => e.at), [0, 1, 1, 2, 3, 3, 4, 4]);
});

test("events carry the time the member's state changed, and a first look reports who was already dead, at when it died", () => {
  const timeline = new MembershipTimeline();
  const at = (ms: number) => new Date(ms).toISOString();
  const first = timeline.observe(10_000, [member("a", "alive"), member("b", "dead", {}, { stateSince: at(4_000) })]);
  assert.deepEqual(first.map((e) => [e.kind, e.node, e.at]), [["died", "b", 4_000], ["watching", "", 10_000]]);
  const next = timeline.observe(11_000, [member("a", "suspect", {}, { stateSince: at(10_400) }), member("b", "dead", {}, { stateSince: at(4_000) })]);
  assert.deepEqual(next.map((e) => [e.kind, e.node, e.at]), [["suspected", "a", 10_400]]);
});

test("a node back at a new address under the same id is a rejoin", () => {
  const timeline = new MembershipTimeline();
  timeline.observe(0, [member("a", "alive")]);
  assert.deepEqual(kinds(timeline.observe(1, [member("a", "alive", {}, { address: "10.9.9.9:1" })])), ["rejoined a"]);
});

test("the timeline keeps only the most recent events", () => {
  const timeline = new MembershipTimeline(3);
  timeline.observe(0, []);
  for (let i = 1; i <= 5; i++) timeline.observe(i, [member(`n${i}`, "alive")]);
  assert.equal(timeline.events.length, 3);
  assert.deepEqual(kinds(timeline.events), ["forgotten n3", "joined n5", "forgotten n4"]);
});
