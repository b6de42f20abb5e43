// The delivery payloads: every encoder round-trips through its decoder, and hostile bytes only ever raise PROTOCOL_ERROR.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KaffixError, type WireError } from "../errors.js";
import {
  CONTROL_MARK,
  ControlKind,
  DataKind,
  decodeControl,
  decodeData,
  encodeAck,
  encodeCopy,
  encodeMessage,
  encodeNack,
  encodeRelease,
  encodeReply,
  forEachInRanges,
  isDeliveryControl,
  MAX_RANGES,
  MAX_SERVICE_ID_BYTES,
  RangeList,
} from "./frames.js";

const isProtocolError = (error: unknown): boolean => error instanceof KaffixError && error.code === "PROTOCOL_ERROR";

/** Runs `decode` and lets only a PROTOCOL_ERROR through as an expected outcome. */
function decodesOrRefuses(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    assert.ok(isProtocolError(error), `expected PROTOCOL_ERROR, got ${String(error)}`);
  }
}

/** The frame with its body as a Buffer, so it compares with what was encoded. */
function withBufferBody(frame: object): object {
  return "body" in frame ? { ...frame, body: Buffer.from(frame.body as Uint8Array) } : frame;
}

const seqArb = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER));
const serviceArb = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 80 }).filter((id) => Buffer.byteLength(id) <= MAX_SERVICE_ID_BYTES),
  fc.constantFrom("a".repeat(255), "é".repeat(127) + "a", "😀".repeat(63) + "abc", "日本".repeat(42) + "abc"),
);
const bodyArb = fc.uint8Array({ maxLength: 300 });
const rangesArb = fc
  .array(fc.tuple(seqArb, seqArb), { maxLength: 40 })
  .map((pairs) => pairs.flatMap(([a, b]) => (a <= b ? [a, b] : [b, a])));
const wireErrorArb: fc.Arbitrary<WireError> = fc
  .record({
    code: fc.string(),
    message: fc.string(),
    retryable: fc.boolean(),
    data: fc.option(fc.oneof(fc.string(), fc.integer(), fc.record({ service: fc.string() }, { noNullPrototype: true })), { nil: undefined }),
  }, { noNullPrototype: true })
  .map(({ data, ...rest }) => (data === undefined ? rest : { ...rest, data }));

// ── Round trips ─────────────────────────────────────────────────────────────────────────────────

test("a PUBLISH round-trips its seq, floor, service id and body", () => {
  fc.assert(
    fc.property(seqArb, seqArb, serviceArb, bodyArb, (seq, floor, serviceId, body) => {
      const frame = decodeData(encodeMessage(seq, floor, serviceId, body));
      assert.equal(frame.kind, DataKind.PUBLISH);
      assert.deepStrictEqual(withBufferBody(frame), { kind: DataKind.PUBLISH, seq, floor, serviceId, body: Buffer.from(body) });
    }),
  );
});

test("a REQUEST round-trips and carries its timeout rounded up to whole milliseconds within 1..2^32-1", () => {
  const timeoutArb = fc.oneof(fc.integer({ min: 1, max: 0xffffffff }), fc.double({ min: -1e3, max: 1e13, noNaN: true }), fc.constant(Infinity));
  fc.assert(
    fc.property(seqArb, seqArb, serviceArb, bodyArb, timeoutArb, (seq, floor, serviceId, body, timeoutMs) => {
      const frame = decodeData(encodeMessage(seq, floor, serviceId, body, timeoutMs));
      const expected = Math.min(Math.max(Math.ceil(timeoutMs), 1), 0xffffffff);
      assert.deepStrictEqual(withBufferBody(frame), { kind: DataKind.REQUEST, seq, floor, serviceId, timeoutMs: expected, body: Buffer.from(body) });
    }),
  );
});

