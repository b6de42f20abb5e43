// FramedLink against a scripted peer on an in-memory stream, on a manual clock: batching, heartbeats, bad frames, closing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { KaffixError } from "../errors.js";
import { ManualClock, settle } from "../testing/manual-clock.js";
import { encodeFrame, FrameReader, FrameType } from "../wire/frame.js";
import { FramedLink } from "./framed-link.js";
import type { Hello, Lane } from "./transport.js";

/** Lets the stream deliver what was pushed, and the link flush what that made it send. */
async function turn(): Promise<void> {
  await settle();
  await settle();
}

const REMOTE: Hello = { protocol: 1, app: "shop", nodeId: "peer", incarnation: 1, address: "127.0.0.1:1", services: {} };

/** A link whose peer is the test: `writes` holds each write the link made, `frames` every frame in them. */
function scriptedPeer(options: { leftover?: Buffer; limits?: { heartbeatMs?: number; idleTimeoutMs?: number } } = {}) {
  const writes: Buffer[] = [];
  const frames: { type: number; payload: string }[] = [];
  const reader = new FrameReader(1 << 20, (type, payload) => frames.push({ type, payload: payload.toString() }));
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk);
      reader.push(chunk);
      callback();
    },
  });
  const clock = new ManualClock();
  const link = new FramedLink(socket, { remote: REMOTE, outbound: true, clock, closeGraceMs: 10, limits: { heartbeatMs: 1000, idleTimeoutMs: 5000, ...options.limits }, leftover: options.leftover });
  const closed: string[] = [];
  link.onClose((reason) => closed.push(reason));
  return { link, socket, clock, writes, frames, closed, receive: (type: FrameType, payload = "") => socket.push(encodeFrame(type, Buffer.from(payload))) };
}

test("payloads sent within one tick leave in one write, the control lane first", async () => {
  const { link, writes, frames } = scriptedPeer();
  for (let i = 0; i < 100; i++) link.send("data", Buffer.from(`d${i}`));
  link.send("control", Buffer.from("c0"));
  await turn();
  assert.equal(writes.length, 1);
  assert.deepEqual(frames[0], { type: FrameType.CONTROL, payload: "c0" });
  assert.deepEqual(frames.slice(1).map((f) => f.payload), Array.from({ length: 100 }, (_, i) => `d${i}`));
});

test("the payload is copied when sent, so the caller may reuse its buffer", async () => {
  const { link, frames } = scriptedPeer();
  const buffer = Buffer.from("first");
  link.send("data", buffer);
  buffer.write("later");
  await turn();
  assert.equal(frames[0]!.payload, "first");
});

test("a quiet link pings its peer and answers its peer's pings", async () => {
  const { clock, frames, receive } = scriptedPeer();
  receive(FrameType.PING);
  await turn();
  assert.deepEqual(frames.map((f) => f.type), [FrameType.PONG]);
  await clock.advance(1000);
  assert.deepEqual(frames.map((f) => f.type), [FrameType.PONG, FrameType.PING]);
});

test("a peer that sends nothing for the idle timeout is dropped, and the link's timers stop", async () => {
  const { link, clock, closed, frames, receive } = scriptedPeer();
  await clock.advance(3000);
  receive(FrameType.PONG);
  await clock.advance(4000);
  assert.equal(link.closed, false, "a pong counts as hearing from the peer");
  await clock.advance(1000);
  assert.deepEqual(closed, ["peer silent for 5000 ms"]);
  assert.equal(frames.at(-1)!.type, FrameType.GOODBYE);
  assert.equal(clock.pendingTimers, 0);
});

test("messages that arrive before a handler is set are held and delivered in order", async () => {
  const leftover = Buffer.concat([encodeFrame(FrameType.DATA, Buffer.from("one")), encodeFrame(FrameType.CONTROL, Buffer.from("two"))]);
  const { link, receive } = scriptedPeer({ leftover });
  receive(FrameType.DATA, "three");
  await turn();
  const got: [Lane, string][] = [];
  link.onMessage((lane, payload) => got.push([lane, Buffer.from(payload).toString()]));
  await turn();
  assert.deepEqual(got, [["data", "one"], ["control", "two"], ["data", "three"]]);
});

for (const [what, type] of [["a second HELLO", FrameType.HELLO], ["an unknown frame type", 99]] as const) {
  test(`${what} from the peer closes the link as a protocol error`, async () => {
    const { link, closed, socket } = scriptedPeer();
    link.onMessage(() => {});
    socket.push(encodeFrame(type as FrameType, Buffer.alloc(0)));
    await turn();
    assert.equal(closed.length, 1);
    assert.match(closed[0]!, /^protocol error: /);
  });
}

test("a frame over maxFrameBytes closes the link before it is buffered", async () => {
  const { link, closed, socket } = scriptedPeer();
  link.onMessage(() => {});
  const header = Buffer.alloc(5);
  header.writeUInt32BE(0xffffffff);
  socket.push(header);
  await turn();
  assert.match(closed[0]!, /over the limit/);
});

test("close says goodbye after what was queued, fires onClose once and fails waiters and later sends", async () => {
  const { link, closed, frames } = scriptedPeer();
  link.send("data", Buffer.from("last words"));
  link.close("shutting down");
  link.close("again");
  await turn();
  assert.deepEqual(frames, [{ type: FrameType.DATA, payload: "last words" }, { type: FrameType.GOODBYE, payload: "shutting down" }]);
  assert.deepEqual(closed, ["shutting down"]);
  const isClosed = (e: unknown): boolean => e instanceof KaffixError && e.code === "LINK_CLOSED";
  assert.throws(() => link.send("data", Buffer.from("x")), isClosed);
  await assert.rejects(link.whenWritable(), isClosed);
  const late = await new Promise<string>((resolve) => link.onClose(resolve));
  assert.equal(late, "shutting down", "a handler added after the close still hears of it");
});

test("a goodbye from the peer closes the link with the peer's reason", async () => {
  const { closed, receive } = scriptedPeer();
  receive(FrameType.GOODBYE, "maintenance");
  await turn();
  assert.deepEqual(closed, ["closed by peer: maintenance"]);
});
