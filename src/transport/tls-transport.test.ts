// TlsTransport seen from two nodes on real sockets: who may link, what arrives, and when links close.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { connect as netConnect, type Socket } from "node:net";
import { pino } from "pino";
import { KaffixError } from "../errors.js";
import { ManualClock } from "../testing/manual-clock.js";
import { encodeFrame, FrameReader, FrameType } from "../wire/frame.js";
import { PROTOCOL_VERSION } from "./hello.js";
import { derivePsk, keyIdOf, pskIdentity, type Psk } from "./psk.js";
import { TlsTransport, type TlsTransportOptions } from "./tls-transport.js";
import { transportContract } from "./transport-contract.test-support.js";
import type { Hello, Lane, Link } from "./transport.js";

const TOKEN = "tls-transport-test-token-0123456789abcdef";
const OTHER_TOKEN = "another-cluster-token-0123456789abcdef";

/** scrypt costs ~60 ms a token: each test token is derived once for the whole file. */
const derived = new Map<string, Promise<Psk>>();
function memoizedPsk(token: string): Promise<Psk> {
  let psk = derived.get(token);
  if (psk === undefined) derived.set(token, (psk = derivePsk(token)));
  return psk;
}

transportContract("TLS", () => ({
  create: ({ hello, limits }) =>
    new TlsTransport({ hello, limits, tokens: [TOKEN], host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }), derivePsk: memoizedPsk }),
}));

interface TestNode {
  transport: TlsTransport;
  address: string;
  /** Every line logged at info and above, as written. */
  lines: string[];
  /** The messages of the lines logged at info and above. */
  messages: string[];
  logged(text: string): boolean;
}

function helloFor(nodeId: string, overrides: Partial<Hello> = {}): Hello {
  return { protocol: PROTOCOL_VERSION, app: "shop", nodeId, incarnation: 1, address: "", services: {}, ...overrides };
}

/** A listening transport, closed when the test ends. */
async function startNode(
  t: TestContext,
  nodeId: string,
  options: Omit<Partial<TlsTransportOptions>, "hello"> & { hello?: Partial<Hello> } = {},
): Promise<TestNode> {
  const lines: string[] = [];
  const messages: string[] = [];
  const logger = pino({ level: "info" }, {
    write: (line: string) => {
      lines.push(line);
      messages.push((JSON.parse(line) as { msg: string }).msg);
    },
  });
  const transport = new TlsTransport({
    tokens: [TOKEN],
    host: "127.0.0.1",
    port: 0,
    logger,
    derivePsk: memoizedPsk,
    ...options,
    hello: helloFor(nodeId, options.hello),
  });
  t.after(() => transport.close());
  await transport.listen();
  return { transport, address: transport.hello.address, lines, messages, logged: (text) => messages.some((m) => m.includes(text)) };
}

/** Waits until `condition` holds, failing after `timeoutMs`. */
async function eventually(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function nextLink(node: TestNode): Promise<Link> {
  return new Promise((resolve) => node.transport.onLink(resolve));
}

function closeReason(link: Link): Promise<string> {
  return new Promise((resolve) => link.onClose(resolve));
}

/**
 * A hand-driven TLS client: completes TLS with `psk` (and, with `hello`, sends it), then does only what
 * the test says. Everything it receives after TLS is counted in `received`.
 */
async function rawClient(t: TestContext, address: string, psk: Psk, hello?: Hello) {
  const [host, port] = address.split(":");
  const socket: TLSSocket = tlsConnect({
    host,
    port: Number(port),
    minVersion: "TLSv1.3",
    ciphers: "TLS_AES_128_GCM_SHA256",
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: psk.key, identity: pskIdentity(psk.keyId) }),
  });
  t.after(() => socket.destroy());
  const client = { socket, received: 0, frames: [] as number[], closed: new Promise<void>((r) => socket.once("close", () => r())) };
  const reader = new FrameReader(1 << 20, (type) => client.frames.push(type));
  socket.on("data", (chunk: Buffer) => {
    client.received += chunk.length;
    reader.push(chunk);
  });
  socket.on("error", () => {});
  const secured = await new Promise<boolean>((resolve) => {
    socket.once("secureConnect", () => resolve(true));
    socket.once("close", () => resolve(false));
  });
  if (secured && hello !== undefined) socket.write(encodeFrame(FrameType.HELLO, Buffer.from(JSON.stringify(hello))));
  return { ...client, secured };
}