test("a traced PUBLISH and REQUEST carry the sender's trace context; ids of zeros are dropped, the message kept", () => {
  const trace = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 };
  const published = decodeData(encodeMessage(7, 3, "svc", Buffer.from("body"), undefined, trace));
  assert.equal(published.kind, DataKind.PUBLISH);
  assert.deepEqual(published.kind === DataKind.PUBLISH && published.trace, { ...trace, isRemote: true });
  assert.equal(published.kind === DataKind.PUBLISH && Buffer.from(published.body).toString(), "body");
  const requested = decodeData(encodeMessage(8, 3, "svc", Buffer.from("ask"), 250, trace));
  assert.ok(requested.kind === DataKind.REQUEST);
  assert.equal(requested.timeoutMs, 250);
  assert.equal(requested.trace?.spanId, trace.spanId);
  assert.equal(Buffer.from(requested.body).toString(), "ask");
  const zeros = { traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: 0 };
  const untraced = decodeData(encodeMessage(9, 3, "svc", Buffer.from("x"), undefined, zeros));
  assert.ok(untraced.kind === DataKind.PUBLISH);
  assert.equal(untraced.trace, undefined);
  assert.equal(Buffer.from(untraced.body).toString(), "x");
});

test("a COPY round-trips its seq, service id and body", () => {
  fc.assert(
    fc.property(seqArb, serviceArb, bodyArb, (seq, serviceId, body) => {
      const frame = decodeData(encodeCopy(seq, serviceId, body));
      assert.deepStrictEqual(withBufferBody(frame), { kind: DataKind.COPY, seq, serviceId, body: Buffer.from(body) });
    }),
  );
});

test("a REPLY round-trips its seq, outcome and body", () => {
  fc.assert(
    fc.property(seqArb, fc.boolean(), bodyArb, (seq, ok, body) => {
      const frame = decodeData(encodeReply(seq, ok, body));
      assert.deepStrictEqual(withBufferBody(frame), { kind: DataKind.REPLY, seq, ok, body: Buffer.from(body) });
    }),
  );
});

test("a RELEASE round-trips its ranges", () => {
  fc.assert(
    fc.property(rangesArb, (ranges) => {
      assert.deepStrictEqual(decodeData(encodeRelease(ranges)), { kind: DataKind.RELEASE, ranges });
    }),
  );
});

test("an ACK round-trips its received and done ranges", () => {
  fc.assert(
    fc.property(rangesArb, rangesArb, (received, done) => {
      const payload = encodeAck(received, done);
      assert.equal(isDeliveryControl(payload), true);
      assert.deepStrictEqual(decodeControl(payload), { kind: ControlKind.ACK, received, done });
    }),
  );
});

test("a NACK round-trips its seq and the wire error", () => {
  fc.assert(
    fc.property(seqArb, wireErrorArb, (seq, error) => {
      const payload = encodeNack(seq, error);
      assert.equal(isDeliveryControl(payload), true);
      assert.deepStrictEqual(decodeControl(payload), { kind: ControlKind.NACK, seq, error });
    }),
  );
});

test("a payload handed over as a plain Uint8Array view at an offset decodes like a Buffer", () => {
  const frame = encodeCopy(42, "svc", Buffer.from("body"));
  const backing = new Uint8Array(frame.length + 7);
  backing.set(frame, 7);
  const decoded = decodeData(backing.subarray(7));
  assert.equal(decoded.kind, DataKind.COPY);
  assert.deepStrictEqual(decoded.kind === DataKind.COPY && [decoded.seq, decoded.serviceId, Buffer.from(decoded.body).toString()], [42, "svc", "body"]);
});

test("a membership payload on the control lane is not taken for a delivery payload", () => {
  assert.equal(isDeliveryControl(Uint8Array.of(0x82, CONTROL_MARK)), false);
  assert.equal(isDeliveryControl(new Uint8Array(0)), false);
  assert.throws(() => decodeControl(Uint8Array.of(0x82, ControlKind.ACK)), isProtocolError);
});

// ── Service ids ─────────────────────────────────────────────────────────────────────────────────

