// One side of an in-process link: what it sends waits in its delivery queue until the peer's handler has it.
//
// What it guarantees (batches, copies, frame and queue bounds, back-pressure) is listed atop in-process-transport.ts.

import { KaffixError } from "../errors.js";
import type { TimerHandle } from "../clock.js";
import { FRAME_HEADER_BYTES } from "../wire/frame.js";
import type { InProcessWire } from "./in-process-network.js";
import type { Hello, Lane, Link, TransportLimits } from "./transport.js";
import { LinkEvents } from "./link-events.js";
import { rethrowLater } from "./rethrow-later.js";

interface LinkOptions {
  remote: Hello;
  outbound: boolean;
  localAddress: string;
  limits: TransportLimits;
  /** Takes the link out of its transport's `links`. */
  forget: (link: InProcessLink) => void;
}

interface Queued {
  payload: Uint8Array;
  dueMs: number;
}

/** What was sent in this turn of the event loop: one "write". */
interface Batch {
  control: Uint8Array[];
  data: Uint8Array[];
  goodbye: string | undefined;
}

/**
 * One side of a pair of links. Each side owns the traffic toward its peer, from `send` until the
 * peer's handler has it; that traffic counts against this side's maxQueuedBytes.
 */
export class InProcessLink implements Link {
  // Fixed after construction.
  readonly remote: Hello;
  readonly #events: LinkEvents;
  readonly outbound: boolean;
  readonly #wire: InProcessWire;
  readonly #localAddress: string;
  readonly #limits: TransportLimits;
  readonly #forget: (link: InProcessLink) => void;
  #peer!: InProcessLink;

  // Toward the peer.
  #batch: Batch | undefined;
  #control: Queued[] = [];
  #data: Queued[] = [];
  #goodbye: { reason: string; dueMs: number } | undefined;
  #queuedBytes = 0;
  #lastDueMs = -Infinity;
  #timer: TimerHandle | undefined;
  #pumping = false;

  // From the peer.
  #handler: ((lane: Lane, payload: Uint8Array) => void) | undefined;

  // Lifecycle.
  #closeReason: string | undefined;
  #idleTimer: TimerHandle | undefined;
  /** The peer went away behind a partition: this side learns it when the partition heals. */
  #peerLost = false;

  constructor(wire: InProcessWire, options: LinkOptions) {
    this.#wire = wire;
    this.remote = options.remote;
    this.#events = new LinkEvents(options.remote.nodeId);
    this.outbound = options.outbound;
    this.#localAddress = options.localAddress;
    this.#limits = options.limits;
    this.#forget = options.forget;
  }

  static pair(a: InProcessLink, b: InProcessLink): void {
    a.#peer = b;
    b.#peer = a;
  }

