// What `kaffix status` prints for a given snapshot: members, services per node, rates and placement moves.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MemberView, PlacementView } from "../index.js";
import type { StatusSnapshot } from "./status-fetch.js";
import { renderStatus } from "./status-render.js";

const AT = "2026-03-01T12:00:30.000Z";
const CAPACITY = { cores: 4, memoryBytes: 16 * 2 ** 30, weight: 1 };
const LAG = { mean: 1, p99: 3.2 };

function member(id: string, region: string, running: MemberView["running"], extra: Partial<MemberView> = {}): MemberView {
  const services = ["gateway", "orders", "ledger"];
  return { id, address: `10.0.0.${id.length}:12345`, state: "alive", incarnation: 1, rttMs: 1.4, region, services, capacity: CAPACITY, running, leaving: [], labels: [], eventLoopLagMs: LAG, stateSince: AT, ...extra };
}

function placementView(overrides: Partial<PlacementView> = {}): PlacementView {
  const plan = (replicas: number, because: "spread" | "min-replicas") => ({
    order: 0, work: 0.1, eligible: 3, replicas, replicasBecause: because, target: [], nodes: [],
  });
  return {
    enabled: true,
    node: "aaa0000001",
    intervalMs: 2000,
    round: { at: "2026-03-01T12:00:29.000Z", planningMs: 0.3, nodes: 3, services: 3 },
    running: {},
    placement: { gateway: ["aaa0000001", "bbb0000002"], orders: ["aaa0000001", "bbb0000002"], ledger: ["aaa0000001", "ccc0000003"] },
    pending: [{ service: "ledger", node: "ccc0000003", action: "add", reason: "rebalance", budgeted: true }],
    services: { gateway: plan(2, "spread"), orders: plan(2, "min-replicas"), ledger: plan(2, "min-replicas") },
    history: [
      { at: "2026-03-01T12:00:00.000Z", service: "orders", node: "ccc0000003", action: "remove", reason: "scale-down", outcome: "seen" },
      { at: "2026-03-01T12:00:20.000Z", service: "ledger", node: "aaa0000001", action: "add", reason: "initial", outcome: "started" },
    ],
    ...overrides,
  };
}

function snapshot(placement: StatusSnapshot["placement"] = placementView()): StatusSnapshot {
  const members = [
    member("bbb0000002", "us-east", {
      gateway: { queued: 0, arrivalPerSec: 10, serviceTimeMs: 0.2, to: { orders: 10 } },
      orders: { queued: 1, arrivalPerSec: 30, serviceTimeMs: 2, to: { ledger: 30 } },
      ledger: { queued: 0, arrivalPerSec: 10, serviceTimeMs: 21, deps: { db: { perSec: 10, ms: 20 } } },
    }),
    member("aaa0000001", "eu-west", {
      gateway: { queued: 0, arrivalPerSec: 20, serviceTimeMs: 0.2, to: { orders: 20 } },
      orders: { queued: 2, arrivalPerSec: 10, serviceTimeMs: 6, to: { ledger: 10 } },
      ledger: { queued: 0, arrivalPerSec: 30, serviceTimeMs: 1.2, deps: { db: { perSec: 30, ms: 1 } } },
    }, { rttMs: 0, labels: ["db"] }),
    member("ccc0000003", "ap-south", {}, { services: ["gateway", "orders", "ledger"] }),
    member("ddd0000004", "sa-east", {}, { state: "dead", services: ["gateway"], stateSince: "2026-03-01T12:00:05.000Z" }),
  ];
  return {
    url: "http://127.0.0.1:8080",
    fetchedAt: AT,
    cluster: {
      self: {
        id: "aaa0000001", app: "Shop", version: "1.2.0", state: "running", address: "10.0.0.10:12345", region: "eu-west",
        startedAt: AT, delivery: {} as StatusSnapshot["cluster"]["self"]["delivery"],
        services: { available: ["gateway", "orders", "ledger"], active: [], retiring: [] },
      },
      members,
      peers: [],
    },
    placement,
  };
}

