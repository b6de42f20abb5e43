// The delivery protocol's payloads: messages, copies and replies on the data lane; acks on the control lane.
//
// Every payload starts with its kind byte; all numbers are little-endian. A sequence number is a
// float64 holding an integer (unique per sending node for its lifetime, so 2^53 is never reached).
//
//   data lane
//   PUBLISH  kind seq:f64 floor:f64 svcLen:u8 svc [trace] body          a message; `floor`: every seq below
//   REQUEST  kind seq:f64 floor:f64 svcLen:u8 svc timeoutMs:u32 [trace] body   it that this sender sent here is done
//            kind | 0x80 (TRACED) when `trace` is there: traceId:16 spanId:8 flags:u8, the W3C trace
//            context of the sender's span (only while the sender has a tracer provider)
//   COPY     kind seq:f64 svcLen:u8 svc body                    hold this for me until I release it
//   RELEASE  kind count:u32 (first:f64 last:f64) × count         done with these copies
//   REPLY    kind seq:f64 ok:u8 body                              body: the value, or a WireError when !ok
//
//   control lane (first byte 0xc1, a byte MessagePack never starts with, so membership's payloads
//   share the lane without ambiguity)
//   ACK      0xc1 kind received:u32 done:u32 (first:f64 last:f64) × (received + done)
//   NACK     0xc1 kind seq:f64 body                               body: WireError (why it was refused)
//
// `body` is the rest of the payload: the message, codec-encoded, as the sender wrote it.

import { isValidSpanId, isValidTraceId, type SpanContext } from "@opentelemetry/api";
import { KaffixError, type WireError } from "../errors.js";
import { decode, encode } from "../wire/codec.js";

export const DataKind = { PUBLISH: 1, REQUEST: 2, COPY: 3, RELEASE: 4, REPLY: 5 } as const;
/** Set on a PUBLISH or REQUEST kind byte when a trace context follows the service id (and timeout). */
export const TRACED = 0x80;
const TRACE_BYTES = 25;
export const ControlKind = { ACK: 0x10, NACK: 0x11 } as const;
/** The first byte of every delivery payload on the control lane. */
export const CONTROL_MARK = 0xc1;
/** Longest service id on the wire, in UTF-8 bytes. */
export const MAX_SERVICE_ID_BYTES = 255;
/** Most ranges in one ACK or RELEASE: keeps each payload far below any frame limit. */
export const MAX_RANGES = 8192;

const serviceBytes = new Map<string, Buffer>();

function serviceIdBytes(serviceId: string): Buffer {
  let bytes = serviceBytes.get(serviceId);
  if (bytes === undefined) {
    bytes = Buffer.from(serviceId, "utf8");
    if (bytes.length > MAX_SERVICE_ID_BYTES) throw new KaffixError("INVALID_ARGUMENT", `service id "${serviceId}" is over ${MAX_SERVICE_ID_BYTES} bytes`);
    if (serviceBytes.size < 10_000) serviceBytes.set(serviceId, bytes);
  }
  return bytes;
}

/** A PUBLISH or REQUEST payload; `trace`, when given, is the context the receiver's handler span continues. */
export function encodeMessage(seq: number, floor: number, serviceId: string, body: Uint8Array, timeoutMs?: number, trace?: SpanContext): Buffer {
  const svc = serviceIdBytes(serviceId);
  const request = timeoutMs !== undefined;
  const traceAt = 18 + svc.length + (request ? 4 : 0);
  const head = traceAt + (trace === undefined ? 0 : TRACE_BYTES);
  const out = Buffer.allocUnsafe(head + body.length);
  out[0] = (request ? DataKind.REQUEST : DataKind.PUBLISH) | (trace === undefined ? 0 : TRACED);
  if (trace !== undefined) {
    out.write(trace.traceId, traceAt, 16, "hex");
    out.write(trace.spanId, traceAt + 16, 8, "hex");
    out[traceAt + 24] = trace.traceFlags & 0xff;
  }
  out.writeDoubleLE(seq, 1);
  out.writeDoubleLE(floor, 9);
  out[17] = svc.length;
  svc.copy(out, 18);
  if (request) out.writeUInt32LE(timeoutMs > 1 ? Math.min(Math.ceil(timeoutMs), 0xffffffff) : 1, 18 + svc.length); // NaN → 1
  out.set(body, head);
  return out;
}

export function encodeCopy(seq: number, serviceId: string, body: Uint8Array): Buffer {
  const svc = serviceIdBytes(serviceId);
  const out = Buffer.allocUnsafe(10 + svc.length + body.length);
  out[0] = DataKind.COPY;
  out.writeDoubleLE(seq, 1);
  out[9] = svc.length;
  svc.copy(out, 10);
  out.set(body, 10 + svc.length);
  return out;
}

export function encodeReply(seq: number, ok: boolean, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(10 + body.length);
  out[0] = DataKind.REPLY;
  out.writeDoubleLE(seq, 1);
  out[9] = ok ? 1 : 0;
  out.set(body, 10);
  return out;
}