test("nodes with different frame limits send each other nothing over the smaller one, and the link stays open", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a", { limits: { maxFrameBytes: 4096 } });
  const b = await startNode(t, "b", { limits: { maxFrameBytes: 1024 } });
  const inbound = nextLink(b);
  const ab = await a.transport.connect(b.address);
  const ba = await inbound;
  assert.equal(ab.remote.maxFrameBytes, 1024);
  const received: number[] = [];
  ba.onMessage((_lane, payload) => received.push(payload.length));
  assert.throws(() => ab.send("data", new Uint8Array(2048)), /over maxFrameBytes \(1024/);
  ab.send("data", new Uint8Array(1024));
  await eventually(() => received.length === 1, "the payload within the limit arrives");
  assert.equal(ab.closed, false);
});

test("two nodes with the same token link up, see each other's hello and stream payloads in order", { timeout: 10_000 }, async (t) => {
  const a = await startNode(t, "a", { hello: { services: { orders: "f1" } } });
  const b = await startNode(t, "b", { hello: { services: { orders: "f1", mail: "m1" } } });
  const inbound = nextLink(a);
  const outbound = await b.transport.connect(a.address);
  const atA = await inbound;

  assert.deepEqual(outbound.remote, a.transport.hello);
  assert.deepEqual(atA.remote, b.transport.hello);
  assert.equal(outbound.outbound, true);
  assert.equal(atA.outbound, false);
  assert.equal(a.transport.links.get("b"), atA);
  assert.equal(b.transport.links.get("a"), outbound);

  const received: Record<Lane, number[]> = { control: [], data: [] };
  const allArrived = new Promise<void>((resolve) =>
    atA.onMessage((lane, payload) => {
      received[lane].push(Buffer.from(payload).readUInt32BE(0));
      if (received.data.length === 10_000 && received.control.length === 100) resolve();
    }),
  );
  for (let i = 0; i < 10_000; i++) {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(i);
    while (!outbound.send("data", payload)) await outbound.whenWritable();
    if (i % 100 === 0) outbound.send("control", payload);
    if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await allArrived;
  assert.deepEqual(received.data, Array.from({ length: 10_000 }, (_, i) => i));
  assert.deepEqual(received.control, Array.from({ length: 100 }, (_, i) => i * 100));
});

test("a node with another token fails the TLS handshake and no application byte reaches either side", { timeout: 10_000 }, async (t) => {
  const a = await startNode(t, "a");
  const stranger = await startNode(t, "stranger", { tokens: [OTHER_TOKEN] });
  let linked = 0;
  a.transport.onLink(() => linked++);

  const error = await stranger.transport.connect(a.address).then(() => assert.fail("connected"), (e: unknown) => e);
  assert.ok(error instanceof KaffixError);
  assert.equal(error.code, "LINK_CLOSED");
  assert.match(error.message, /token/);

  const raw = await rawClient(t, a.address, await memoizedPsk(OTHER_TOKEN), helloFor("raw"));
  await raw.closed;
  assert.equal(raw.secured, false);
  assert.equal(raw.received, 0);
  assert.equal(linked, 0);
  assert.equal(a.transport.links.size, 0);
  await eventually(() => a.logged("unknown PSK identity"), "a logs why it refused the stranger");
  assert.ok(!a.lines.some((line) => line.includes(OTHER_TOKEN) || line.includes(TOKEN)), "no token in the log");
});

test("a client that presents a known key id with another key fails the handshake", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a");
  const mine = await memoizedPsk(TOKEN);
  const forged = { keyId: mine.keyId, key: (await memoizedPsk(OTHER_TOKEN)).key };
  const raw = await rawClient(t, a.address, forged, helloFor("forger"));
  await raw.closed;
  assert.equal(raw.secured, false);
  assert.equal(raw.received, 0);
  await eventually(() => a.logged("TLS handshake failed"), "a logs the failed handshake");
});

test("during a token rotation a node accepts peers dialing with the old token and with the new one", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a", { tokens: [OTHER_TOKEN, TOKEN] });
  const old = await startNode(t, "old", { tokens: [TOKEN] });
  const fresh = await startNode(t, "fresh", { tokens: [OTHER_TOKEN] });
  await old.transport.connect(a.address);
  await fresh.transport.connect(a.address);
  await eventually(() => a.transport.links.size === 2, "a has links to both");
  assert.deepEqual([...a.transport.links.keys()].sort(), ["fresh", "old"]);
});

