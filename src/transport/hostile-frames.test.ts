// A real node fed bad bytes on secured connections: tampered records, bad frames from token holders, frames cut anywhere, a peer that stops reading.
//
// Each test runs one node and a good peer that keeps exchanging payloads with it, then checks what the
// design promises (§1, promises 2 and 5): the offending connection is closed and the node logs why
// once, the good peer never notices, frames cut at any byte arrive whole, and a peer that stops reading
// holds no more than the link's send bound. A "member" here is a hand-driven TLS client with the token.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, createServer, type AddressInfo, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { setImmediate as nextImmediate } from "node:timers/promises";
import { KaffixError } from "../errors.js";
import { systemClock } from "../clock.js";
import { encodeFrame, FrameReader, FrameType } from "../wire/frame.js";
import { FramedLink } from "./framed-link.js";
import { pskIdentity } from "./psk.js";
import type { Lane, Link } from "./transport.js";
import { closedByNode, eventually, helloFor, LOG_INTERVAL_MS, memoizedPsk, peer, startScene, TOKEN, within, type Scene } from "./hostile-scene.test-support.js";

const MAX_FRAME_BYTES = 4 * 1024 * 1024;

function helloFrame(nodeId: string): Buffer {
  return encodeFrame(FrameType.HELLO, Buffer.from(JSON.stringify(helloFor(nodeId))));
}

/** A frame header claiming `length` bytes (type included) that never follow. */
function header(length: number, type: number): Buffer {
  const bytes = Buffer.alloc(5);
  bytes.writeUInt32BE(length, 0);
  bytes[4] = type;
  return bytes;
}

/**
 * A hand-driven TLS client with the token: writes `first` (its hello, or what the test puts in its
 * place) once TLS is up, then only what the test writes. `frames` holds every frame it received.
 */
async function member(t: TestContext, port: number, first: Buffer) {
  const psk = await memoizedPsk(TOKEN);
  const socket: TLSSocket = tlsConnect({
    host: "127.0.0.1",
    port,
    minVersion: "TLSv1.3",
    ciphers: "TLS_AES_128_GCM_SHA256",
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: psk.key, identity: pskIdentity(psk.keyId) }),
  });
  t.after(() => socket.destroy());
  const frames: { type: number; payload: string }[] = [];
  const reader = new FrameReader(MAX_FRAME_BYTES, (type, payload) => frames.push({ type, payload: payload.toString() }));
  socket.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch {
      socket.destroy(); // the node sent a bad frame: the assertions on `frames` will say so
    }
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await within(new Promise((resolve) => socket.once("secureConnect", resolve)), "the member's TLS handshake completes");
  socket.write(first);
  return { socket, frames, closed };
}

/** Waits for the node's link to `nodeId`; `closed` resolves with the reason the node gives when it closes. */
async function nodeLinkCloses(scene: Scene, nodeId: string): Promise<{ link: Link; closed: Promise<string> }> {
  await eventually(() => scene.node.links.has(nodeId), `the node links with ${nodeId}`);
  const link = scene.node.links.get(nodeId)!;
  return { link, closed: new Promise((resolve) => link.onClose(resolve)) };
}

for (const bad of [
  { what: "a length prefix of 0xFFFFFFFF", bytes: header(0xffffffff, FrameType.DATA), reason: `frame of 4294967295 bytes is over the limit of ${MAX_FRAME_BYTES}` },
  { what: "a length prefix one past maxFrameBytes", bytes: header(MAX_FRAME_BYTES + 2, FrameType.DATA), reason: `frame of ${MAX_FRAME_BYTES + 2} bytes is over the limit of ${MAX_FRAME_BYTES}` },
  { what: "a length of zero", bytes: Buffer.alloc(4), reason: "frame with length 0" },
  { what: "an unknown frame type", bytes: encodeFrame(99 as FrameType, Buffer.from("?")), reason: "unknown frame type 99" },
  { what: "a second HELLO", bytes: helloFrame("member"), reason: "HELLO after the handshake" },
]) {
  test(`a member sending ${bad.what} is closed with a protocol error before the node buffers anything more`, { timeout: 10_000 }, async (t) => {
    const scene = await startScene(t);
    const attacker = await member(t, scene.port, helloFrame("member"));
    const { closed } = await nodeLinkCloses(scene, "member");
    attacker.socket.write(encodeFrame(FrameType.DATA, Buffer.from("fine so far")));
    attacker.socket.write(bad.bytes); // and not a byte more: a node waiting for the claimed size would hang here
    assert.equal(await within(closed, "the node closes the link"), `protocol error: ${bad.reason}`);
    await closedByNode(attacker);
    assert.deepEqual(scene.received.get("member"), [["data", "fine so far"]]);
    assert.deepEqual(attacker.frames.at(-1), { type: FrameType.GOODBYE, payload: `protocol error: ${bad.reason}` }, "the member is told why");
    assert.deepEqual(scene.closeLines("member").map((line) => line.msg), [`link to node member closed: protocol error: ${bad.reason}`]);
    assert.deepEqual(scene.rejections(), []);
    await scene.assertGoodPeerUnharmed();
  });
}