test("a service id of exactly 255 UTF-8 bytes is sent, one of 256 is refused at encode with INVALID_ARGUMENT", () => {
  const longest = "é".repeat(127) + "a";
  assert.equal(Buffer.byteLength(longest), 255);
  const frame = decodeData(encodeMessage(1, 0, longest, new Uint8Array(0)));
  assert.equal(frame.kind === DataKind.PUBLISH && frame.serviceId, longest);
  const isInvalid = (error: unknown) => error instanceof KaffixError && error.code === "INVALID_ARGUMENT";
  for (const tooLong of ["é".repeat(128), "a".repeat(256), "😀".repeat(64)]) {
    assert.throws(() => encodeMessage(1, 0, tooLong, new Uint8Array(0)), isInvalid);
    assert.throws(() => encodeMessage(1, 0, tooLong, new Uint8Array(0), 100), isInvalid);
    assert.throws(() => encodeCopy(1, tooLong, new Uint8Array(0)), isInvalid);
    assert.throws(() => encodeCopy(1, tooLong, new Uint8Array(0)), isInvalid, "refused again, not cached");
  }
});

// ── Hostile bytes ───────────────────────────────────────────────────────────────────────────────

test("decodeData on random bytes throws only PROTOCOL_ERROR", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => decodesOrRefuses(() => decodeData(bytes))), { numRuns: 2000 });
});

test("decodeData on random bytes behind a valid kind byte throws only PROTOCOL_ERROR", () => {
  const kinds = Object.values(DataKind);
  const arb = fc.tuple(fc.constantFrom(...kinds), fc.uint8Array({ maxLength: 80 })).map(([kind, rest]) => Uint8Array.of(kind, ...rest));
  fc.assert(fc.property(arb, (bytes) => decodesOrRefuses(() => decodeData(bytes))), { numRuns: 2000 });
});

test("decodeControl on random bytes that are not a NACK throws only PROTOCOL_ERROR", () => {
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.uint8Array({ maxLength: 80 }).map((rest) => Uint8Array.of(CONTROL_MARK, ControlKind.ACK, ...rest)),
    fc.uint8Array({ maxLength: 80 }).map((rest) => Uint8Array.of(CONTROL_MARK, ...rest)),
  );
  const notNack = arb.filter((bytes) => !(bytes[0] === CONTROL_MARK && bytes[1] === ControlKind.NACK));
  fc.assert(fc.property(notNack, (bytes) => decodesOrRefuses(() => decodeControl(bytes))), { numRuns: 2000 });
});

test(
  "decodeControl on a NACK whose body is not MessagePack throws PROTOCOL_ERROR",
  () => {
    const head = encodeNack(5, { code: "X", message: "m", retryable: false }).subarray(0, 10);
    assert.throws(() => decodeControl(Buffer.concat([head, Uint8Array.of(0xc1)])), isProtocolError);
    const arb = fc.uint8Array({ maxLength: 80 }).map((rest) => Uint8Array.of(CONTROL_MARK, ControlKind.NACK, ...rest));
    fc.assert(fc.property(arb, (bytes) => decodesOrRefuses(() => decodeControl(bytes))), { numRuns: 2000 });
  },
);

/** Valid payloads of every kind whose every proper prefix is malformed. */
const strictFrames: [string, Buffer, (payload: Uint8Array) => unknown][] = [
  ["REPLY header", encodeReply(7, true, new Uint8Array(0)), decodeData],
  ["REQUEST header", encodeMessage(7, 3, "svc-é", new Uint8Array(0), 500), decodeData],
  ["RELEASE", encodeRelease([1, 4, 9, 9]), decodeData],
  ["ACK", encodeAck([1, 4], [2, 2, 6, 8]), decodeControl],
  ["NACK", encodeNack(7, { code: "QUEUE_FULL", message: "full", retryable: true, data: { service: "s" } }), decodeControl],
];

