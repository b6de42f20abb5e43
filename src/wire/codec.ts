// The payload codec between nodes: MessagePack via msgpackr, behind a pre-scan that refuses hostile bytes.
//
// Chosen by measurement (bench/codec.ts; AMD EPYC, 2 cores, Node 20; ops/s, median of 5 runs):
//   decode  65 B: 3.04 M vs 2.02 M for @msgpack/msgpack (1.5×)    4 KiB: 56 k vs 40 k (1.4×)
//   encode  65 B: 3.50 M vs 3.27 M (1.07×)                        4 KiB: 66 k vs 52 k (1.27×)
// That includes the scan, which costs 16–24 % against bare msgpackr. Both libraries need it on hostile
// input: @msgpack/msgpack preallocates every array header (3 KB of headers took 476 MB) and keeps a
// heap frame per nesting level (4 MiB of nesting took 620 MB); msgpackr decodes its own extensions
// whatever the options say (Error, RegExp, Set, typed arrays, BigInt of any size, cycles, and records
// whose reader it compiles with `new Function`), renames `__proto__` to `__proto_`, and overflows
// the stack on deep nesting. The scan walks the bytes once, without recursion or allocation, and
// passes only plain MessagePack within the limits below: string keys other than `__proto__`, and
// timestamps and msgpackr's `undefined` as the only extensions. It also checks encode's output, so
// what a receiver would refuse fails on the sender with INVALID_ARGUMENT.
//
// Round-trips: null, booleans, numbers (-0 becomes 0), strings (a lone surrogate becomes U+FFFD),
// arrays, plain objects, undefined, Uint8Array/Buffer (decoded as a Buffer copy), Date (to the
// millisecond), BigInt within 64 bits. As in JSON, a class instance becomes its own enumerable fields
// (or its toJSON()), a Set an array, a Map with string keys an object, other typed arrays their bytes.
// Functions, symbols, larger BigInts, cycles and non-string Map keys are refused.

import { Packr, Unpackr, type Options } from "msgpackr";
import { KaffixError } from "../errors.js";
import { DEFAULT_MAX_FRAME_BYTES } from "./frame.js";

/** Bounds on one encoded message; a message over any of them is refused whole. */
export interface CodecLimits {
  /** Encoded size of one message. */
  maxBytes: number;
  /** Arrays and maps nested in each other; the outermost container is depth 1. */
  maxDepth: number;
  /** Elements in one array. */
  maxArrayLength: number;
  /** Entries in one map (object). */
  maxMapSize: number;
  /** UTF-8 bytes in one string, keys included. */
  maxStringBytes: number;
  /** Bytes in one binary value. */
  maxBinaryBytes: number;
}

export const DEFAULT_CODEC_LIMITS: Readonly<CodecLimits> = Object.freeze({
  maxBytes: DEFAULT_MAX_FRAME_BYTES,
  maxDepth: 100,
  maxArrayLength: 1_000_000,
  maxMapSize: 1_000_000,
  maxStringBytes: DEFAULT_MAX_FRAME_BYTES,
  maxBinaryBytes: DEFAULT_MAX_FRAME_BYTES,
});

const MAX_LIMIT = 0x7fffffff;
const MAX_DEPTH = 1000;

/** How the codec configures msgpackr; exported for the benchmark's unguarded baseline. */
export const MSGPACKR_OPTIONS: Readonly<Options> = {
  useRecords: false, // no record extension: plain maps only
  moreTypes: false, // Set, Error, RegExp, typed arrays are written as plain arrays/bytes, never as extensions
  structuredClone: false, // references (0x69/0x70) are refused, so no cycles
  bundleStrings: false,
  mapsAsObjects: true,
  variableMapSize: false,
  int64AsType: "bigint", // numbers never encode as int64, so an int64 on the wire is a BigInt
  copyBuffers: true, // a decoded Uint8Array never aliases (and retains) the frame it came in
  useTimestamp32: false,
  encodeUndefinedAsNil: false,
  writeFunction: () => {
    throw new KaffixError("INVALID_ARGUMENT", "value can not be encoded: it holds a function");
  },
};

/** Encodes values to MessagePack and decodes them back, refusing anything over its limits. */
export class Codec {
  readonly limits: Readonly<CodecLimits>;
  readonly #packr = new Packr({ ...MSGPACKR_OPTIONS }); // copies: msgpackr may write to its options
  readonly #unpackr = new Unpackr({ ...MSGPACKR_OPTIONS });
  readonly #scanner: Scanner;

  constructor(limits: Partial<CodecLimits> = {}) {
    const merged = { ...DEFAULT_CODEC_LIMITS, ...limits };
    for (const [name, value] of Object.entries(merged)) {
      // The scanner counts in 32-bit integers (no message comes near 2 GiB); msgpackr recurses per level.
      const max = name === "maxDepth" ? MAX_DEPTH : MAX_LIMIT;
      if (!Number.isInteger(value) || value < 1 || value > max) {
        throw new KaffixError("INVALID_ARGUMENT", `codec limit ${name} must be an integer from 1 to ${max}, got ${value}`);
      }
    }
    this.limits = Object.freeze(merged);
    this.#scanner = new Scanner(this.limits);
  }

