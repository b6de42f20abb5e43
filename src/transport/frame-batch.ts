// Frames queued for one write: encoded straight into reusable blocks, so a batch of small sends costs one copy each.

import { FRAME_HEADER_BYTES, writeFrameHeader, type FrameType } from "../wire/frame.js";

/** Size of a fresh block; a larger frame gets a block of its own size. */
const BLOCK_BYTES = 64 * 1024;

/**
 * An append-only run of encoded frames. `take()` hands out the bytes appended since the last take; the
 * space after them in the current block is used by the next frames, which is safe because a taken
 * region is never written again.
 */
export class FrameBatch {
  /** Full blocks not yet taken, each already cut to its frames. */
  #full: Buffer[] = [];
  #block: Buffer = Buffer.alloc(0);
  /** Where the untaken part of `#block` starts and ends. */
  #start = 0;
  #end = 0;
  #bytes = 0;

  /** Bytes appended and not yet taken. */
  get bytes(): number {
    return this.#bytes;
  }

  append(type: FrameType, payload: Uint8Array): void {
    const size = FRAME_HEADER_BYTES + payload.length;
    if (this.#block.length - this.#end < size) {
      if (this.#end > this.#start) this.#full.push(this.#block.subarray(this.#start, this.#end));
      this.#block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
      this.#start = this.#end = 0;
    }
    writeFrameHeader(this.#block, this.#end, type, payload.length);
    this.#block.set(payload, this.#end + FRAME_HEADER_BYTES);
    this.#end += size;
    this.#bytes += size;
  }

  /** Moves the untaken bytes, in order, onto `out`. */
  takeInto(out: Buffer[]): void {
    for (const part of this.#full) out.push(part);
    if (this.#end > this.#start) out.push(this.#block.subarray(this.#start, this.#end));
    this.#full = [];
    this.#start = this.#end;
    this.#bytes = 0;
  }

  /**
   * Like `takeInto`, but stops once `budget` bytes are taken (whole blocks only, at least one), so a
   * backlog of bulk data enters the socket a little at a time and control frames can pass it.
   */
  takeUpTo(out: Buffer[], budget: number): void {
    let taken = 0;
    while (this.#full.length > 0 && (taken === 0 || taken < budget)) {
      const part = this.#full.shift()!;
      out.push(part);
      taken += part.length;
    }
    if (taken < budget || taken === 0) {
      if (this.#end > this.#start) out.push(this.#block.subarray(this.#start, this.#end));
      taken += this.#end - this.#start;
      this.#start = this.#end;
    }
    this.#bytes -= taken;
  }

  /** Forgets what was appended and lets go of the blocks. */
  clear(): void {
    this.#full = [];
    this.#block = Buffer.alloc(0);
    this.#start = this.#end = this.#bytes = 0;
  }
}