test("every truncation of a REPLY or REQUEST header, a RELEASE and an ACK throws PROTOCOL_ERROR", () => {
  for (const [name, payload, decode] of strictFrames) {
    if (name === "NACK") continue; // its body is MessagePack: see the NACK truncation test
    for (let length = 0; length < payload.length; length++) {
      assert.throws(() => decode(payload.subarray(0, length)), isProtocolError, `${name} cut to ${length} bytes`);
    }
  }
});

test(
  "every truncation of a NACK throws PROTOCOL_ERROR",
  () => {
    const [, payload] = strictFrames.find(([name]) => name === "NACK")!;
    for (let length = 0; length < payload.length; length++) assert.throws(() => decodeControl(payload.subarray(0, length)), isProtocolError, `cut to ${length} bytes`);
  },
);

test("a PUBLISH cut inside its service id throws PROTOCOL_ERROR; past it, the body is simply shorter", () => {
  const payload = encodeMessage(7, 3, "svc", Uint8Array.of(1, 2));
  for (let length = 18; length < 21; length++) assert.throws(() => decodeData(payload.subarray(0, length)), isProtocolError, `cut to ${length} bytes`);
  const cut = decodeData(payload.subarray(0, 22));
  assert.deepStrictEqual(cut.kind === DataKind.PUBLISH && [cut.serviceId, [...cut.body]], ["svc", [1]]);
});

test(
  "a PUBLISH or COPY cut before its service-id length byte throws PROTOCOL_ERROR",
  () => {
    const publish = encodeMessage(7, 3, "svc", Uint8Array.of(1, 2));
    for (let length = 0; length < 21; length++) assert.throws(() => decodeData(publish.subarray(0, length)), isProtocolError, `PUBLISH cut to ${length} bytes`);
    const copy = encodeCopy(7, "svc", Uint8Array.of(1, 2));
    for (let length = 0; length < 13; length++) assert.throws(() => decodeData(copy.subarray(0, length)), isProtocolError, `COPY cut to ${length} bytes`);
  },
);

test("a seq or floor that is negative, fractional, NaN, infinite or past 2^53-1 is refused in every payload", () => {
  const bad = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 60];
  const error = { code: "X", message: "m", retryable: false };
  for (const value of bad) {
    const payloads: [Buffer, (payload: Uint8Array) => unknown][] = [
      [encodeMessage(value, 0, "s", new Uint8Array(0)), decodeData],
      [encodeMessage(0, value, "s", new Uint8Array(0)), decodeData],
      [encodeMessage(value, 0, "s", new Uint8Array(0), 10), decodeData],
      [encodeMessage(0, value, "s", new Uint8Array(0), 10), decodeData],
      [encodeCopy(value, "s", new Uint8Array(0)), decodeData],
      [encodeReply(value, true, new Uint8Array(0)), decodeData],
      [encodeRelease([value, value]), decodeData],
      [encodeRelease([0, value]), decodeData],
      [encodeAck([value, value], []), decodeControl],
      [encodeAck([], [0, value]), decodeControl],
      [encodeNack(value, error), decodeControl],
    ];
    for (const [payload, decode] of payloads) assert.throws(() => decode(payload), isProtocolError, `value ${value}`);
  }
});

test("a range that ends before it starts is refused in a RELEASE and in either half of an ACK", () => {
  assert.throws(() => decodeData(encodeRelease([5, 4])), isProtocolError);
  assert.throws(() => decodeData(encodeRelease([1, 2, 9, 3])), isProtocolError);
  assert.throws(() => decodeControl(encodeAck([5, 4], [])), isProtocolError);
  assert.throws(() => decodeControl(encodeAck([], [1, 1, 5, 4])), isProtocolError);
});