/** Ranges of sequence numbers, [first, last] inclusive, as collected by {@link RangeList}. */
export type Ranges = readonly number[];

export function encodeRelease(ranges: Ranges): Buffer {
  const count = ranges.length / 2;
  const out = Buffer.allocUnsafe(5 + count * 16);
  out[0] = DataKind.RELEASE;
  out.writeUInt32LE(count, 1);
  for (let i = 0; i < ranges.length; i++) out.writeDoubleLE(ranges[i]!, 5 + i * 8);
  return out;
}

export function encodeAck(received: Ranges, done: Ranges): Buffer {
  const out = Buffer.allocUnsafe(10 + (received.length + done.length) * 8);
  out[0] = CONTROL_MARK;
  out[1] = ControlKind.ACK;
  out.writeUInt32LE(received.length / 2, 2);
  out.writeUInt32LE(done.length / 2, 6);
  let offset = 10;
  for (const value of received) offset = out.writeDoubleLE(value, offset);
  for (const value of done) offset = out.writeDoubleLE(value, offset);
  return out;
}

export function encodeNack(seq: number, error: WireError): Buffer {
  const body = encode(error);
  const out = Buffer.allocUnsafe(10 + body.length);
  out[0] = CONTROL_MARK;
  out[1] = ControlKind.NACK;
  out.writeDoubleLE(seq, 2);
  out.set(body, 10);
  return out;
}

export type DataFrame =
  | { kind: typeof DataKind.PUBLISH; seq: number; floor: number; serviceId: string; body: Uint8Array; trace?: SpanContext }
  | { kind: typeof DataKind.REQUEST; seq: number; floor: number; serviceId: string; timeoutMs: number; body: Uint8Array; trace?: SpanContext }
  | { kind: typeof DataKind.COPY; seq: number; serviceId: string; body: Uint8Array }
  | { kind: typeof DataKind.RELEASE; ranges: number[] }
  | { kind: typeof DataKind.REPLY; seq: number; ok: boolean; body: Uint8Array };

export type ControlFrame =
  | { kind: typeof ControlKind.ACK; received: number[]; done: number[] }
  | { kind: typeof ControlKind.NACK; seq: number; error: WireError };

function malformed(what: string): KaffixError {
  return new KaffixError("PROTOCOL_ERROR", `malformed delivery payload: ${what}`);
}

function readSeq(buffer: Buffer, offset: number): number {
  const seq = buffer.readDoubleLE(offset);
  if (!Number.isSafeInteger(seq) || seq < 0) throw malformed("sequence number is not a non-negative integer");
  return seq;
}

function readRanges(buffer: Buffer, offset: number, count: number): number[] {
  if (count > MAX_RANGES) throw malformed(`more than ${MAX_RANGES} ranges`);
  const out = new Array<number>(count * 2);
  for (let i = 0; i < count * 2; i++) out[i] = readSeq(buffer, offset + i * 8);
  for (let i = 0; i < out.length; i += 2) if (out[i]! > out[i + 1]!) throw malformed("a range ends before it starts");
  return out;
}

/** A remote span context; an invalid one (all-zero ids) is dropped rather than continued. */
function readTrace(buffer: Buffer, at: number): SpanContext | undefined {
  const traceId = buffer.toString("hex", at, at + 16);
  const spanId = buffer.toString("hex", at + 16, at + 24);
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId)) return undefined;
  return { traceId, spanId, traceFlags: buffer[at + 24]! & 0x01, isRemote: true };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads a data-lane payload. Bodies are views into `payload`; copy one before keeping it past the
 * call. Throws PROTOCOL_ERROR on anything malformed.
 */
