// Both ends of what bench/transport.ts measures: the TLS and bare TCP links, and the peer process that receives on them.
//
// The parent (bench/transport.ts) starts this file as a child process with `PeerProcess`. The child
// derives the key from KAFFIX_BENCH_TOKEN once, listens on 127.0.0.1 (a TlsTransport and a plain
// `net` server, both on free ports), prints one JSON line `{"tlsPort":…,"tcpPort":…}` and then obeys
// its stdin, one command a line:
//
//   gc     → runs a full garbage collection, answers "gc" on stdout
//
// It exits as soon as its stdin ends, which is also what happens when the parent dies. The parent
// connects with `tlsSystem` and `tcpSystem`; both ends of a system run the same code over a `Channel`.

import { spawn, type ChildProcess } from "node:child_process";
import { connect as netConnect, createServer, type AddressInfo, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { pino } from "pino";
import { PROTOCOL_VERSION } from "../src/transport/hello.js";
import { derivePsk } from "../src/transport/psk.js";
import { TlsTransport } from "../src/transport/tls-transport.js";
import { DEFAULT_TRANSPORT_LIMITS, type Hello } from "../src/transport/transport.js";
import { DEFAULT_MAX_FRAME_BYTES, FrameReader, FrameType, FRAME_HEADER_BYTES, writeFrameHeader } from "../src/wire/frame.js";
import { collectGarbage } from "./harness.js";

/**
 * What a bench payload is, in its first byte. The bytes after it:
 *
 *   SINK     u32 sequence number (from 0 per run), then filler: counted, checked for order
 *   REQUEST  u32 slot, u32 sequence number, then filler: echoed unchanged
 *   END      nothing: ends a run of SINKs; answered with a REPORT
 *   REPORT   JSON of a SinkReport (peer → parent only)
 */
export const Kind = { SINK: 1, REQUEST: 2, END: 3, REPORT: 4 } as const;

export interface SinkReport {
  count: number;
  /** Payload bytes, headers not included. */
  bytes: number;
  /** SINKs whose sequence number was not the one expected: lost, duplicated or reordered messages. */
  outOfOrder: number;
}

const TOKEN_ENV = "KAFFIX_BENCH_TOKEN";
/** The peer gives up on its own after this long, whatever its parent does. */
const LIFETIME_MS = 10 * 60_000;

/** What both ends need of a link: send with back-pressure, as `Link` has it, on one lane. */
export interface Channel {
  /** Queues `payload` (copied) for this tick's write; false when the queue is full and nothing was queued. */
  send(payload: Uint8Array): boolean;
  /** Resolves when `send` may succeed again. */
  whenWritable(): Promise<void>;
}

/** Reads a big-endian u32 from a payload that may be any Uint8Array view. */
export function u32(payload: Uint8Array, offset: number): number {
  return ((payload[offset]! << 24) | (payload[offset + 1]! << 16) | (payload[offset + 2]! << 8) | payload[offset + 3]!) >>> 0;
}

// ── The systems under test ──────────────────────────────────────────────────────────────────────

/** Size of a fresh block of outgoing frames; a larger frame gets a block of its own size. */
const BLOCK_BYTES = 64 * 1024;

/**
 * The baseline: Kaffix frames on a plain `net` socket, written the way a hand-tuned sender would and
 * with what FramedLink does on the hot path and nothing else. Frames are encoded straight into
 * reusable blocks (`writeFrameHeader` and a copy of the payload: one copy per message, no allocation),
 * frames sent within one tick leave in one `socket.write`, and the same queue bound and low-water
 * mark decide when `send` says no. `FrameReader` parses what comes in. No TLS, lanes, heartbeats or
 * close protocol.
 */
export class BareLink implements Channel {
  // Fixed after construction.
  readonly #socket: Socket;
  readonly #maxQueuedBytes = DEFAULT_TRANSPORT_LIMITS.maxQueuedBytes;

  // Mutable state: full blocks waiting for the flush, and the untaken part [start, end) of the current one.
  #full: Buffer[] = [];
  #block = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  #queuedBytes = 0;
  #flushScheduled = false;
  #waiters: (() => void)[] = [];

  constructor(socket: Socket, onPayload: (payload: Buffer) => void) {
    this.#socket = socket;
    const reader = new FrameReader(DEFAULT_MAX_FRAME_BYTES, (_type, payload) => onPayload(payload));
    socket.on("data", (chunk: Buffer) => reader.push(chunk));
    socket.on("drain", this.#wake);
  }

  send(payload: Uint8Array): boolean {
    const size = FRAME_HEADER_BYTES + payload.length;
    const queued = this.#queuedBytes + this.#socket.writableLength;
    if (queued > 0 && queued + size > this.#maxQueuedBytes) return false;
    if (this.#block.length - this.#end < size) {
      if (this.#end > this.#start) this.#full.push(this.#block.subarray(this.#start, this.#end));
      this.#block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
      this.#start = this.#end = 0;
    }
    writeFrameHeader(this.#block, this.#end, FrameType.DATA, payload.length);
    this.#block.set(payload, this.#end + FRAME_HEADER_BYTES);
    this.#end += size;
    this.#queuedBytes += size;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
    return true;
  }

  whenWritable(): Promise<void> {
    if (!this.#overLowWater()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#queuedBytes === 0 || this.#socket.destroyed) return;
    const current = this.#block.subarray(this.#start, this.#end);
    const bytes = this.#full.length === 0 ? current : Buffer.concat([...this.#full, current], this.#queuedBytes);
    this.#full = [];
    this.#start = this.#end; // a taken region is never written again: the socket may still hold it
    this.#queuedBytes = 0;
    this.#socket.write(bytes, this.#wake);
  };

  readonly #wake = (): void => {
    if (this.#overLowWater()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  };

  #overLowWater(): boolean {
    return this.#queuedBytes + this.#socket.writableLength > this.#maxQueuedBytes / 2;
  }
}

function benchHello(nodeId: string): Hello {
  return { protocol: PROTOCOL_VERSION, app: "kaffix-bench", nodeId, incarnation: 1, address: "", services: {} };
}

export interface System {
  id: "tls" | "tcp";
  label: string;
  channel: Channel;
  /** Where the peer's payloads (REPORTs and echoes) go; each run installs its own. */
  receive: (payload: Uint8Array) => void;
  close(): Promise<void>;
}

export async function tlsSystem(token: string, port: number): Promise<System> {
  const psk = await derivePsk(token); // once, before anything is timed
  const transport = new TlsTransport({
    hello: benchHello("bench-sender"),
    tokens: [token],
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    derivePsk: () => Promise.resolve(psk),
  });
  const link = await transport.connect(`127.0.0.1:${port}`);
  const system: System = {
    id: "tls",
    label: "TlsTransport link, DATA lane",
    channel: { send: (payload) => link.send("data", payload), whenWritable: () => link.whenWritable() },
    receive: () => {},
    close: () => transport.close(),
  };
  link.onMessage((_lane, payload) => system.receive(payload));
  return system;
}

export async function tcpSystem(port: number): Promise<System> {
  const socket = netConnect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {}); // the peer going away at the end is not news; a run that needs it times out
  const system: System = {
    id: "tcp",
    label: "bare framed TCP: net, frames written into blocks, FrameReader",
    channel: new BareLink(socket, (payload) => system.receive(payload)),
    receive: () => {},
    close: async () => {
      socket.destroy();
    },
  };
  return system;
}

// ── The peer process ────────────────────────────────────────────────────────────────────────────

/** The child that receives: started once, told to collect garbage between runs, ended by closing its stdin. */
export class PeerProcess {
  readonly #child: ChildProcess;
  readonly #timeoutMs: number;
  readonly #lines: string[] = [];
  #lineWaiter: (() => void) | undefined;
  /** Rejects when the child exits; every run races against it. */
  readonly exited: Promise<never>;

  /** `timeoutMs` bounds each wait for an answer on its stdout. */
  constructor(token: string, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    const execArgv = process.execArgv.some((arg) => arg.includes("tsx")) ? process.execArgv : ["--import", "tsx", ...process.execArgv];
    this.#child = spawn(process.execPath, [...execArgv, fileURLToPath(import.meta.url)], {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, [TOKEN_ENV]: token }, // not on the command line, where `ps` shows it
    });
    this.exited = new Promise<never>((_, reject) => {
      this.#child.once("exit", (code, signal) => reject(new Error(`bench peer exited (code ${code}, signal ${signal})`)));
      this.#child.once("error", reject);
    });
    this.exited.catch(() => {});
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      this.#lines.push(line);
      this.#lineWaiter?.();
    });
  }

  async nextLine(): Promise<string> {
    while (this.#lines.length === 0) {
      const line = new Promise<void>((resolve) => (this.#lineWaiter = resolve));
      await within(line, this.#timeoutMs, "waiting for the peer", this.exited);
    }
    this.#lineWaiter = undefined;
    return this.#lines.shift()!;
  }

  async gc(): Promise<void> {
    this.#child.stdin!.write("gc\n");
    const line = await this.nextLine();
    if (line !== "gc") throw new Error(`bench peer: expected "gc", got ${JSON.stringify(line)}`);
  }

  /** Closes its stdin (it exits and writes a profile if asked to), then kills it if it lingers. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await gone;
    clearTimeout(timer);
  }
}

/** `work`, or a rejection after `timeoutMs` or as soon as `failure` rejects (the peer died): nothing can hang. */
export async function within<T>(work: Promise<T>, timeoutMs: number, what: string, failure: Promise<never>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout, failure]);
  } finally {
    clearTimeout(timer);
  }
}

/** The peer's side of one link: counts SINKs until an END, echoes REQUESTs. Identical for both systems. */
function receiver(channel: Channel): (payload: Uint8Array) => void {
  let report: SinkReport = { count: 0, bytes: 0, outOfOrder: 0 };
  /** Echoes waiting for room, oldest first; while any wait, new ones queue behind them to keep the order. */
  const backlog: Uint8Array[] = [];
  const drainBacklog = async (): Promise<void> => {
    while (backlog.length > 0) {
      await channel.whenWritable();
      while (backlog.length > 0 && channel.send(backlog[0]!)) backlog.shift();
    }
  };
  const reply = (payload: Uint8Array): void => {
    if (backlog.length === 0 && channel.send(payload)) return;
    backlog.push(payload); // both links hand out views the receiver may keep
    if (backlog.length === 1) void drainBacklog();
  };
  return (payload) => {
    switch (payload[0]) {
      case Kind.SINK:
        if (u32(payload, 1) !== report.count) report.outOfOrder++;
        report.count++;
        report.bytes += payload.length;
        return;
      case Kind.REQUEST:
        reply(payload);
        return;
      case Kind.END: {
        const json = Buffer.from(JSON.stringify(report));
        const out = Buffer.allocUnsafe(1 + json.length);
        out[0] = Kind.REPORT;
        json.copy(out, 1);
        reply(out);
        report = { count: 0, bytes: 0, outOfOrder: 0 };
        return;
      }
      default:
        throw new Error(`bench peer: unknown payload kind ${payload[0]}`);
    }
  };
}

async function main(): Promise<void> {
  setTimeout(() => {
    console.error(`bench peer: still alive after ${LIFETIME_MS / 1000} s; exiting`);
    process.exit(1);
  }, LIFETIME_MS).unref();
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));

  const token = process.env[TOKEN_ENV];
  if (token === undefined || token === "") throw new Error(`bench peer: ${TOKEN_ENV} is not set`);
  const psk = await derivePsk(token); // once, before anything is timed
  const transport = new TlsTransport({
    hello: benchHello("bench-peer"),
    tokens: [token],
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    derivePsk: () => Promise.resolve(psk),
  });
  transport.onLink((link) => {
    const onPayload = receiver({ send: (payload) => link.send("data", payload), whenWritable: () => link.whenWritable() });
    link.onMessage((_lane, payload) => onPayload(payload));
  });
  const tlsPort = await transport.listen();

  const server = createServer((socket) => {
    socket.on("error", (error) => console.error(`bench peer: bare socket failed: ${error.message}`));
    let onPayload: (payload: Uint8Array) => void = () => {};
    const link = new BareLink(socket, (payload) => onPayload(payload));
    onPayload = receiver(link);
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const tcpPort = (server.address() as AddressInfo).port;

  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line === "gc") {
      collectGarbage();
      process.stdout.write("gc\n");
    }
  });
  process.stdout.write(`${JSON.stringify({ tlsPort, tcpPort })}\n`);
}

// bench/transport.ts imports this file for the systems and PeerProcess; only the child process runs main().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error("bench peer crashed:", error);
    process.exit(1);
  });
}