test("a RELEASE or ACK whose counts do not match its length is refused", () => {
  const release = encodeRelease([1, 2, 5, 6]);
  for (const count of [0, 1, 3, 0xffffffff]) {
    const forged = Buffer.from(release);
    forged.writeUInt32LE(count, 1);
    assert.throws(() => decodeData(forged), isProtocolError, `RELEASE count ${count}`);
  }
  assert.throws(() => decodeData(Buffer.concat([release, Uint8Array.of(0)])), isProtocolError, "a trailing byte");
  const ack = encodeAck([1, 2], [5, 6]);
  for (const [received, done] of [[0, 1], [2, 1], [1, 0], [1, 2], [0, 2], [2, 0], [0xffffffff, 1], [1, 0xffffffff]] as const) {
    const forged = Buffer.from(ack);
    forged.writeUInt32LE(received, 2);
    forged.writeUInt32LE(done, 6);
    const sameTotal = received + done === 2;
    if (sameTotal) assert.doesNotThrow(() => decodeControl(forged), `ACK counts ${received}/${done} add up`);
    else assert.throws(() => decodeControl(forged), isProtocolError, `ACK counts ${received}/${done}`);
  }
  assert.throws(() => decodeControl(Buffer.concat([ack, Uint8Array.of(0)])), isProtocolError, "a trailing byte");
});

test("a RELEASE or ACK with more than MAX_RANGES ranges in one list is refused; MAX_RANGES is accepted", () => {
  const ranges = (count: number) => Array.from({ length: count * 2 }, (_, i) => i);
  assert.equal((decodeData(encodeRelease(ranges(MAX_RANGES))) as { ranges: number[] }).ranges.length, MAX_RANGES * 2);
  assert.throws(() => decodeData(encodeRelease(ranges(MAX_RANGES + 1))), isProtocolError);
  assert.doesNotThrow(() => decodeControl(encodeAck(ranges(MAX_RANGES), ranges(MAX_RANGES))));
  assert.throws(() => decodeControl(encodeAck(ranges(MAX_RANGES + 1), [])), isProtocolError);
  assert.throws(() => decodeControl(encodeAck([], ranges(MAX_RANGES + 1))), isProtocolError);
});

test("unknown kinds on either lane are refused", () => {
  for (const kind of [0, 6, 0x10, 0xff]) assert.throws(() => decodeData(Uint8Array.of(kind, ...new Uint8Array(20))), isProtocolError, `data kind ${kind}`);
  for (const kind of [0, DataKind.PUBLISH, 0x12, 0xff]) assert.throws(() => decodeControl(Uint8Array.of(CONTROL_MARK, kind, ...new Uint8Array(20))), isProtocolError, `control kind ${kind}`);
  assert.throws(() => decodeData(new Uint8Array(0)), isProtocolError);
  assert.throws(() => decodeControl(new Uint8Array(0)), isProtocolError);
});

test("a NACK whose body is MessagePack but not a WireError is refused", () => {
  const head = encodeNack(5, { code: "X", message: "m", retryable: false }).subarray(0, 10);
  for (const body of [[0xc0], [0x01], [0xa1, 0x78], [0x80], [0x81, 0xa4, 0x63, 0x6f, 0x64, 0x65, 0x01]]) {
    assert.throws(() => decodeControl(Buffer.concat([head, Uint8Array.from(body)])), isProtocolError, Buffer.from(body).toString("hex"));
  }
});

// ── RangeList ───────────────────────────────────────────────────────────────────────────────────

test("a RangeList merges consecutive ascending seqs into one range and starts a new one otherwise", () => {
  const list = new RangeList();
  assert.equal(list.isEmpty, true);
  for (const seq of [3, 4, 5, 9, 10, 8, 8, 2, 3]) list.add(seq);
  assert.equal(list.count, 5);
  assert.deepStrictEqual(list.take(), [3, 5, 9, 10, 8, 8, 8, 8, 2, 3]);
  assert.equal(list.isEmpty, true, "take empties the list");
  assert.deepStrictEqual(list.take(), []);
});