/** The lines of one section: from its title to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.startsWith(title));
  assert.ok(start >= 0, `no section ${title} in:\n${text}`);
  const end = lines.findIndex((line, i) => i > start && line === "");
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

function row(lines: readonly string[], first: string): string[] {
  const found = lines.find((line) => line.trim().split(/\s{2,}/)[0] === first);
  assert.ok(found !== undefined, `no row starting with ${first} in:\n${lines.join("\n")}`);
  return found.trim().split(/\s{2,}/);
}

describe("renderStatus", () => {
  test("the title names the app, counts members by state and says which node answered", () => {
    const [title, asked] = renderStatus(snapshot()).split("\n");
    assert.equal(title, "Shop 1.2.0 · 4 members: 3 alive, 1 dead");
    assert.match(asked!, /as node aaa0000001 \(eu-west\) at http:\/\/127\.0\.0\.1:8080 sees it, 12:00:30 UTC/);
  });

  test("every member is listed with its address, state, region, round trip, capacity, lag and services run", () => {
    const members = section(renderStatus(snapshot()), "MEMBERS");
    assert.deepEqual(row(members, "bbb0000002"), [
      "bbb0000002", "10.0.0.10:12345", "alive", "just now", "us-east", "-", "1.4 ms", "4 cores, 16 GiB, weight 1", "3.2 ms", "3 of 3",
    ]);
    assert.deepEqual(row(members, "aaa0000001 *").slice(2, 7), ["alive", "just now", "eu-west", "db", "-"]);
    assert.deepEqual(row(members, "ddd0000004").slice(2, 5), ["dead", "25 s ago", "sa-east"]);
    assert.deepEqual(row(members, "ccc0000003").at(-1), "0 of 3");
  });

  test("the services matrix marks running replicas with their rate, and what placement adds or removes", () => {
    const matrix = section(renderStatus(snapshot()), "SERVICES PER NODE");
    const header = matrix[0]!.trim().split(/\s{2,}/);
    assert.deepEqual(header, ["SERVICE", "ccc0000003", "aaa0000001", "bbb0000002", "REPLICAS"], "live members only, by region");
    assert.deepEqual(matrix[1]!.trim().split(/\s{2,}/), ["ap-south", "eu-west", "us-east"]);
    assert.deepEqual(row(matrix, "gateway"), ["gateway", "○", "● 20", "● 10", "2 (wants 2: spread)"]);
    assert.deepEqual(row(matrix, "ledger"), ["ledger", "○ +", "● 30", "● 10 -", "2 (wants 2: min-replicas)"]);
  });

  test("a replica its node announced it is leaving is marked as being removed, whatever the answering node's plan says", () => {
    const snap = snapshot();
    snap.cluster.members.find((m) => m.id === "aaa0000001")!.leaving = ["gateway"];
    const matrix = section(renderStatus(snap), "SERVICES PER NODE");
    assert.deepEqual(row(matrix, "gateway").slice(1, 3), ["○", "● 20 -"]);
  });

  test("a service a node may not run is marked apart from one it may run, and the answering node's draining ones too", () => {
    const snap = snapshot();
    snap.cluster.members.find((m) => m.id === "ccc0000003")!.services = ["gateway"];
    snap.cluster.self.services.retiring = ["orders"];
    delete snap.cluster.members.find((m) => m.id === "aaa0000001")!.running.orders;
    const matrix = section(renderStatus(snap), "SERVICES PER NODE");
    assert.deepEqual(row(matrix, "orders").slice(1, 4), ["·", "◌", "● 30"]);
  });

  test("rates are summed over replicas, handler time is weighted by arrivals, flows and dependency latencies are shown", () => {
    const rates = section(renderStatus(snapshot()), "RATES");
    assert.deepEqual(row(rates, "gateway"), ["gateway", "30", "0.20", "0", "orders 30", "-"]);
    assert.deepEqual(row(rates, "orders"), ["orders", "40", "3.0", "3", "ledger 40", "-"]);
    assert.deepEqual(row(rates, "ledger"), ["ledger", "40", "6.2", "0", "-", "db 1.0-20 ms"]);
  });

  test("placement shows its rhythm, the pending changes and the recent moves newest first", () => {
    const text = renderStatus(snapshot());
    const placement = section(text, "PLACEMENT");
    assert.match(text, /PLACEMENT {2}as node aaa0000001 plans it: a round every 2 s, last round 1 s ago \(3 nodes, 3 services\)/);
    assert.deepEqual(placement, ["  pending: + ledger on ccc0000003 (rebalance)"]);
    const moves = section(text, "RECENT MOVES");
    assert.deepEqual(row(moves, "10 s ago"), ["10 s ago", "+ add", "ledger", "aaa0000001 *", "initial", "started"]);
    assert.deepEqual(row(moves, "30 s ago"), ["30 s ago", "- remove", "orders", "ccc0000003", "scale-down", "seen"]);
    assert.ok(moves.findIndex((l) => l.includes("10 s ago")) < moves.findIndex((l) => l.includes("30 s ago")));
  });

  test("only the most recent moves are listed, and none with moves: 0", () => {
    assert.doesNotMatch(renderStatus(snapshot(), { moves: 1 }), /scale-down/);
    assert.doesNotMatch(renderStatus(snapshot(), { moves: 0 }), /RECENT MOVES/);
  });

  test("a node with placement off, or without /placement, says so instead of a plan", () => {
    assert.match(renderStatus(snapshot({ enabled: false, node: "aaa0000001" })), /off on node aaa0000001 \(--placement off\)/);
    assert.match(renderStatus(snapshot(null)), /no \/placement route/);
  });

  test("a plan with nothing left to do says it is in place, and services held back say why", () => {
    const view = placementView({ pending: [] });
    view.services.orders = { ...view.services.orders!, deferred: "min-move-interval" };
    const text = renderStatus(snapshot(view));
    assert.match(text, /pending: none, the plan is in place/);
    assert.match(text, /waiting: orders \(moved recently\)/);
  });

  test("a matrix wider than the terminal becomes one line per node", () => {
    const matrix = section(renderStatus(snapshot(), { width: 40 }), "SERVICES PER NODE");
    assert.deepEqual(matrix[1], "  aaa0000001 (eu-west): gateway ● 20, orders ● 10, ledger ● 30");
    assert.equal(matrix.length, 3);
  });

  test("without colour the text has no escape codes; with colour the states are painted", () => {
    assert.doesNotMatch(renderStatus(snapshot()), /\x1b\[/);
    const coloured = renderStatus(snapshot(), { color: true });
    assert.match(coloured, /\x1b\[32malive\x1b\[0m/);
    assert.match(coloured, /\x1b\[31mdead\x1b\[0m/);
  });
});
