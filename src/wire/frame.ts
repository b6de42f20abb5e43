// The frame: the unit every Kaffix connection carries, its byte layout, and a reader that survives any input.
//
// Byte layout of one frame (all integers big-endian):
//
//   offset  size  field
//   ──────  ────  ──────────────────────────────────────────────────────────────────────
//   0       4     length   uint32: bytes that follow this field (1 + payload), 1 ≤ length ≤ max + 1
//   4       1     type     FrameType: what the payload is (see below)
//   5       n     payload  n = length − 1 bytes; its format depends on the type
//
// The length is checked against the reader's maximum as soon as its 4 bytes have arrived, before any
// of the frame is buffered, so a hostile length prefix costs nothing.

import { KaffixError } from "../errors.js";

export const FrameType = {
  /** First frame each side sends after TLS: who I am (payload: codec-encoded Hello). */
  HELLO: 1,
  /** Sent instead of or after HELLO when the peer is refused (payload: UTF-8 reason); then close. */
  REFUSE: 2,
  /** Control lane: membership probes, acks (payload: opaque to the transport). Written before DATA. */
  CONTROL: 3,
  /** Data lane: application messages (payload: opaque to the transport). */
  DATA: 4,
  /** Liveness on an idle link (payload: empty). */
  PING: 5,
  /** Answer to PING (payload: empty). */
  PONG: 6,
  /** Orderly close (payload: UTF-8 reason). */
  GOODBYE: 7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Bytes before the payload: the length field and the type byte. */
export const FRAME_HEADER_BYTES = 5;
/** Largest payload a reader accepts by default. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Encodes one frame into a new buffer. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length + 1, 0);
  frame[4] = type;
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Writes one frame's header into `target` at `offset`; the caller copies the payload after it. */
export function writeFrameHeader(target: Buffer, offset: number, type: FrameType, payloadLength: number): void {
  target.writeUInt32BE(payloadLength + 1, offset);
  target[offset + 4] = type;
}

/**
 * Turns a byte stream, cut anywhere, into frames. Holds at most one frame's bytes (≤ max + 5) at a
 * time. A length of 0 or over the maximum throws PROTOCOL_ERROR; after that the reader is unusable
 * and the connection should be closed. An error thrown by `onFrame` leaves `push` too, but loses no
 * bytes: the rest of that chunk is kept (so the bound becomes max + 5 + chunk) and its frames are
 * delivered by the next push.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #onFrame: (type: number, payload: Buffer) => void;
  /** Bytes received but not yet part of a whole frame; never more than one frame's worth. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Length of the frame being assembled (from its prefix), or -1 while the prefix is incomplete. */
  #expected = -1;
  #failed = false;

  /** `maxFrameBytes` is the largest payload accepted; `onFrame` gets views into the received bytes. */
  constructor(maxFrameBytes: number, onFrame: (type: number, payload: Buffer) => void) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 0xffffffff) {
      throw new RangeError(`maxFrameBytes must be an integer from 1 to 2^32-1, got ${maxFrameBytes}`);
    }
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Buffer): void {
    if (this.#failed) throw new KaffixError("PROTOCOL_ERROR", "frame reader used after a protocol error");
    let offset = 0;
    // Fast path: whole frames directly in this chunk, no copying.
    if (this.#pendingBytes === 0) {
      try {
        while (chunk.length - offset >= 4) {
          const length = this.#check(chunk.readUInt32BE(offset));
          if (chunk.length - offset - 4 < length) break;
          const start = offset + 4;
          offset = start + length;
          this.#onFrame(chunk[start]!, chunk.subarray(start + 1, offset));
        }
      } catch (error) {
        // onFrame threw: keep the bytes after its frame, or the next push would start mid-frame.
        if (!this.#failed && offset < chunk.length) {
          this.#pending = [chunk.subarray(offset)];
          this.#pendingBytes = chunk.length - offset;
        }
        throw error;
      }
      if (offset === chunk.length) return;
      chunk = offset === 0 ? chunk : chunk.subarray(offset);
    }
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    this.#drainPending();
  }

  #drainPending(): void {
    for (;;) {
      if (this.#expected < 0) {
        if (this.#pendingBytes < 4) return;
        this.#expected = this.#check(this.#peekLength());
      }
      if (this.#pendingBytes < 4 + this.#expected) return;
      const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
      const end = 4 + this.#expected;
      this.#expected = -1;
      const rest = all.subarray(end);
      this.#pending = rest.length > 0 ? [rest] : [];
      this.#pendingBytes = rest.length;
      this.#onFrame(all[4]!, all.subarray(5, end));
      if (this.#pendingBytes === 0) return;
      // Whatever follows may hold several whole frames: hand it back to the fast path.
      const next = this.#pending[0]!;
      this.#pending = [];
      this.#pendingBytes = 0;
      this.push(next);
      return;
    }
  }

  #peekLength(): number {
    const first = this.#pending[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.concat(this.#pending, this.#pendingBytes).subarray(0, 4);
    return head.readUInt32BE(0);
  }

  #check(length: number): number {
    if (length === 0 || length > this.#maxFrameBytes + 1) {
      this.#failed = true;
      throw new KaffixError(
        "PROTOCOL_ERROR",
        length === 0 ? "frame with length 0" : `frame of ${length} bytes is over the limit of ${this.#maxFrameBytes}`,
        { data: { length, maxFrameBytes: this.#maxFrameBytes } },
      );
    }
    return length;
  }
}
