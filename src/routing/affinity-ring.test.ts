// The affinity ring: stable keys, small moves on membership change, bounded loads, and its hash.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KaffixError } from "../errors.js";
import { seededRandom } from "../testing/seeded-random.js";
import { hash32 } from "../hash.js";
import { AffinityRing } from "./affinity-ring.js";

const idle = (): number => 0;
const nodes = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => `node-${from + i}`);
const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);

function ringOf(nodeIds: string[], options?: ConstructorParameters<typeof AffinityRing>[0]): AffinityRing {
  const ring = new AffinityRing(options);
  ring.setNodes(nodeIds);
  return ring;
}

/** Where each key goes with no load anywhere: its home node. */
function homes(ring: AffinityRing): string[] {
  return keys.map((key) => ring.pick(key, idle, 0)!);
}

/** Picks `keyStream` in order with load = picks so far, checking the cap before every pick. */
function pickCounting(ring: AffinityRing, keyStream: string[], epsilon: number): Map<string, number> {
  const counts = new Map<string, number>();
  let total = 0;
  for (const key of keyStream) {
    const node = ring.pick(key, (id) => counts.get(id) ?? 0, total)!;
    const cap = Math.ceil(((1 + epsilon) * (total + 1)) / ring.size);
    const after = (counts.get(node) ?? 0) + 1;
    assert.ok(after <= cap, `${node} reached ${after} with a cap of ${cap}`);
    counts.set(node, after);
    total++;
  }
  return counts;
}

// ── Membership ──────────────────────────────────────────────────────────────────────────────────

test("an empty ring picks nothing", () => {
  const ring = new AffinityRing();
  assert.equal(ring.size, 0);
  assert.equal(ring.pick("key", idle, 0), undefined);
  ring.setNodes(["a"]);
  ring.setNodes([]);
  assert.equal(ring.pick("key", idle, 0), undefined);
});

test("size counts distinct nodes", () => {
  assert.equal(ringOf(["a", "b", "a", "c"]).size, 3);
});

test("the same key reaches the same node while membership is stable", () => {
  const ring = ringOf(nodes(10));
  const first = homes(ring);
  ring.setNodes(nodes(10));
  ring.setNodes(nodes(10).reverse());
  assert.deepEqual(homes(ring), first);
});

test("every node that sees the same set builds the same ring, whatever the order or duplicates", () => {
  const shuffled = ["node-3", "node-0", "node-7", "node-1", "node-9", "node-2", "node-8", "node-4", "node-6", "node-5", "node-3"];
  assert.deepEqual(homes(ringOf(shuffled)), homes(ringOf(nodes(10))));
});

test("adding an eleventh node moves about a tenth of the keys, all of them to the new node", () => {
  const ring = ringOf(nodes(10));
  const before = homes(ring);
  ring.setNodes(nodes(11));
  const after = homes(ring);
  const moved = keys.filter((_, i) => before[i] !== after[i]);
  assert.ok(moved.length > 0.04 * keys.length && moved.length < 0.2 * keys.length, `${moved.length} keys moved`);
  for (let i = 0; i < keys.length; i++) if (before[i] !== after[i]) assert.equal(after[i], "node-10");
});

test("removing a node moves only the keys it held", () => {
  const ring = ringOf(nodes(10));
  const before = homes(ring);
  ring.setNodes(nodes(10).filter((id) => id !== "node-4"));
  const after = homes(ring);
  for (let i = 0; i < keys.length; i++) {
    if (before[i] === "node-4") assert.notEqual(after[i], "node-4");
    else assert.equal(after[i], before[i]);
  }
});

test("ten thousand keys spread over ten nodes within 30 % of an even share", () => {
  const counts = new Map<string, number>();
  for (const node of homes(ringOf(nodes(10)))) counts.set(node, (counts.get(node) ?? 0) + 1);
  assert.equal(counts.size, 10);
  for (const [node, count] of counts) assert.ok(count > 700 && count < 1_300, `${node} holds ${count}`);
});

// ── Bounded loads ───────────────────────────────────────────────────────────────────────────────

test("a hot key spills over the nodes instead of piling onto one", () => {
  const counts = pickCounting(ringOf(nodes(10)), Array(1_000).fill("hot"), 0.25);
  // Each node stops at 1.25 × the average, so the key needs at least eight of the ten.
  assert.ok(counts.size >= 8, `${counts.size} nodes used`);
  for (const count of counts.values()) assert.ok(count <= 125, `a node took ${count}`);
});

test("no node exceeds the cap under a skewed key stream", () => {
  const random = seededRandom(11);
  // Roughly Zipf: key i drawn with weight 1 / (i + 1).
  const stream = Array.from({ length: 20_000 }, () => `user-${Math.floor(Math.exp(random() * Math.log(1_000))) - 1}`);
  for (const epsilon of [0, 0.1, 0.25, 1]) {
    const counts = pickCounting(ringOf(nodes(7), { epsilon }), stream, epsilon);
    const max = Math.max(...counts.values());
    assert.ok(max <= Math.ceil(((1 + epsilon) * stream.length) / 7), `epsilon ${epsilon}: ${max}`);
  }
});