for (const mismatch of [
  { what: "another app", hello: { app: "billing" }, names: [/"shop"/, /"billing"/] },
  { what: "another protocol version", hello: { protocol: PROTOCOL_VERSION + 1 }, names: [/speaks 1/, /speaks 2/] },
]) {
  test(`a node of ${mismatch.what} is refused on both sides with a reason naming both`, { timeout: 5000 }, async (t) => {
    const a = await startNode(t, "a");
    const other = await startNode(t, "other", { hello: mismatch.hello });
    const error = await other.transport.connect(a.address).then(() => assert.fail("connected"), (e: unknown) => e);
    assert.ok(error instanceof KaffixError);
    assert.equal(error.code, "INCOMPATIBLE_PEER");
    for (const name of mismatch.names) assert.match(error.message, name);
    assert.ok(other.logged(error.message), "the dialer logs the reason");
    await eventually(() => a.messages.some((message) => mismatch.names.every((name) => name.test(message))), "a logs the reason");
    assert.equal(a.transport.links.size, 0);
    assert.equal(other.transport.links.size, 0);
  });
}

test("when two nodes dial each other at once each ends with exactly one link, the same one", { timeout: 10_000 }, async (t) => {
  for (let round = 0; round < 3; round++) {
    const a = await startNode(t, `a${round}`);
    const b = await startNode(t, `b${round}`);
    const [fromA, fromB] = await Promise.all([a.transport.connect(b.address), b.transport.connect(a.address)]);
    assert.ok(fromA && fromB);
    await eventually(() => a.transport.links.size === 1 && b.transport.links.size === 1 && [...a.transport.links.values(), ...b.transport.links.values()].every((l) => !l.closed), "one open link each");
    const atA = a.transport.links.get(`b${round}`)!;
    const atB = b.transport.links.get(`a${round}`)!;
    assert.equal(atA.outbound, true, "the link dialed by the smaller node id is kept");
    assert.equal(atB.outbound, false);
    const arrived = new Promise<string>((resolve) => atB.onMessage((_lane, payload) => resolve(Buffer.from(payload).toString())));
    atA.send("data", Buffer.from("over the kept link"));
    assert.equal(await arrived, "over the kept link");
    await Promise.all([a.transport.close(), b.transport.close()]);
  }
});

test("a link closed by one side fires onClose on the other with the reason", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  const inbound = nextLink(a);
  const link = await b.transport.connect(a.address);
  const atA = await inbound;
  const reasonAtA = closeReason(atA);
  link.close("going home");
  assert.match(await reasonAtA, /going home/);
  assert.equal(a.transport.links.size, 0);
  assert.equal(b.transport.links.size, 0);
  assert.throws(() => link.send("data", Buffer.from("late")), (e: unknown) => e instanceof KaffixError && e.code === "LINK_CLOSED");
  await assert.rejects(link.whenWritable(), (e: unknown) => e instanceof KaffixError && e.code === "LINK_CLOSED");
});

test("heartbeats keep an idle link open", { timeout: 5000 }, async (t) => {
  const limits = { heartbeatMs: 20, idleTimeoutMs: 100 };
  const a = await startNode(t, "a", { limits });
  const b = await startNode(t, "b", { limits });
  const link = await b.transport.connect(a.address);
  await new Promise((resolve) => setTimeout(resolve, 300)); // three idle timeouts
  assert.equal(link.closed, false);
  assert.equal(a.transport.links.size, 1);
});

test("a peer that completes the hello and then goes silent is dropped", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a", { limits: { heartbeatMs: 20, idleTimeoutMs: 100 } });
  const inbound = nextLink(a);
  const raw = await rawClient(t, a.address, await memoizedPsk(TOKEN), helloFor("silent"));
  const link = await inbound;
  assert.match(await closeReason(link), /peer silent for \d+ ms/);
  await raw.closed;
  assert.ok(raw.frames.includes(FrameType.PING), "a pinged the silent peer");
  assert.equal(raw.frames.at(-1), FrameType.GOODBYE);
});

