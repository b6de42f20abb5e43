// The frame reader: layout, limits checked at the prefix, and properties over any cut of any stream.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KaffixError } from "../errors.js";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameReader, FrameType, writeFrameHeader } from "./frame.js";

interface Frame {
  type: number;
  payload: Buffer;
}

const isProtocolError = (error: unknown): boolean => error instanceof KaffixError && error.code === "PROTOCOL_ERROR";

/** A reader that collects copies of its frames (the reader hands out views). */
function collecting(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): { reader: FrameReader; frames: Frame[] } {
  const frames: Frame[] = [];
  const reader = new FrameReader(maxFrameBytes, (type, payload) => frames.push({ type, payload: Buffer.from(payload) }));
  return { reader, frames };
}

/** `bytes` cut before each of `cuts` (positions taken modulo its length, duplicates allowed). */
function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => (bytes.length === 0 ? 0 : cut % (bytes.length + 1))))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

const frameTypes = Object.values(FrameType);
const frameArb = fc.record({ type: fc.constantFrom(...frameTypes), payload: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) }, { noNullPrototype: true });

// ── Unit tests ──────────────────────────────────────────────────────────────────────────────────

test("a frame reads back with its type and payload", () => {
  const { reader, frames } = collecting();
  reader.push(encodeFrame(FrameType.DATA, Buffer.from("hello")));
  assert.deepStrictEqual(frames, [{ type: FrameType.DATA, payload: Buffer.from("hello") }]);
  assert.equal(reader.bufferedBytes, 0);
});

test("a frame's bytes follow the documented layout", () => {
  const frame = encodeFrame(FrameType.CONTROL, Buffer.from([0xaa, 0xbb]));
  assert.deepStrictEqual([...frame], [0, 0, 0, 3, FrameType.CONTROL, 0xaa, 0xbb]);
  const header = Buffer.alloc(2 + FRAME_HEADER_BYTES);
  writeFrameHeader(header, 2, FrameType.CONTROL, 2);
  assert.deepStrictEqual(header.subarray(2), frame.subarray(0, FRAME_HEADER_BYTES));
});

test("a frame with an empty payload reads back", () => {
  const { reader, frames } = collecting();
  reader.push(Buffer.concat([encodeFrame(FrameType.PING, Buffer.alloc(0)), encodeFrame(FrameType.PONG, Buffer.alloc(0))]));
  assert.deepStrictEqual(frames, [
    { type: FrameType.PING, payload: Buffer.alloc(0) },
    { type: FrameType.PONG, payload: Buffer.alloc(0) },
  ]);
});

test("frames pushed one byte at a time read back in order", () => {
  const sent = [
    { type: FrameType.HELLO, payload: Buffer.from("hi") },
    { type: FrameType.PING, payload: Buffer.alloc(0) },
    { type: FrameType.DATA, payload: Buffer.from("a longer payload, split everywhere") },
  ];
  const bytes = Buffer.concat(sent.map((frame) => encodeFrame(frame.type, frame.payload)));
  const { reader, frames } = collecting();
  for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
  assert.deepStrictEqual(frames, sent);
});

test("frames cut into two chunks at every byte boundary read back in order", () => {
  const sent = [
    { type: FrameType.DATA, payload: Buffer.from("one") },
    { type: FrameType.CONTROL, payload: Buffer.from([1, 2, 3, 4, 5, 6]) },
    { type: FrameType.GOODBYE, payload: Buffer.from("bye") },
  ];
  const bytes = Buffer.concat(sent.map((frame) => encodeFrame(frame.type, frame.payload)));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { reader, frames } = collecting();
    reader.push(bytes.subarray(0, cut));
    reader.push(bytes.subarray(cut));
    assert.deepStrictEqual(frames, sent, `cut at ${cut}`);
    assert.equal(reader.bufferedBytes, 0);
  }
});

test("a payload of exactly the maximum is accepted and one byte more is refused", () => {
  const { reader, frames } = collecting(16);
  reader.push(encodeFrame(FrameType.DATA, Buffer.alloc(16, 7)));
  assert.equal(frames.length, 1);
  assert.throws(() => reader.push(encodeFrame(FrameType.DATA, Buffer.alloc(17))), isProtocolError);
});

test("an oversized length prefix is refused as soon as its fourth byte arrives", () => {
  const prefix = Buffer.from([0, 0, 0x10, 0x01]); // 4097: a payload of 4096 against a maximum of 4095
  const { reader, frames } = collecting(4095);
  reader.push(prefix.subarray(0, 3));
  assert.throws(() => reader.push(prefix.subarray(3)), isProtocolError);
  assert.equal(frames.length, 0);

  // The same prefix arriving whole, after a good frame in the same chunk.
  const whole = collecting(4095);
  assert.throws(() => whole.reader.push(Buffer.concat([encodeFrame(FrameType.PING, Buffer.alloc(0)), prefix])), isProtocolError);
  assert.equal(whole.frames.length, 1);
});