  get peer(): InProcessLink {
    return this.#peer;
  }

  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  send(lane: Lane, payload: Uint8Array): boolean {
    if (this.#closeReason !== undefined) throw this.#events.closedError();
    if (lane !== "control" && lane !== "data") throw new KaffixError("INVALID_ARGUMENT", `unknown lane "${String(lane)}"`);
    const { maxQueuedBytes } = this.#limits;
    const maxFrameBytes = Math.min(this.#limits.maxFrameBytes, this.remote.maxFrameBytes ?? Infinity);
    if (payload.length > maxFrameBytes) {
      throw new KaffixError("INVALID_ARGUMENT", `payload of ${payload.length} bytes is over maxFrameBytes (${maxFrameBytes}, the smaller of the two nodes' limits)`);
    }
    if (this.#wire.drops(lane)) return true; // lost on the way, as the sender cannot tell
    const size = FRAME_HEADER_BYTES + payload.length;
    if (this.#queuedBytes > 0 && this.#queuedBytes + size > maxQueuedBytes) return false;
    this.#queuedBytes += size;
    this.#openBatch()[lane].push(new Uint8Array(payload)); // a copy: the caller may reuse its buffer
    return true;
  }

  whenWritable(): Promise<void> {
    if (this.#closeReason !== undefined) return Promise.reject(this.#events.closedError());
    if (!this.#overLowWater()) return Promise.resolve();
    return this.#events.waitWritable();
  }

  onMessage(handler: (lane: Lane, payload: Uint8Array) => void): void {
    this.#handler = handler;
    if (this.#closeReason === undefined) this.#peer.pump(); // what waited for a receiver
  }

  onClose(handler: (reason: string) => void): void {
    this.#events.onClose(handler);
  }

  /** Says goodbye after everything already sent; the peer closes when the goodbye reaches it. */
  close(reason: string): void {
    if (this.#closeReason !== undefined) return;
    this.#openBatch().goodbye = reason;
    this.#finish(reason);
  }

  /** Closes at once, dropping what is queued both ways; the peer hears a reset unless a partition hides it. */
  abort(reason: string, peerReason: string): void {
    this.#lose(reason);
    const peer = this.#peer;
    if (peer.closed) return;
    if (this.#wire.reachable(this.#localAddress, this.remote.address)) peer.#lose(peerReason);
    else peer.#peerLost = true;
  }

  /** A partition began: unless it heals first, this side gives up after its idle timeout. */
  partitioned(): void {
    if (this.#closeReason !== undefined || this.#idleTimer !== undefined) return;
    const { idleTimeoutMs } = this.#limits;
    this.#idleTimer = this.#wire.clock.setTimeout(() => {
      this.#idleTimer = undefined;
      if (!this.#wire.reachable(this.#localAddress, this.remote.address)) this.abort(`peer silent for ${idleTimeoutMs} ms`, "connection reset by peer");
    }, idleTimeoutMs);
  }

  healed(): void {
    this.#clearIdleTimer();
    if (this.#peerLost) this.#lose("connection reset by peer");
    else this.pump();
  }

  /** Hands the peer what is due: control before data, the goodbye last; stops where the network holds back. */
  pump(): void {
    if (this.#pumping) return; // a handler that sends or reads re-enters; the outer loop carries on
    this.#pumping = true;
    try {
      this.#pumpDue();
    } finally {
      this.#pumping = false;
    }
  }

  #pumpDue(): void {
    const peer = this.#peer;
    const { clock } = this.#wire;
    for (;;) {
      if (peer.closed) return this.#dropOutgoing();
      if (!this.#wire.canDeliver(this.#localAddress, this.remote.address)) return;
      const now = clock.now();
      const queue = dueHead(this.#control, now) ? this.#control : dueHead(this.#data, now) ? this.#data : undefined;
      if (queue === undefined) {
        const nextDueMs = Math.min(this.#control[0]?.dueMs ?? Infinity, this.#data[0]?.dueMs ?? Infinity);
        if (nextDueMs !== Infinity) return this.#wakeAt(nextDueMs);
        const goodbye = this.#goodbye;
        if (goodbye === undefined) return;
        if (goodbye.dueMs > now) return this.#wakeAt(goodbye.dueMs);
        this.#goodbye = undefined;
        return peer.#closedByPeer(goodbye.reason);
      }
      if (peer.#handler === undefined) return;
      const { payload } = queue.shift()!;
      this.#queuedBytes -= FRAME_HEADER_BYTES + payload.length;
      if (payload.length > peer.#limits.maxFrameBytes) {
        return peer.close(`protocol error: frame of ${payload.length + 1} bytes is over the limit of ${peer.#limits.maxFrameBytes}`);
      }
      this.#wakeWaiters();
      peer.#receive(queue === this.#control ? "control" : "data", payload);
    }
  }

  #receive(lane: Lane, payload: Uint8Array): void {
    try {
      this.#handler!(lane, payload);
    } catch (error) {
      rethrowLater(error); // a throwing handler is a bug in it, not a reason to stop the link
    }
  }

  #openBatch(): Batch {
    if (this.#batch === undefined) {
      this.#batch = { control: [], data: [], goodbye: undefined };
      setImmediate(() => this.#seal());
    }
    return this.#batch;
  }

  #seal(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    const delayMs = this.#wire.delayMs(this.#localAddress, this.remote.address);
    const dueMs = (this.#lastDueMs = Math.max(this.#lastDueMs, this.#wire.clock.now() + delayMs));
    for (const payload of batch.control) this.#control.push({ payload, dueMs });
    for (const payload of batch.data) this.#data.push({ payload, dueMs });
    if (batch.goodbye !== undefined) this.#goodbye = { reason: batch.goodbye, dueMs };
    this.pump();
  }

  #wakeAt(dueMs: number): void {
    if (this.#timer !== undefined) return; // set for the earliest due already: dues never go back
    const { clock } = this.#wire;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.pump();
    }, dueMs - clock.now());
  }

  #overLowWater(): boolean {
    return this.#queuedBytes > this.#limits.maxQueuedBytes / 2;
  }

  #wakeWaiters(): void {
    if (!this.#events.hasWriters || this.#overLowWater()) return;
    this.#events.wakeWriters();
  }

  #closedByPeer(reason: string): void {
    if (this.#closeReason !== undefined) return;
    this.#dropOutgoing();
    this.#finish(`closed by peer: ${reason}`);
  }

  /** Closes this side alone, without a word to the peer. */
  #lose(reason: string): void {
    this.#dropOutgoing();
    if (this.#closeReason === undefined) this.#finish(reason);
  }

  #dropOutgoing(): void {
    this.#batch = undefined;
    this.#control = [];
    this.#data = [];
    this.#goodbye = undefined;
    this.#queuedBytes = 0;
    if (this.#timer !== undefined) this.#wire.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer !== undefined) this.#wire.clock.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #finish(reason: string): void {
    this.#closeReason = reason;
    this.#clearIdleTimer();
    this.#forget(this);
    this.#events.closed(reason);
  }
}

function dueHead(queue: Queued[], now: number): boolean {
  const head = queue[0];
  return head !== undefined && head.dueMs <= now;
}