export function decodeData(payload: Uint8Array): DataFrame {
  const buffer = asBuffer(payload);
  try {
    const first = buffer[0]!;
    const kind = first === (DataKind.PUBLISH | TRACED) || first === (DataKind.REQUEST | TRACED) ? first & ~TRACED : first;
    switch (kind) {
      case DataKind.PUBLISH:
      case DataKind.REQUEST: {
        if (buffer.length < 18) throw malformed("truncated");
        const seq = readSeq(buffer, 1);
        const floor = readSeq(buffer, 9);
        const svcEnd = 18 + buffer[17]!;
        const serviceId = buffer.toString("utf8", 18, svcEnd);
        const traceAt = kind === DataKind.PUBLISH ? svcEnd : svcEnd + 4;
        const bodyAt = first === kind ? traceAt : traceAt + TRACE_BYTES;
        if (bodyAt > buffer.length) throw malformed("truncated");
        const trace = first === kind ? undefined : readTrace(buffer, traceAt);
        if (kind === DataKind.PUBLISH) {
          return trace === undefined
            ? { kind, seq, floor, serviceId, body: buffer.subarray(bodyAt) }
            : { kind, seq, floor, serviceId, body: buffer.subarray(bodyAt), trace };
        }
        const timeoutMs = buffer.readUInt32LE(svcEnd);
        return trace === undefined
          ? { kind, seq, floor, serviceId, timeoutMs, body: buffer.subarray(bodyAt) }
          : { kind, seq, floor, serviceId, timeoutMs, body: buffer.subarray(bodyAt), trace };
      }
      case DataKind.COPY: {
        if (buffer.length < 10) throw malformed("truncated");
        const seq = readSeq(buffer, 1);
        const svcEnd = 10 + buffer[9]!;
        if (svcEnd > buffer.length) throw malformed("truncated");
        return { kind, seq, serviceId: buffer.toString("utf8", 10, svcEnd), body: buffer.subarray(svcEnd) };
      }
      case DataKind.RELEASE: {
        const count = buffer.readUInt32LE(1);
        if (5 + count * 16 !== buffer.length) throw malformed("RELEASE length does not match its count");
        return { kind, ranges: readRanges(buffer, 5, count) };
      }
      case DataKind.REPLY:
        if (buffer.length < 10) throw malformed("truncated");
        return { kind, seq: readSeq(buffer, 1), ok: buffer[9] === 1, body: buffer.subarray(10) };
      default:
        throw malformed(`unknown data kind ${String(kind)}`);
    }
  } catch (error) {
    if (error instanceof KaffixError) throw error;
    throw malformed("truncated"); // a read past the end (RangeError)
  }
}

/** True when a control-lane payload belongs to the delivery protocol (and not to membership). */
export function isDeliveryControl(payload: Uint8Array): boolean {
  return payload[0] === CONTROL_MARK;
}

export function decodeControl(payload: Uint8Array): ControlFrame {
  const buffer = asBuffer(payload);
  try {
    if (buffer[0] !== CONTROL_MARK) throw malformed("not a delivery control payload");
    const kind = buffer[1];
    if (kind === ControlKind.ACK) {
      const received = buffer.readUInt32LE(2);
      const done = buffer.readUInt32LE(6);
      if (10 + (received + done) * 16 !== buffer.length) throw malformed("ACK length does not match its counts");
      return { kind, received: readRanges(buffer, 10, received), done: readRanges(buffer, 10 + received * 16, done) };
    }
    if (kind === ControlKind.NACK) {
      const seq = readSeq(buffer, 2);
      return { kind, seq, error: decodeWireError(buffer.subarray(10)) };
    }
    throw malformed(`unknown control kind ${String(kind)}`);
  } catch (error) {
    if (error instanceof KaffixError) throw error;
    throw malformed("truncated");
  }
}

/** A WireError from its codec bytes; anything else becomes a PROTOCOL_ERROR. */
export function decodeWireError(body: Uint8Array): WireError {
  let value: Partial<WireError> | null;
  try {
    value = decode(body) as Partial<WireError> | null;
  } catch (error) {
    throw new KaffixError("PROTOCOL_ERROR", "malformed delivery payload: error body is not MessagePack", { cause: error });
  }
  if (value === null || typeof value !== "object" || typeof value.code !== "string" || typeof value.message !== "string") {
    throw malformed("error body is not a WireError");
  }
  const wire: WireError = { code: value.code, message: value.message, retryable: value.retryable === true };
  if (value.data !== undefined) wire.data = value.data;
  return wire;
}

/**
 * Collects sequence numbers into [first, last] ranges; consecutive numbers added in order share one
 * range, so an in-order stream of acks costs 16 bytes per batch.
 */
export class RangeList {
  #ranges: number[] = [];

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /** Ranges held; at most {@link MAX_RANGES}, the caller flushes before that. */
  get count(): number {
    return this.#ranges.length / 2;
  }

  add(seq: number): void {
    const ranges = this.#ranges;
    const n = ranges.length;
    if (n > 0 && ranges[n - 1] === seq - 1) ranges[n - 1] = seq;
    else ranges.push(seq, seq);
  }

  /** The ranges collected so far; the list starts empty again. */
  take(): number[] {
    const ranges = this.#ranges;
    this.#ranges = [];
    return ranges;
  }
}

/**
 * Calls `fn` with each key of `held` that lies in one of `ranges`. Costs at most the smaller of the
 * ranges' width and the map's size per range, so a peer's huge range cannot stall the node.
 */
export function forEachInRanges<V>(ranges: Ranges, held: ReadonlyMap<number, V>, fn: (seq: number, value: V) => void): void {
  for (let i = 0; i < ranges.length; i += 2) {
    const first = ranges[i]!;
    const last = ranges[i + 1]!;
    if (last - first + 1 <= held.size) {
      for (let seq = first; seq <= last; seq++) {
        const value = held.get(seq);
        if (value !== undefined) fn(seq, value);
      }
    } else {
      for (const [seq, value] of held) if (seq >= first && seq <= last) fn(seq, value);
    }
  }
}