test("send returns false once a peer stops reading, and whenWritable resolves when it reads again", { timeout: 10_000 }, async (t) => {
  const a = await startNode(t, "a", { limits: { maxQueuedBytes: 64 * 1024 } });
  const inbound = nextLink(a);
  const raw = await rawClient(t, a.address, await memoizedPsk(TOKEN), helloFor("slow"));
  const link = await inbound;
  raw.socket.pause();
  const payload = Buffer.alloc(1024);
  let sent = 0;
  let refused = false;
  // Under the bound each tick, so that only what the socket holds can fill the queue; the kernel's
  // buffers take a few MB before that happens.
  while (!refused && sent < 256 * 1024) {
    for (let i = 0; i < 16 && !refused; i++) {
      if (link.send("data", payload)) sent++;
      else refused = true;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(refused, `send never returned false after ${sent} KiB`);
  const writable = link.whenWritable();
  raw.socket.resume();
  await writable;
  assert.equal(link.closed, false);
});

test("a peer that keeps its send queue full without reading is dropped", { timeout: 5000 }, async (t) => {
  const limits = { maxQueuedBytes: 64 * 1024, heartbeatMs: 20, idleTimeoutMs: 100 };
  const a = await startNode(t, "a", { limits });
  // b never sets onMessage on its link, so it stops reading, yet its heartbeats keep it from looking silent.
  const b = await startNode(t, "b", { limits });
  const inbound = nextLink(a);
  await b.transport.connect(a.address);
  const link = await inbound;
  const closed = closeReason(link);
  const payload = Buffer.alloc(1024);
  while (!link.closed) {
    for (let i = 0; i < 256 && !link.closed; i++) link.send("data", payload);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.match(await closed, /peer stopped reading/);
});

test("a service whose contract differs between two nodes is logged once per service and foreign contract", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a", { hello: { services: { orders: "v1", mail: "m1" } } });
  const b = await startNode(t, "b", { hello: { services: { orders: "v2", mail: "m1", search: "s1" } } });
  for (let i = 0; i < 2; i++) {
    const link = await b.transport.connect(a.address);
    await eventually(() => a.transport.links.has("b"), "a has the link");
    const closed = closeReason(a.transport.links.get("b")!);
    link.close("again");
    await closed;
  }
  const warnings = a.messages.filter((message) => message.includes("another contract"));
  assert.deepEqual(warnings, ["service orders has another contract on node b: it is not routed between the two"]);
});

test("a connection that stalls in its handshake is dropped at the timeout, and beyond maxPendingHandshakes the oldest goes first", { timeout: 5000 }, async (t) => {
  const a = await startNode(t, "a", { handshakeTimeoutMs: 100, maxPendingHandshakes: 1 });
  const connectRaw = async (): Promise<Socket> => {
    const socket = netConnect(Number(a.address.split(":")[1]), "127.0.0.1");
    socket.on("error", () => {});
    t.after(() => socket.destroy());
    await new Promise((resolve) => socket.once("connect", resolve));
    return socket;
  };
  const oldest = await connectRaw();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const newest = await connectRaw();
  await new Promise((resolve) => oldest.once("close", resolve));
  assert.ok(!newest.closed, "the newcomer keeps its slot");
  await new Promise((resolve) => newest.once("close", resolve));
  await eventually(() => a.logged("the oldest was dropped") && a.logged("handshake not done within 100 ms"), "a logs both");
});

test("bad connections are logged at most once per reason per interval, with a count of the rest", { timeout: 5000 }, async (t) => {
  const clock = new ManualClock();
  const a = await startNode(t, "a", { clock });
  const port = Number(a.address.split(":")[1]);
  const sendGarbage = async (): Promise<void> => {
    const socket = netConnect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.end("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((resolve) => socket.once("close", resolve));
  };
  const rejections = (): string[] => a.lines.filter((line) => line.includes("rejected a connection"));
  for (let i = 0; i < 20; i++) await sendGarbage();
  await eventually(() => rejections().length === 1, "a logs the first one");
  await clock.advance(10_000);
  await sendGarbage();
  await eventually(() => rejections().length === 2, "a logs again after the interval");
  assert.match(rejections()[1]!, /"suppressed":19/);
});

test("key derivation is deterministic, differs per token, and the identity never contains the token", { timeout: 5000 }, async () => {
  const [first, again, other] = await Promise.all([derivePsk(TOKEN), derivePsk(TOKEN), memoizedPsk(OTHER_TOKEN)]);
  assert.deepEqual(first, again);
  assert.equal(first.key.length, 32);
  assert.match(first.keyId, /^[0-9a-f]{16}$/);
  assert.notDeepEqual(first.key, other.key);
  assert.notEqual(first.keyId, other.keyId);
  const identity = pskIdentity(first.keyId);
  assert.ok(!identity.includes(TOKEN));
  assert.equal(keyIdOf(identity), first.keyId);
  assert.equal(keyIdOf(TOKEN), undefined);
});