test("a huge length prefix is refused without buffering anything behind it", () => {
  const { reader } = collecting();
  assert.throws(() => reader.push(Buffer.from([0xff, 0xff, 0xff, 0xff])), (error) => {
    assert.ok(isProtocolError(error));
    assert.deepStrictEqual((error as KaffixError).data, { length: 0xffffffff, maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
    return true;
  });
  assert.ok(reader.bufferedBytes <= 4);
});

test("a zero length prefix is refused", () => {
  const direct = collecting();
  assert.throws(() => direct.reader.push(Buffer.from([0, 0, 0, 0, 9, 9])), isProtocolError);
  const split = collecting();
  split.reader.push(Buffer.from([0, 0]));
  assert.throws(() => split.reader.push(Buffer.from([0, 0])), isProtocolError);
});

test("a reader refuses to be used after a protocol error", () => {
  const { reader, frames } = collecting();
  assert.throws(() => reader.push(Buffer.from([0, 0, 0, 0])), isProtocolError);
  assert.throws(() => reader.push(encodeFrame(FrameType.DATA, Buffer.from("late"))), isProtocolError);
  assert.equal(frames.length, 0);
});

test("a frame callback that throws loses no bytes: the next push delivers the frames after it", () => {
  const bytes = Buffer.concat(["a", "b", "c"].map((text) => encodeFrame(FrameType.DATA, Buffer.from(text))));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const seen: string[] = [];
    let thrown = false;
    const reader = new FrameReader(100, (_type, payload) => {
      seen.push(payload.toString());
      if (!thrown && payload.toString() === "a") {
        thrown = true;
        throw new Error("handler failed");
      }
    });
    const pushes = [bytes.subarray(0, cut), bytes.subarray(cut), encodeFrame(FrameType.DATA, Buffer.from("d"))];
    for (const chunk of pushes) {
      try {
        reader.push(chunk);
      } catch (error) {
        assert.equal((error as Error).message, "handler failed");
      }
    }
    assert.deepStrictEqual(seen, ["a", "b", "c", "d"], `cut at ${cut}`);
  }
});

test("the maximum must be an integer from 1 to 2^32-1", () => {
  for (const max of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => new FrameReader(max, () => {}), RangeError, String(max));
  }
});

// ── Properties ──────────────────────────────────────────────────────────────────────────────────

test("any frames, concatenated and cut anywhere, read back exactly and in order", () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (sent, cuts) => {
      const bytes = Buffer.concat(sent.map((frame) => encodeFrame(frame.type, frame.payload)));
      const { reader, frames } = collecting(200);
      for (const chunk of cutAt(bytes, cuts)) reader.push(chunk);
      assert.deepStrictEqual(frames, sent);
      assert.equal(reader.bufferedBytes, 0);
    }),
    { numRuns: 500 },
  );
});

test("a reader never holds more than one frame's bytes", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(), { maxLength: 30 }), fc.array(frameArb, { maxLength: 10 }), (max, cuts, sent) => {
      const fitting = sent.map((frame) => ({ ...frame, payload: frame.payload.subarray(0, max) }));
      const bytes = Buffer.concat(fitting.map((frame) => encodeFrame(frame.type, frame.payload)));
      const { reader, frames } = collecting(max);
      for (const chunk of cutAt(bytes, cuts)) {
        reader.push(chunk);
        // Bytes held between pushes are part of one incomplete frame: ≤ max + 5 (and so ≤ max + 5 + chunk).
        assert.ok(reader.bufferedBytes <= max + FRAME_HEADER_BYTES, `${reader.bufferedBytes} bytes held, max ${max}`);
      }
      assert.equal(frames.length, fitting.length);
    }),
    { numRuns: 500 },
  );
});

test("an oversized length after any frames is refused when its fourth byte arrives, not later", () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 5 }),
      fc.integer({ min: 202, max: 0xffffffff }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (sent, length, cuts) => {
        const good = Buffer.concat(sent.map((frame) => encodeFrame(frame.type, frame.payload)));
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32BE(length);
        const bytes = Buffer.concat([good, prefix, Buffer.alloc(16)]);
        const prefixDone = good.length + 4; // bytes that must have arrived for the refusal
        const { reader, frames } = collecting(200);
        let received = 0;
        for (const chunk of cutAt(bytes, cuts)) {
          try {
            reader.push(chunk);
          } catch (error) {
            assert.ok(isProtocolError(error));
            assert.ok(received < prefixDone && received + chunk.length >= prefixDone, "refused in the chunk that completes the prefix");
            assert.deepStrictEqual(frames, sent);
            return;
          }
          received += chunk.length;
        }
        assert.fail("the oversized prefix was never refused");
      },
    ),
    { numRuns: 500 },
  );
});

test("random bytes either read as frames or throw PROTOCOL_ERROR, nothing else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 1, max: 64 }), (garbage, cuts, max) => {
      const { reader, frames } = collecting(max);
      try {
        for (const chunk of cutAt(Buffer.from(garbage), cuts)) reader.push(chunk);
      } catch (error) {
        assert.ok(isProtocolError(error), `unexpected ${String(error)}`);
      }
      for (const frame of frames) assert.ok(frame.payload.length <= max);
    }),
    { numRuns: 1000 },
  );
});