  /** The value as MessagePack; throws INVALID_ARGUMENT for what can't be encoded or is over a limit. */
  encode(value: unknown): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = this.#packr.pack(value);
    } catch (error) {
      if (error instanceof KaffixError) throw error;
      throw new KaffixError("INVALID_ARGUMENT", `value can not be encoded: ${encodeProblem(error)}`, { cause: error });
    }
    this.#scanner.check(bytes, "INVALID_ARGUMENT");
    return bytes;
  }

  /** The value in `bytes`; throws DECODE_ERROR for anything malformed, refused or over a limit. */
  decode(bytes: Uint8Array): unknown {
    if (!(bytes instanceof Uint8Array)) throw new KaffixError("DECODE_ERROR", "payload refused: not a Uint8Array");
    this.#scanner.check(bytes, "DECODE_ERROR");
    // msgpackr reads strings faster from a Buffer and then hands out Buffers for binary values.
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return this.#unpackr.unpack(buffer);
    } catch (error) {
      // Not expected once the scan passed; kept so no other error type ever escapes.
      throw new KaffixError("DECODE_ERROR", `payload could not be decoded: ${messageOf(error)}`, { cause: error });
    }
  }
}

let defaultCodec: Codec | undefined; // made on first use: the scanner below is not defined yet at this point

/** {@link Codec.encode} with the default limits. */
export function encode(value: unknown): Uint8Array {
  return (defaultCodec ??= new Codec()).encode(value);
}

