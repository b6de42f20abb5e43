// The in-process transport: the shared contract, then the network's faults under a manual clock.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KaffixError } from "../errors.js";
import { ManualClock, settle } from "../testing/manual-clock.js";
import { PROTOCOL_VERSION } from "./hello.js";
import { InProcessNetwork, type InProcessTransport } from "./in-process-transport.js";
import { transportContract } from "./transport-contract.test-support.js";
import type { Hello, Lane, Link, TransportLimits } from "./transport.js";
import { seededRandom } from "../testing/seeded-random.js";

transportContract("in-process", () => {
  const network = new InProcessNetwork();
  return { create: (options) => network.transport(options) };
});

describe("InProcessNetwork", () => {
  it("gives a node without an address a unique made-up one, and refuses a second listener on a taken address", async () => {
    const network = new InProcessNetwork();
    const a = network.transport({ hello: hello("a") });
    const b = network.transport({ hello: hello("b") });
    const portA = await a.listen();
    await b.listen();
    assert.match(a.hello.address, new RegExp(`^inproc-\\d+:${portA}$`));
    assert.notEqual(a.hello.address, b.hello.address);
    const twin = network.transport({ hello: { ...hello("twin"), address: a.hello.address } });
    await assert.rejects(twin.listen(), (error: Error & { code?: string }) => error.code === "EADDRINUSE");
  });

  it("holds each batch for the set latency on the injected clock, and uses no real timer", async () => {
    const clock = new ManualClock();
    const network = new InProcessNetwork({ clock });
    network.setLatency(50);
    const { ab, ba } = await pair(network, clock);
    const inbox = collect(ba);
    ab.send("data", bytes("hello"));
    await clock.advance(49);
    assert.equal(inbox.length, 0);
    await clock.advance(1);
    assert.deepEqual(inbox, ["data:hello"]);
    assert.equal(clock.pendingTimers, 0);
  });

  it("keeps each lane in order under jitter, and the same seed gives the same arrival times", async () => {
    const run = async (seed: number): Promise<string[]> => {
      const clock = new ManualClock(0);
      const network = new InProcessNetwork({ clock, random: seeded(seed) });
      network.setLatency(5, { jitterMs: 20 });
      const { ab, ba } = await pair(network, clock);
      const arrivals: string[] = [];
      ba.onMessage((lane, payload) => arrivals.push(`${clock.now()} ${lane}:${text(payload)}`));
      for (let i = 0; i < 30; i++) {
        ab.send(i % 3 === 0 ? "control" : "data", bytes(String(i)));
        await clock.advance(3);
      }
      await clock.advance(100);
      return arrivals;
    };
    const first = await run(7);
    assert.deepEqual(await run(7), first);
    assert.equal(first.length, 30);
    const order = (lane: Lane): number[] => first.filter((a) => a.includes(` ${lane}:`)).map((a) => Number(a.split(":")[1]));
    for (const lane of ["control", "data"] as const) assert.deepEqual(order(lane), [...order(lane)].sort((x, y) => x - y));
  });

  it("a partition healed within the idle timeout loses nothing: held payloads arrive and the link stays open", async () => {
    const clock = new ManualClock();
    const network = new InProcessNetwork({ clock });
    const { a, b, ab, ba } = await pair(network, clock);
    const inbox = collect(ba);
    network.partition(a.hello.address, b.hello.address);
    ab.send("data", bytes("held"));
    await clock.advance(4000);
    assert.deepEqual(inbox, []);
    network.heal(a.hello.address, b.hello.address);
    await settle();
    assert.deepEqual(inbox, ["data:held"]);
    await clock.advance(10_000);
    assert.equal(ab.closed || ba.closed, false);
  });

  it("a partition that outlasts idleTimeoutMs closes the link on each side, and what was held is lost", async () => {
    const clock = new ManualClock();
    const network = new InProcessNetwork({ clock });
    const { a, b, ab, ba } = await pair(network, clock, { idleTimeoutMs: 3000 });
    const inbox = collect(ba);
    const reasons = closeReasons(ab, ba);
    network.partition(a.hello.address, b.hello.address);
    ab.send("data", bytes("lost"));
    await clock.advance(2999);
    assert.deepEqual(reasons, []);
    await clock.advance(1);
    assert.deepEqual(reasons.sort(), ["a: peer silent for 3000 ms", "b: peer silent for 3000 ms"]);
    assert.equal(a.links.size + b.links.size, 0);
    network.heal(a.hello.address, b.hello.address);
    await settle();
    assert.deepEqual(inbox, []);
  });

  it("a side whose peer gave up behind a partition hears a reset when the partition heals", async () => {
    const clock = new ManualClock();
    const network = new InProcessNetwork({ clock });
    const a = network.transport({ hello: hello("a"), limits: { idleTimeoutMs: 1000 } });
    const b = network.transport({ hello: hello("b"), limits: { idleTimeoutMs: 60_000 } });
    await Promise.all([a.listen(), b.listen()]);
    const ab = await a.connect(b.hello.address);
    const ba = b.links.get("a")!;
    network.partition(a.hello.address, b.hello.address);
    await clock.advance(1000);
    assert.equal(ab.closed, true);
    assert.equal(ba.closed, false, "b cannot know yet");
    network.heal(a.hello.address, b.hello.address);
    assert.equal(ba.closed, true);
    assert.equal(b.links.size, 0);
  });

  it("a dial across a partition waits, and fails with TIMEOUT after handshakeTimeoutMs unless it heals first", async () => {
    const clock = new ManualClock();
    const network = new InProcessNetwork({ clock });
    const [a, b, c] = await listening(network, ["a", "b", "c"]);
    network.partition(a.hello.address, b.hello.address);
    network.partition(a.hello.address, c.hello.address);
    const toB = assert.rejects(a.connect(b.hello.address), (error: KaffixError) => error.code === "TIMEOUT");
    const toC = a.connect(c.hello.address);
    await clock.advance(1000);
    network.heal(a.hello.address, c.hello.address);
    assert.equal((await toC).remote.nodeId, "c");
    await clock.advance(3999);
    assert.equal(a.links.has("b"), false);
    await clock.advance(1);
    await toB;
    assert.equal(a.links.has("b"), false);
  });

  it("a killed node's links close at once on both sides, and a restarted node can take its address", async () => {
    const network = new InProcessNetwork();
    const [a, b, c] = await listening(network, ["a", "b", "c"]);
    const ab = await a.connect(b.hello.address);
    const ac = await a.connect(c.hello.address);
    const ba = b.links.get("a")!;
    const reasons = closeReasons(ab, ba);
    const address = a.hello.address;
    network.kill(address);
    assert.equal(ac.closed, true);
    assert.equal(c.links.size, 0);
    assert.deepEqual(reasons.sort(), ["a: killed", `b: connection reset: node a at ${address} was killed`]);
    await assert.rejects(a.connect(b.hello.address), (error: KaffixError) => error.code === "NOT_RUNNING");

    const restarted = network.transport({ hello: { ...hello("a"), incarnation: 2, address } });
    await restarted.listen();
    const link = await b.connect(address);
    assert.equal(link.remote.incarnation, 2);
  });

  it("pauseDelivery holds payloads and pushes back on senders until resumeDelivery", async () => {
    const network = new InProcessNetwork();
    const limits = { maxQueuedBytes: 10_000 };
    const { b, ab, ba } = await pair(network, undefined, limits);
    const inbox = collect(ba);
    network.pauseDelivery(b.hello.address);
    let accepted = 0;
    while (ab.send("data", new Uint8Array(1000))) accepted++;
    await settle();
    assert.equal(inbox.length, 0);
    assert.equal(ab.send("data", new Uint8Array(1000)), false);
    const writable = ab.whenWritable();
    network.resumeDelivery(b.hello.address);
    await writable;
    assert.equal(inbox.length, accepted);
  });

  it("a payload over the receiver's smaller maxFrameBytes is refused at send, and the link stays open", async () => {
    const network = new InProcessNetwork();
    const a = network.transport({ hello: hello("a"), limits: { maxFrameBytes: 4096 } });
    const b = network.transport({ hello: hello("b"), limits: { maxFrameBytes: 1024 } });
    await Promise.all([a.listen(), b.listen()]);
    const ab = await a.connect(b.hello.address);
    const inbox = collect(b.links.get("a")!);
    assert.throws(() => ab.send("data", new Uint8Array(2048)), /over maxFrameBytes \(1024/);
    ab.send("data", new Uint8Array(1024));
    await settle();
    assert.equal(inbox.length, 1);
    assert.equal(ab.closed, false);
  });

  it("runs a hundred nodes in a ring on a manual clock, every message delivered, no timer left behind", async () => {
    const clock = new ManualClock(0);
    const network = new InProcessNetwork({ clock, random: seeded(1) });
    network.setLatency(1, { jitterMs: 2 });
    const ids = Array.from({ length: 100 }, (_, i) => `n${String(i).padStart(3, "0")}`);
    const nodes = await listening(network, ids);
    const received = new Map<string, string[]>();
    for (const node of nodes) {
      node.onLink((link) => link.onMessage((_lane, payload) => received.set(node.hello.nodeId, [...(received.get(node.hello.nodeId) ?? []), text(payload)])));
    }
    const dials = nodes.map((node, i) => node.connect(nodes[(i + 1) % nodes.length]!.hello.address));
    await clock.advance(5);
    const links = await Promise.all(dials);
    for (const [i, link] of links.entries()) link.send("data", bytes(`from ${ids[i]}`));
    await clock.advance(5);
    for (const [i, id] of ids.entries()) assert.deepEqual(received.get(id), [`from ${ids[(i + ids.length - 1) % ids.length]}`]);
    assert.equal(clock.pendingTimers, 0);
  });
});

function hello(nodeId: string): Hello {
  return { protocol: PROTOCOL_VERSION, app: "sim", nodeId, incarnation: 1, address: "", services: {} };
}

/** One listening transport per id, in the same order. */
async function listening<const T extends readonly string[]>(
  network: InProcessNetwork,
  ids: T,
  limits?: Partial<TransportLimits>,
): Promise<{ -readonly [K in keyof T]: InProcessTransport }> {
  const transports = ids.map((id) => network.transport(limits === undefined ? { hello: hello(id) } : { hello: hello(id), limits }));
  await Promise.all(transports.map((transport) => transport.listen()));
  return transports as unknown as { -readonly [K in keyof T]: InProcessTransport };
}

/** Nodes "a" and "b", and the link a dialed, on either clock. */
async function pair(network: InProcessNetwork, clock?: ManualClock, limits?: Partial<TransportLimits>) {
  const [a, b] = await listening(network, ["a", "b"], limits);
  const dial = a.connect(b.hello.address);
  if (clock !== undefined) await clock.advance(100);
  const ab = await dial;
  return { a, b, ab, ba: b.links.get("a")! };
}

function collect(link: Link): string[] {
  const inbox: string[] = [];
  link.onMessage((lane, payload) => inbox.push(`${lane}:${text(payload)}`));
  return inbox;
}

/** Close reasons of a's and b's ends, each prefixed with its side. */
function closeReasons(ab: Link, ba: Link): string[] {
  const reasons: string[] = [];
  ab.onClose((reason) => reasons.push(`a: ${reason}`));
  ba.onClose((reason) => reasons.push(`b: ${reason}`));
  return reasons;
}

const seeded = seededRandom;

function bytes(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function text(payload: Uint8Array): string {
  return new TextDecoder().decode(payload);
}
