// The payload codec: round trips, every hostile input we know of, and properties over random and mutated bytes.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encode as otherEncode } from "@msgpack/msgpack";
import { KaffixError } from "../errors.js";
import { Codec, decode, encode } from "./codec.js";

const codec = new Codec();
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const isDecodeError = (error: unknown): boolean => error instanceof KaffixError && error.code === "DECODE_ERROR";
const isInvalidArgument = (error: unknown): boolean => error instanceof KaffixError && error.code === "INVALID_ARGUMENT";
/** Refused by the codec's own scan, before msgpackr read a byte. */
const isRefused = (error: unknown): boolean => isDecodeError(error) && (error as Error).message.startsWith("payload refused");

function hasProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (!Array.isArray(value) && Object.hasOwn(value, "__proto__")) return true;
  return Object.values(value).some(hasProtoKey);
}

/** What MessagePack gives back: -0 is written as the integer 0. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) out[key] = withoutNegativeZero(entry);
    return out;
  }
  return value;
}

const protoFree = fc.jsonValue().filter((value) => !hasProtoKey(value));

// ── Round trips ─────────────────────────────────────────────────────────────────────────────────

test("a representative message survives a round trip", () => {
  const message = {
    service: "SaveNumberService",
    id: 123456,
    body: { number: 42, user: "u-1234", nested: { deeper: [1, [2, [3, { four: 4 }]]] } },
    text: "héllo wörld — 日本語 🎉👩‍👩‍👧",
    numbers: [0, 1, -1, 127, 128, -32, -33, 255, 65535, 65536, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53 - 1)],
    floats: [0.1, -2.5, 1e300, -1e-300, Math.PI, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity],
    flags: [true, false],
    nothing: null,
    missing: undefined,
    empty: { object: {}, array: [], string: "" },
    at: new Date(Date.UTC(2024, 1, 29, 12, 30, 45, 678)),
    before1970: new Date(-123456789),
    big: [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n],
    bytes: Buffer.from([0, 1, 2, 254, 255]),
  };
  assert.deepStrictEqual(codec.decode(codec.encode(message)), message);
});

test("a Uint8Array decodes as a Buffer holding the same bytes", () => {
  const decoded = codec.decode(codec.encode({ data: new Uint8Array([9, 8, 7]) })) as { data: Buffer };
  assert.ok(Buffer.isBuffer(decoded.data));
  assert.deepStrictEqual([...decoded.data], [9, 8, 7]);
});

test("decoded bytes are a copy that outlives changes to the payload", () => {
  const payload = Buffer.from(codec.encode({ data: Buffer.from("abc") }));
  const decoded = codec.decode(payload) as { data: Buffer };
  payload.fill(0);
  assert.equal(decoded.data.toString(), "abc");
});

test("NaN and an invalid Date survive a round trip", () => {
  const decoded = codec.decode(codec.encode({ n: NaN, d: new Date(NaN) })) as { n: number; d: Date };
  assert.ok(Number.isNaN(decoded.n));
  assert.ok(decoded.d instanceof Date && Number.isNaN(decoded.d.getTime()));
});

test("a Set becomes an array and a class instance its own fields, as in JSON", () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  }
  assert.deepStrictEqual(codec.decode(codec.encode({ set: new Set([1, 2]), point: new Point(3, 4) })), {
    set: [1, 2],
    point: { x: 3, y: 4 },
  });
});

test("a message from another MessagePack encoder decodes", () => {
  const message = { service: "S", id: 7, body: { list: [1, -1, 1.5, "x", null, true], at: new Date(1_700_000_000_123) } };
  assert.deepStrictEqual(codec.decode(otherEncode(message)), message);
});

test("the module-level encode and decode use the default limits", () => {
  assert.deepStrictEqual(decode(encode({ a: [1, "b"] })), { a: [1, "b"] });
  assert.throws(() => decode(hex("dd ffffffff 00")), isDecodeError);
});

test("any JSON value survives a round trip, except objects with an own __proto__ key, which are refused", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      if (hasProtoKey(value)) {
        assert.throws(() => codec.encode(value), isInvalidArgument);
      } else {
        assert.deepStrictEqual(codec.decode(codec.encode(value)), withoutNegativeZero(value));
      }
    }),
    { numRuns: 500 },
  );
});

test("objects with binary, Date and BigInt fields survive a round trip", () => {
  const record = fc.record({
    id: fc.integer(),
    data: fc.uint8Array({ maxLength: 300 }),
    parts: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 5 }),
    at: fc.date({ noInvalidDate: true }),
    big: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    label: fc.string({ unit: "grapheme" }),
  });
  fc.assert(
    fc.property(record, (value) => {
      const expected = { ...value, data: Buffer.from(value.data), parts: value.parts.map((part) => Buffer.from(part)) };
      assert.deepStrictEqual(codec.decode(codec.encode(value)), expected);
    }),
    { numRuns: 200 },
  );
});

// ── Hostile input ───────────────────────────────────────────────────────────────────────────────

test("headers claiming 2^32-1 elements, entries or bytes in ten bytes are refused at once", () => {
  for (const bytes of [
    hex("dd ffffffff 0102030405"), // array 32
    hex("df ffffffff a161 01 0203"), // map 32
    hex("db ffffffff 6162636465"), // str 32
    hex("c6 ffffffff 6162636465"), // bin 32
    hex("c9 ffffffff 10 61626364"), // ext 32
    hex("dc ffff 01020304050607"), // array 16
    hex("de ffff a161 01 020304"), // map 16
  ]) {
    assert.throws(() => codec.decode(bytes), isRefused, bytes.toString("hex"));
  }
});

test("refusing a big container header allocates nothing in proportion to its claim", () => {
  const hostile = [
    Buffer.concat([hex("dc 03e8"), ...Array.from({ length: 1000 }, () => hex("dc ea60"))]), // 476 MB in @msgpack/msgpack
    Buffer.concat(Array.from({ length: 8 }, () => hex("dd 00100000"))),
    hex("dd 00ffffff 00"),
  ];
  for (const bytes of hostile) {
    const before = process.memoryUsage().heapUsed;
    assert.throws(() => codec.decode(bytes), isRefused);
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 4 * 1024 * 1024, `decoding ${bytes.length} hostile bytes grew the heap by ${grown} bytes`);
  }
  const header = fc.constantFrom(...["dd ffffffff", "dc ffff", "df ffffffff", "de ffff", "db ffffffff", "c6 ffffffff", "c9 ffffffff 10", "dd 00010000"].map(hex));
  const input = fc
    .tuple(fc.array(header, { minLength: 1, maxLength: 8 }), fc.uint8Array({ maxLength: 64 }))
    .map(([headers, tail]) => Buffer.concat([...headers, tail]));
  const before = process.memoryUsage().heapUsed;
  fc.assert(
    fc.property(input, (bytes) => {
      assert.throws(() => codec.decode(bytes), isDecodeError);
    }),
    { numRuns: 2000 },
  );
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(grown < 32 * 1024 * 1024, `2000 hostile decodes grew the heap by ${grown} bytes`);
});

test("nesting deeper than the limit is refused without recursing", () => {
  const deep = Buffer.concat([Buffer.alloc(1024 * 1024, 0x91), hex("c0")]); // 620 MB and 1 s in @msgpack/msgpack
  assert.throws(() => codec.decode(deep), (error) => isRefused(error) && /nesting/.test((error as Error).message));
  const shallow = new Codec({ maxDepth: 3 });
  assert.deepStrictEqual(shallow.decode(hex("91 91 91 01")), [[[1]]]);
  assert.throws(() => shallow.decode(hex("91 91 91 91 01")), isRefused);
  assert.throws(() => shallow.encode({ a: { b: { c: {} } } }), isInvalidArgument);
});

test("a __proto__ key is refused and no prototype changes", () => {
  const fixstrKey = hex("81 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 c3"); // {"__proto__": {"polluted": true}}
  const str8Key = hex("81 d9 09 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 c3");
  const nested = hex("81 a1 61 91 81 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 c3");
  for (const bytes of [fixstrKey, str8Key, nested]) {
    assert.throws(() => codec.decode(bytes), (error) => isRefused(error) && /__proto__/.test((error as Error).message));
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});

test("constructor and prototype keys decode as plain data", () => {
  const decoded = codec.decode(hex("81 ab 636f6e7374727563746f72 81 a9 70726f746f74797065 81 a8 706f6c6c75746564 c3")) as object;
  assert.deepStrictEqual(Object.keys(decoded), ["constructor"]);
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("encoding an object with an own __proto__ key fails on the sender", () => {
  const value = JSON.parse('{"a": {"__proto__": {"polluted": true}}}') as unknown;
  assert.throws(() => codec.encode(value), (error) => isInvalidArgument(error) && /__proto__/.test((error as Error).message));
});

test("timestamps decode as Dates and every other extension is refused", () => {
  assert.deepStrictEqual(codec.decode(hex("d6 ff 5f000000")), new Date(0x5f000000 * 1000));
  assert.equal(codec.decode(hex("d4 00 00")), undefined);
  for (const bytes of [
    hex("d4 65 00 93 ab 636f6e7374727563746f72 a1 78 c0"), // msgpackr Error: would build a String object
    hex("d4 78 00 92 a6 28612b292b24 a0"), // msgpackr RegExp from the peer's pattern
    hex("d4 73 00 92 01 02"), // msgpackr Set
    hex("c7 09 74 0a 0000000000000000"), // msgpackr typed array
    Buffer.concat([hex("c9 00100000 42"), Buffer.alloc(1 << 20, 0x7f)]), // msgpackr BigInt of 1 MiB
    hex("d6 62 ffffff00 a1 61"), // msgpackr string bundle with a backwards offset
    hex("d6 69 00000001 92 01 d6 70 00000001"), // msgpackr reference: a cycle
    hex("96 d4 72 40 92 a1 61 a1 62 01 02 40 03 04 40 05 06 40 07 08 40 09 0a"), // msgpackr record: new Function
    hex("d5 72 40 00 92 a1 61 a1 62 01 02"), // msgpackr record, two-byte id
    Buffer.concat([hex("c9 00100000 10"), Buffer.alloc(1 << 20)]), // unknown type, 1 MiB
    hex("d4 fb 00"), // negative type -5
    hex("c7 03 ff 000000"), // a timestamp of a length the spec does not have
    hex("d8 ff 00000000000000000000000000000000"), // a timestamp in a 16-byte fixext
  ]) {
    assert.throws(() => codec.decode(bytes), isRefused, bytes.subarray(0, 16).toString("hex"));
  }
});

test("malformed MessagePack is refused", () => {
  for (const bytes of [
    hex(""), // empty
    hex("c1"), // the never-used type byte
    hex("01 02"), // trailing bytes
    hex("92 01"), // array cut short
    hex("a5 6162"), // string cut short
    hex("cb 3ff0"), // float cut short
    hex("da 00"), // str 16 header cut short
    hex("81 01 02"), // integer map key
    hex("81 91 01 02"), // array map key
    hex("81 c0 02"), // nil map key
  ]) {
    assert.throws(() => codec.decode(bytes), isRefused, bytes.toString("hex"));
  }
  assert.throws(() => codec.decode("not bytes" as unknown as Uint8Array), isDecodeError);
});

test("mutated, truncated and random bytes decode or fail with DECODE_ERROR, never anything else", () => {
  const mutated = fc
    .tuple(protoFree, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat()))
    .map(([value, edits, cut]) => {
      const bytes = Buffer.from(codec.encode(value));
      for (const [at, byte] of edits) bytes[at % bytes.length] = byte;
      return cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
    });
  const typed = fc
    .tuple(fc.integer({ min: 0xc0, max: 0xdf }), fc.uint8Array({ maxLength: 64 }))
    .map(([type, rest]) => Buffer.concat([Buffer.from([type]), rest]));
  const input = fc.oneof(mutated, typed, fc.uint8Array({ maxLength: 64 }));
  fc.assert(
    fc.property(input, (bytes) => {
      try {
        codec.decode(bytes);
      } catch (error) {
        // The scan must catch everything msgpackr would fail on, so msgpackr never reads bad bytes.
        assert.ok(isRefused(error), `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 10_000 },
  );
});

// ── Encoding what can't be encoded, and limits ──────────────────────────────────────────────────

test("functions, symbols, BigInts past 64 bits, cycles and non-string map keys are refused with INVALID_ARGUMENT", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  for (const value of [
    () => 1,
    { handler: () => 1 },
    Symbol("s"),
    { s: Symbol("s") },
    2n ** 64n,
    -(2n ** 63n) - 1n,
    cyclic,
    new Map([[1, "one"]]),
  ]) {
    assert.throws(() => codec.encode(value), isInvalidArgument);
  }
});

test("a codec refuses what is over its limits on both sides", () => {
  const small = new Codec({ maxBytes: 64, maxArrayLength: 3, maxMapSize: 2, maxStringBytes: 4, maxBinaryBytes: 2 });
  const big = new Codec();
  for (const value of [[1, 2, 3, 4], { a: 1, b: 2, c: 3 }, "hello", { hello: 1 }, Buffer.from("abc"), "x".repeat(100).split("")]) {
    assert.throws(() => small.encode(value), isInvalidArgument, JSON.stringify(value));
    assert.throws(() => small.decode(big.encode(value)), isRefused, JSON.stringify(value));
  }
  assert.deepStrictEqual(small.decode(small.encode({ ab: [1, 2, "abcd"], b: Buffer.from("ab") })), {
    ab: [1, 2, "abcd"],
    b: Buffer.from("ab"),
  });
});

test("limits must be positive integers within range", () => {
  for (const limits of [{ maxBytes: 0 }, { maxDepth: 1.5 }, { maxDepth: 1001 }, { maxArrayLength: -1 }, { maxBytes: 2 ** 31 }]) {
    assert.throws(() => new Codec(limits), isInvalidArgument, JSON.stringify(limits));
  }
});