/** {@link Codec.decode} with the default limits. */
export function decode(bytes: Uint8Array): unknown {
  return (defaultCodec ??= new Codec()).decode(bytes);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** msgpackr's reason in the user's terms (its own messages suggest options this codec does not offer). */
function encodeProblem(error: unknown): string {
  const message = messageOf(error);
  if (error instanceof RangeError && message.includes("call stack")) return "it nests too deep or holds a reference to itself";
  if (message.includes("64-bit integer")) return "it holds a BigInt outside the 64-bit integer range";
  if (message.includes("Unknown type: symbol")) return "it holds a symbol";
  return message;
}

type ScanErrorCode = "DECODE_ERROR" | "INVALID_ARGUMENT";

/**
 * Walks MessagePack bytes once, iteratively, and throws unless they hold exactly one value of plain
 * MessagePack within the limits. Every step consumes at least one byte, so the walk is linear.
 */
class Scanner {
  readonly #limits: Readonly<CodecLimits>;
  /** For each container enclosing the innermost one: values still to read in it (a map counts keys and values). */
  readonly #left: Int32Array;
  /** For each container enclosing the innermost one: 1 for a map. */
  readonly #isMap: Uint8Array;

  constructor(limits: Readonly<CodecLimits>) {
    this.#limits = limits;
    this.#left = new Int32Array(limits.maxDepth + 1);
    this.#isMap = new Uint8Array(limits.maxDepth + 1);
  }

  check(bytes: Uint8Array, code: ScanErrorCode): void {
    const limits = this.#limits;
    const end = bytes.length;
    if (end > limits.maxBytes) fail(code, `message of ${end} bytes is over the limit of ${limits.maxBytes}`, 0);
    const left = this.#left;
    const isMap = this.#isMap;
    // The innermost open container, kept in locals; outer ones wait in `left` / `isMap`.
    let depth = 0;
    let remaining = 1; // values still to read in it (a map counts keys and values)
    let inMap = false; // whether it is a map, whose even-numbered remaining values are keys
    let pos = 0;
    for (;;) {
      if (pos >= end) fail(code, "message ends in the middle of a value", pos);
      const isKey = inMap && (remaining & 1) === 0;
      remaining--;
      const start = pos;
      const b = bytes[pos]!;
      let count = -1; // elements of a container header; -1 for anything else
      let map = false;
      let stringBytes = -1;
      if (b < 0xa0) {
        pos++;
        if (b >= 0x80) {
          count = b & 0x0f;
          map = b < 0x90;
        }
      } else if (b < 0xc0) {
        stringBytes = b & 0x1f;
        pos++;
      } else if (b >= 0xe0) {
        pos++;
      } else {
        if (pos + HEADER_BYTES[b - 0xc0]! > end) fail(code, "message ends in the middle of a header", pos);
        switch (b) {
          case 0xc0: case 0xc2: case 0xc3: pos += 1; break; // nil, false, true
          case 0xcc: case 0xd0: pos += 2; break;
          case 0xcd: case 0xd1: pos += 3; break;
          case 0xca: case 0xce: case 0xd2: pos += 5; break;
          case 0xcb: case 0xcf: case 0xd3: pos += 9; break;
          case 0xd9: stringBytes = bytes[pos + 1]!; pos += 2; break;
          case 0xda: stringBytes = readUint16(bytes, pos + 1); pos += 3; break;
          case 0xdb: stringBytes = readUint32(bytes, pos + 1); pos += 5; break;
          case 0xc4: case 0xc5: case 0xc6: {
            const length = b === 0xc4 ? bytes[pos + 1]! : b === 0xc5 ? readUint16(bytes, pos + 1) : readUint32(bytes, pos + 1);
            if (length > limits.maxBinaryBytes) fail(code, `binary of ${length} bytes is over the limit of ${limits.maxBinaryBytes}`, pos);
            pos += HEADER_BYTES[b - 0xc0]! + length;
            break;
          }
          case 0xdc: count = readUint16(bytes, pos + 1); pos += 3; break;
          case 0xdd: count = readUint32(bytes, pos + 1); pos += 5; break;
          case 0xde: map = true; count = readUint16(bytes, pos + 1); pos += 3; break;
          case 0xdf: map = true; count = readUint32(bytes, pos + 1); pos += 5; break;
          // Extensions: msgpackr's `undefined` (fixext 1, type 0) and timestamps (type -1) only.
          case 0xd4: checkExtension(code, bytes[pos + 1]! === 0x00 || bytes[pos + 1]! === 0xff, bytes, pos + 1); pos += 3; break;
          case 0xd6: checkExtension(code, bytes[pos + 1]! === 0xff, bytes, pos + 1); pos += 6; break;
          case 0xd7: checkExtension(code, bytes[pos + 1]! === 0xff, bytes, pos + 1); pos += 10; break;
          case 0xc7: checkExtension(code, bytes[pos + 2]! === 0xff && bytes[pos + 1]! === 12, bytes, pos + 2); pos += 15; break;
          case 0xd5: case 0xd8: case 0xc8: case 0xc9:
            checkExtension(code, false, bytes, pos + (b === 0xd5 || b === 0xd8 ? 1 : b === 0xc8 ? 3 : 5));
            break;
          default:
            fail(code, `byte 0x${b.toString(16)} is not a MessagePack type`, pos); // 0xc1, never used
        }
      }
      if (stringBytes >= 0) {
        if (stringBytes > limits.maxStringBytes) fail(code, `string of ${stringBytes} bytes is over the limit of ${limits.maxStringBytes}`, start);
        if (isKey && stringBytes === 9 && isProtoKey(bytes, pos)) fail(code, "the key __proto__ is not allowed", start);
        pos += stringBytes;
      } else if (isKey) {
        fail(code, "a map key is not a string", start);
      }
      if (pos > end) fail(code, "message ends in the middle of a value", start);
      if (count >= 0) {
        if (depth === limits.maxDepth) fail(code, `nesting is deeper than the limit of ${limits.maxDepth}`, start);
        if (map) {
          if (count > limits.maxMapSize) fail(code, `map of ${count} entries is over the limit of ${limits.maxMapSize}`, start);
          if (count * 2 > end - pos) fail(code, `map of ${count} entries does not fit in the message`, start);
        } else {
          if (count > limits.maxArrayLength) fail(code, `array of ${count} elements is over the limit of ${limits.maxArrayLength}`, start);
          if (count > end - pos) fail(code, `array of ${count} elements does not fit in the message`, start);
        }
        if (count > 0) {
          left[depth] = remaining;
          isMap[depth] = inMap ? 1 : 0;
          depth++;
          remaining = map ? count * 2 : count;
          inMap = map;
          continue;
        }
      }
      while (remaining === 0) {
        if (depth === 0) {
          if (pos !== end) fail(code, `${end - pos} bytes follow the value`, pos);
          return;
        }
        depth--;
        remaining = left[depth]!;
        inMap = isMap[depth] === 1;
      }
    }
  }
}

/**
 * Bytes of each 0xc0–0xdf type's header (type byte plus length and extension-type fields): what must be
 * present before the header is read. A scalar's payload is checked after, with the position.
 */
const HEADER_BYTES = new Uint8Array(32).fill(1);
for (const [type, bytes] of [
  [0xc4, 2], [0xc5, 3], [0xc6, 5], // bin 8/16/32: length
  [0xc7, 3], [0xc8, 4], [0xc9, 6], // ext 8/16/32: length, type
  [0xd4, 2], [0xd5, 2], [0xd6, 2], [0xd7, 2], [0xd8, 2], // fixext 1–16: type
  [0xd9, 2], [0xda, 3], [0xdb, 5], // str 8/16/32: length
  [0xdc, 3], [0xdd, 5], [0xde, 3], [0xdf, 5], // array 16/32, map 16/32: count
] as const) {
  HEADER_BYTES[type - 0xc0] = bytes;
}

function checkExtension(code: ScanErrorCode, allowed: boolean, bytes: Uint8Array, typeAt: number): void {
  if (allowed) return;
  const type = (bytes[typeAt]! << 24) >> 24;
  fail(code, `extension type ${type} is not accepted (only timestamps)`, typeAt - 1);
}

const PROTO_KEY = new TextEncoder().encode("__proto__");

function isProtoKey(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 9; i++) if (bytes[at + i] !== PROTO_KEY[i]) return false;
  return true;
}

function readUint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

function fail(code: ScanErrorCode, message: string, offset: number): never {
  const prefix = code === "DECODE_ERROR" ? "payload refused" : "value can not be encoded";
  throw new KaffixError(code, `${prefix}: ${message} (at byte ${offset})`, { data: { offset } });
}