test("a RangeList's ranges expand back to exactly the seqs added, in order", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat(30), fc.maxSafeNat()), { maxLength: 200 }), (seqs) => {
      const list = new RangeList();
      for (const seq of seqs) list.add(seq);
      const breaks = seqs.filter((seq, i) => i === 0 || seq !== seqs[i - 1]! + 1).length;
      assert.equal(list.count, breaks);
      const ranges = list.take();
      const expanded: number[] = [];
      for (let i = 0; i < ranges.length; i += 2) for (let seq = ranges[i]!; seq <= ranges[i + 1]!; seq++) expanded.push(seq);
      assert.deepStrictEqual(expanded, seqs);
    }),
  );
});

test("an in-order stream of acks travels as one range", () => {
  const list = new RangeList();
  for (let seq = 1000; seq < 6000; seq++) list.add(seq);
  assert.equal(encodeAck(list.take(), []).length, 10 + 16);
});

// ── forEachInRanges ─────────────────────────────────────────────────────────────────────────────

/** A map that counts lookups, to show a wide range is never walked seq by seq. */
class CountingMap<V> extends Map<number, V> {
  gets = 0;
  override get(key: number): V | undefined {
    this.gets++;
    return super.get(key);
  }
}

function visit<V>(ranges: number[], held: ReadonlyMap<number, V>): [number, V][] {
  const seen: [number, V][] = [];
  forEachInRanges(ranges, held, (seq, value) => seen.push([seq, value]));
  return seen;
}

test("forEachInRanges visits exactly the keys of the map inside the ranges, as a naive scan would", () => {
  const small = fc.nat(120);
  const wide = fc.maxSafeNat();
  const rangeArb = fc.tuple(fc.oneof(small, small, wide), fc.oneof(small, small, wide)).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
  fc.assert(
    fc.property(fc.uniqueArray(fc.nat(100), { maxLength: 60 }), fc.array(rangeArb, { maxLength: 8 }), (keys, pairs) => {
      const held = new Map(keys.map((key) => [key, `v${key}`] as const));
      const ranges = pairs.flat();
      const naive: [number, string][] = [];
      for (const [first, last] of pairs) for (const [seq, value] of held) if (seq >= first! && seq <= last!) naive.push([seq, value]);
      const byKey = (a: [number, string], b: [number, string]) => a[0] - b[0];
      assert.deepStrictEqual(visit(ranges, held).sort(byKey), naive.sort(byKey));
    }),
  );
});

test("forEachInRanges over a range far wider than the map looks at the map, not the width", () => {
  const held = new CountingMap<string>([[5, "a"], [2 ** 40, "b"], [2 ** 50, "c"]]);
  assert.deepStrictEqual(visit([0, 2 ** 50], held).sort((a, b) => a[0] - b[0]), [[5, "a"], [2 ** 40, "b"], [2 ** 50, "c"]]);
  assert.deepStrictEqual(visit([0, Number.MAX_SAFE_INTEGER, 6, 2 ** 45], held), [[5, "a"], [2 ** 40, "b"], [2 ** 50, "c"], [2 ** 40, "b"]]);
  assert.equal(held.gets, 0);
});

test("forEachInRanges looks up each seq of a range narrower than the map, at most the map's size per range", () => {
  const held = new CountingMap<number>(Array.from({ length: 10 }, (_, i) => [i * 2, i] as [number, number]));
  assert.deepStrictEqual(visit([3, 8, 18, 18], held), [[4, 2], [6, 3], [8, 4], [18, 9]]);
  assert.equal(held.gets, 6 + 1);
});

test("forEachInRanges tolerates the callback deleting what it visits", () => {
  const held = new Map([[1, "a"], [2, "b"], [3, "c"], [10, "d"]]);
  const seen: number[] = [];
  forEachInRanges([1, 2, 0, 1000, 2, 3], held, (seq) => {
    seen.push(seq);
    held.delete(seq);
  });
  assert.deepStrictEqual(seen, [1, 2, 3, 10]);
  assert.equal(held.size, 0);
});