for (const bad of [
  { what: "a DATA frame before its hello", first: encodeFrame(FrameType.DATA, Buffer.from("too early")), reason: "first frame has type 4, not HELLO" },
  { what: "a first frame claiming 0xFFFFFFFF bytes", first: header(0xffffffff, FrameType.HELLO), reason: "first frame of 4294967295 bytes is not a hello within 262144 bytes" },
  { what: "a hello that is not JSON", first: encodeFrame(FrameType.HELLO, Buffer.from("{not json")), reason: "hello is not valid JSON" },
  { what: "a hello without a node id", first: encodeFrame(FrameType.HELLO, Buffer.from(JSON.stringify({ ...helloFor("x"), nodeId: "" }))), reason: "hello.nodeId is invalid" },
]) {
  test(`a member sending ${bad.what} is closed before it becomes a link and logged once per interval`, { timeout: 10_000 }, async (t) => {
    const scene = await startScene(t);
    const linked: string[] = [];
    scene.node.onLink((link) => linked.push(link.remote.nodeId));
    const attack = async (): Promise<void> => {
      const attacker = await member(t, scene.port, bad.first);
      await closedByNode(attacker);
    };
    for (let i = 0; i < 4; i++) await Promise.all(Array.from({ length: 5 }, attack));
    assert.deepEqual(scene.rejections().map((line) => [line.reason, line.suppressed]), [[`bad hello: ${bad.reason}`, 0]]);
    await scene.clock.advance(LOG_INTERVAL_MS);
    await attack();
    assert.equal(scene.rejections()[1]?.suppressed, 19, "the next line counts the attacks suppressed before");
    assert.deepEqual(linked, []);
    await scene.assertGoodPeerUnharmed();
  });
}

test("frames cut at every byte boundary arrive whole and in order, and the link stays open", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t);
  const splitter = await member(t, scene.port, helloFrame("splitter"));
  const { link } = await nodeLinkCloses(scene, "splitter");
  const text = (length: number, seed: number): string => Array.from({ length }, (_, i) => String.fromCharCode(33 + ((i * 7 + seed) % 90))).join("");
  const payloads: [Lane, string][] = [["data", "a"], ["data", ""], ["control", text(300, 1)], ["data", text(1000, 2)], ["data", "last"]];
  const stream = (items: [Lane, string][]): Buffer =>
    Buffer.concat(items.flatMap(([lane, payload]) => [encodeFrame(lane === "data" ? FrameType.DATA : FrameType.CONTROL, Buffer.from(payload)), encodeFrame(FrameType.PING, Buffer.alloc(0))]));

  // One byte per write, and a turn of the event loop between writes: each byte its own TLS record.
  const whole = stream(payloads);
  for (let i = 0; i < whole.length; i++) {
    splitter.socket.write(whole.subarray(i, i + 1));
    await nextImmediate();
  }
  await eventually(() => scene.received.get("splitter")!.length === payloads.length, "every payload arrived");
  assert.deepEqual(scene.received.get("splitter"), payloads);

  // Two writes, cut at each boundary in turn.
  const small: [Lane, string][] = [["data", "x"], ["control", "yz"], ["data", "end"]];
  const bytes = stream(small);
  for (let cut = 1; cut < bytes.length; cut++) {
    splitter.socket.write(bytes.subarray(0, cut));
    await nextImmediate();
    splitter.socket.write(bytes.subarray(cut));
    await nextImmediate();
  }
  const expected = [...payloads, ...Array.from({ length: bytes.length - 1 }, () => small).flat()];
  await eventually(() => scene.received.get("splitter")!.length === expected.length, "every cut payload arrived");
  assert.deepEqual(scene.received.get("splitter"), expected);

  assert.equal(link.closed, false);
  assert.equal(scene.node.links.get("splitter"), link);
  assert.ok(splitter.frames.some((frame) => frame.type === FrameType.PONG), "the node answered the cut PINGs");
  assert.deepEqual(scene.closeLines("splitter"), []);
  assert.deepEqual(scene.rejections(), []);
  await scene.assertGoodPeerUnharmed();
});

/**
 * A peer linked to the node through a TCP proxy that cuts what the peer sends into TLS records (5-byte
 * header, length at offset 3) and flips a bit in the first application-data record after the link is up.
 */
