// The practical limit in bench/compare.ts: bare framed TCP to bench/transport-peer.ts, as bench/cross-node.ts measures it.
//
// A plain `net` socket with Kaffix's frame layout and one write per tick (`BareLink`), no TLS, no
// acks, no routing. Publish is a one-way stream of payloads counted by the peer; request/reply is an
// echo. The sender is the bench process itself.

import { requestRun, report, type RunReport } from "./loops.js";
import { Kind, PeerProcess, tcpSystem, u32, within, type SinkReport, type System } from "./transport-peer.js";

export class BareTcp {
  readonly #peer: PeerProcess;
  readonly #system: System;
  readonly #payloadBytes: number;
  readonly #timeoutMs: number;

  private constructor(peer: PeerProcess, system: System, payloadBytes: number, timeoutMs: number) {
    this.#peer = peer;
    this.#system = system;
    this.#payloadBytes = payloadBytes;
    this.#timeoutMs = timeoutMs;
  }

  /** Spawns the peer and connects to it; resolves with the baseline and the milliseconds from spawn to the first echo. */
  static async start(token: string, payloadBytes: number, timeoutMs: number): Promise<{ bare: BareTcp; spawnToEchoMs: number }> {
    const spawned = performance.now();
    const peer = new PeerProcess(token, timeoutMs);
    try {
      const { tcpPort } = JSON.parse(await peer.nextLine()) as { tcpPort: number };
      const system = await within(tcpSystem(tcpPort), timeoutMs, "bare TCP connection", peer.exited);
      const bare = new BareTcp(peer, system, payloadBytes, timeoutMs);
      await within(bare.#call()(0, 0), timeoutMs, "first bare echo", peer.exited);
      return { bare, spawnToEchoMs: performance.now() - spawned };
    } catch (error) {
      await peer.stop();
      throw error;
    }
  }

  /** `n` payloads one way as fast as back-pressure allows, then an END; the clock stops at the peer's REPORT. */
  async stream(n: number): Promise<RunReport> {
    const { channel } = this.#system;
    const reported = new Promise<SinkReport>((resolve) => {
      this.#system.receive = (payload) => {
        if (payload[0] === Kind.REPORT) resolve(JSON.parse(Buffer.from(payload.buffer, payload.byteOffset + 1, payload.length - 1).toString()));
      };
    });
    const payload = Buffer.alloc(this.#payloadBytes, 0x2a);
    payload[0] = Kind.SINK;
    const started = performance.now();
    const work = (async () => {
      for (let i = 0; i < n; i++) {
        payload.writeUInt32BE(i, 1); // the link copies on send
        while (!channel.send(payload)) await channel.whenWritable();
      }
      while (!channel.send(Uint8Array.of(Kind.END))) await channel.whenWritable();
      return reported;
    })();
    const report = await within(work, this.#timeoutMs, `bare stream of ${n}`, this.#peer.exited);
    const seconds = (performance.now() - started) / 1000;
    if (report.count !== n || report.outOfOrder !== 0) throw new Error(`bare TCP: sent ${n}, the peer reported ${JSON.stringify(report)}`);
    return { seconds };
  }

  async requests(size: number, loops: number): Promise<RunReport> {
    return report(await within(requestRun(size, loops, this.#call()), this.#timeoutMs, `bare requests, ${size}`, this.#peer.exited));
  }

  gc(): Promise<void> {
    return this.#peer.gc();
  }

  async close(): Promise<void> {
    await this.#system.close();
    await this.#peer.stop();
  }

  /** One round trip per call: the payload carries the loop's slot and the number, the peer echoes it. */
  #call(): (slot: number, n: number) => Promise<void> {
    const waiting: (((payload: Uint8Array) => void) | undefined)[] = [];
    const payloads: Buffer[] = [];
    const system = this.#system;
    system.receive = (payload) => {
      const slot = u32(payload, 1);
      const resolve = waiting[slot];
      if (payload[0] !== Kind.REQUEST || resolve === undefined) throw new Error("bare TCP: an echo nobody waits for");
      waiting[slot] = undefined;
      resolve(payload);
    };
    return async (slot, n) => {
      const payload = (payloads[slot] ??= Buffer.alloc(this.#payloadBytes, 0x2a));
      payload[0] = Kind.REQUEST;
      payload.writeUInt32BE(slot, 1);
      payload.writeUInt32BE(n, 5);
      const echoed = new Promise<Uint8Array>((resolve) => (waiting[slot] = resolve));
      while (!system.channel.send(payload)) await system.channel.whenWritable();
      if (u32(await echoed, 5) !== n) throw new Error(`bare TCP: slot ${slot} got a wrong echo`);
    };
  }
}