test("a key under the cap stays on its home node", () => {
  const ring = ringOf(nodes(5));
  const home = ring.pick("session-1", idle, 0)!;
  assert.equal(ring.pick("session-1", (id) => (id === home ? 5 : 0), 100), home);
});

test("a full node hands the key to the next node clockwise, asking each node's load once", () => {
  const ring = ringOf(nodes(6));
  const asked: string[] = [];
  ring.pick("order-42", (id) => (asked.push(id), 0), 0);
  const home = asked[0]!;

  asked.length = 0;
  const full = (id: string): number => (asked.push(id), id === home ? 1_000 : 0);
  const picked = ring.pick("order-42", full, 1_000);
  assert.equal(asked[0], home);
  assert.equal(picked, asked[1]);
  assert.equal(asked.length, 2);

  asked.length = 0;
  ring.pick("order-42", (id) => (asked.push(id), 1_000), 0);
  assert.equal(new Set(asked).size, 6, "every node is asked once when all are full");
  assert.equal(asked.length, 6);
});

test("when every node is at the cap, the least loaded one is picked", () => {
  const ring = ringOf(["a", "b", "c"]);
  const loads: Record<string, number> = { a: 9, b: 7, c: 8 };
  assert.equal(ring.pick("anything", (id) => loads[id]!, 0), "b");
});

// ── Options and the hash ────────────────────────────────────────────────────────────────────────

test("invalid options are refused with INVALID_ARGUMENT", () => {
  const invalid = (error: unknown): boolean => error instanceof KaffixError && error.code === "INVALID_ARGUMENT";
  for (const virtualNodes of [0, 1.5, -3, Number.NaN, 5_000]) assert.throws(() => new AffinityRing({ virtualNodes }), invalid);
  for (const epsilon of [-0.1, Number.NaN, Infinity]) assert.throws(() => new AffinityRing({ epsilon }), invalid);
});

test("hash32 gives the same values on every node and in every release", () => {
  // Changing the hash moves every affinity key in a rolling upgrade: these values must not change.
  assert.equal(hash32(""), 0xab3e7c0b);
  assert.equal(hash32("a"), 0x1a80b1b3);
  assert.equal(hash32("key-0"), 0xf4b7e6b1);
  assert.equal(hash32("key-1"), 0x63e4d497);
  assert.equal(hash32("日本語 🎉"), 0xfcd603f0);
});

test("hash32 spreads similar keys evenly over the 32-bit range", () => {
  const buckets = new Array<number>(16).fill(0);
  for (const key of keys) buckets[hash32(key) >>> 28]!++;
  for (const count of buckets) assert.ok(count > 520 && count < 730, `bucket holds ${count}`);
});

test("flipping one character flips about half of hash32's bits", () => {
  let flipped = 0;
  for (let i = 0; i < 1_000; i++) {
    const difference = hash32(`k${i}a`) ^ hash32(`k${i}b`);
    for (let bit = 0; bit < 32; bit++) flipped += (difference >>> bit) & 1;
  }
  const perKey = flipped / 1_000;
  assert.ok(perKey > 14 && perKey < 18, `${perKey} bits flipped on average`);
});

// ── Properties ──────────────────────────────────────────────────────────────────────────────────

const nodeSetArb = fc.uniqueArray(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 12 });

test("a pick is always a member of the node set", () => {
  fc.assert(
    fc.property(
      nodeSetArb,
      fc.string(),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.nat(100)),
      fc.oneof(fc.nat(1_000), fc.constantFrom(-5, Number.NaN, Infinity)),
      fc.integer({ min: 1, max: 16 }),
      (nodeIds, key, loads, totalLoad, virtualNodes) => {
        const ring = ringOf(nodeIds, { virtualNodes });
        const picked = ring.pick(key, (id) => (Object.hasOwn(loads, id) ? loads[id]! : 0), totalLoad);
        return picked !== undefined && nodeIds.includes(picked);
      },
    ),
  );
});

test("with honest loads the picked node is always under the cap", () => {
  fc.assert(
    fc.property(nodeSetArb, fc.string(), fc.array(fc.nat(50), { minLength: 12, maxLength: 12 }), (nodeIds, key, raw) => {
      const loads = new Map(nodeIds.map((id, i) => [id, raw[i]!]));
      const total = [...loads.values()].reduce((sum, n) => sum + n, 0);
      const picked = ringOf(nodeIds).pick(key, (id) => loads.get(id)!, total)!;
      return loads.get(picked)! < Math.ceil((1.25 * (total + 1)) / nodeIds.length);
    }),
  );
});

test("the node set's order never changes where a key goes", () => {
  fc.assert(
    fc.property(nodeSetArb, fc.array(fc.string(), { maxLength: 20 }), (nodeIds, someKeys) => {
      const forward = ringOf(nodeIds);
      const backward = ringOf([...nodeIds].reverse());
      return someKeys.every((key) => forward.pick(key, idle, 0) === backward.pick(key, idle, 0));
    }),
  );
});

test("hash32 is always an unsigned 32-bit integer", () => {
  fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => Number.isInteger(hash32(text)) && hash32(text) >>> 0 === hash32(text)));
});