async function tamperedPath(t: TestContext, scene: Scene) {
  let flip = false;
  const upstreams: { socket: Socket; closed: Promise<void> }[] = [];
  const proxy = createServer((client) => {
    const upstream = netConnect(scene.port, "127.0.0.1");
    upstreams.push({ socket: upstream, closed: new Promise((resolve) => upstream.once("close", () => resolve())) });
    t.after(() => upstream.destroy());
    // Only the node's side closing is passed on, so that what closes the upstream socket is the node.
    upstream.on("error", () => {}).on("close", () => client.destroy());
    client.on("error", () => {});
    let pending = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt16BE(3)) {
        const record = Buffer.from(pending.subarray(0, 5 + pending.readUInt16BE(3)));
        pending = pending.subarray(record.length);
        if (flip && record[0] === 0x17) {
          flip = false;
          record[record.length - 3]! ^= 0x01; // inside the AEAD tag
        }
        upstream.write(record);
      }
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const port = (proxy.address() as AddressInfo).port;
  const victim = await peer(t, "victim", port, scene.limits);
  await victim.roundTrip();
  const { closed } = await nodeLinkCloses(scene, "victim");
  flip = true;
  victim.link.send("data", Buffer.from("tampered on the way"));
  return { port, closed, upstream: upstreams[0]! };
}

/** Real time and a short idle timeout: a link the node does not close itself still goes within 300 ms. */
const TAMPER_LIMITS = { idleTimeoutMs: 300, heartbeatMs: 50 };

test("a byte flipped in a TLS record after the handshake costs that link only, and nothing of the record is delivered", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t, { clock: systemClock, limits: TAMPER_LIMITS });
  const path = await tamperedPath(t, scene);
  const reason = await within(path.closed, "the node closes the tampered link");
  await closedByNode(path.upstream);
  assert.ok(!scene.received.get("victim")!.some(([, payload]) => payload === "tampered on the way"), "nothing of the tampered record was delivered");
  assert.deepEqual(scene.closeLines("victim").map((line) => line.msg), [`link to node victim closed: ${reason}`]);
  assert.deepEqual(scene.rejections(), []);
  const next = await peer(t, "next", path.port, scene.limits);
  await next.roundTrip();
  await scene.assertGoodPeerUnharmed();
});

test("a link whose peer's record fails authentication is closed at once, with that as the reason", {
  timeout: 10_000,
}, async (t) => {
  const scene = await startScene(t, { clock: systemClock, limits: TAMPER_LIMITS });
  const path = await tamperedPath(t, scene);
  assert.match(await within(path.closed, "the node closes the tampered link"), /bad record mac|decryption failed/i);
});

test("a member that stops reading gets no more than maxQueuedBytes held for it, then is dropped as stalled", { timeout: 15_000 }, async (t) => {
  const maxQueuedBytes = 256 * 1024;
  // Real time: the link's own timers find the stall. Timeouts small, so that it takes well under a second.
  const limits = { maxQueuedBytes, idleTimeoutMs: 400, heartbeatMs: 50 };
  const scene = await startScene(t, { clock: systemClock, limits });
  const stalled = await member(t, scene.port, helloFrame("stalled"));
  const { link, closed } = await nodeLinkCloses(scene, "stalled");
  assert.ok(link instanceof FramedLink);
  stalled.socket.pause();
  // It keeps sending PINGs, so that it is never silent: only its not reading can get it dropped.
  const pinger = setInterval(() => stalled.socket.write(encodeFrame(FrameType.PING, Buffer.alloc(0))), 50);
  t.after(() => clearInterval(pinger));

  const payload = Buffer.alloc(16 * 1024, 7);
  const memoryBefore = process.memoryUsage();
  let accepted = 0;
  let refused = 0;
  let maxQueued = 0;
  // 64 MiB offered, a few frames per turn of the event loop, until the node drops the link.
  for (let offered = 0; offered < 4096 && !link.closed; offered += 8) {
    for (let i = 0; i < 8 && !link.closed; i++) {
      if (link.send("data", payload)) accepted++;
      else refused++;
      maxQueued = Math.max(maxQueued, link.queuedBytes);
    }
    await nextImmediate();
  }
  assert.ok(refused > 0, `send never returned false after ${accepted} × 16 KiB`);
  assert.ok(maxQueued <= maxQueuedBytes + 1024, `the node held ${maxQueued} bytes for a peer that does not read`);
  const memory = process.memoryUsage();
  const grownBytes = memory.arrayBuffers - memoryBefore.arrayBuffers;
  assert.ok(grownBytes < 32 * 1024 * 1024, `64 MiB offered, ${grownBytes} bytes more in buffers`);
  if (!link.closed) {
    const writable = link.whenWritable();
    await assert.rejects(writable, (error: unknown) => error instanceof KaffixError && error.code === "LINK_CLOSED");
  }
  assert.match(await within(closed, "the node drops the stalled link"), /^peer stopped reading: send queue full for \d+ ms$/);
  stalled.socket.resume(); // reads what the node had sent, then sees that the node closed the connection
  await closedByNode(stalled);
  assert.equal(scene.closeLines("stalled").length, 1);
  await scene.assertGoodPeerUnharmed();
});
