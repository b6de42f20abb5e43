// A real node attacked by connections without the token: plaintext, garbage, wrong keys, old TLS, replays, slowloris, floods.
//
// Each test runs one node and a good peer that keeps exchanging payloads with it, attacks the node, and
// checks design promise 2: the node closes the attacker's socket, logs why once per reason and interval
// (then with a count of the rest), the good peer never notices, and no attack keeps a handshake slot.
// The node runs on a manual clock, so that handshake timeouts and the log interval pass on command.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, createServer, type AddressInfo, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { pskIdentity } from "./psk.js";
import { closedByNode, eventually, LOG_INTERVAL_MS, memoizedPsk, peer, startScene as startHostileScene, TOKEN, within } from "./hostile-scene.test-support.js";

const OTHER_TOKEN = "hostile-handshake-other-token-0123456789abcdef";

/** The scene with a handshake timeout and a cap on pending handshakes far below the transport's defaults. */
async function startScene(t: TestContext, { handshakeTimeoutMs = 1000, maxPendingHandshakes = 16, maxPendingPerSource = 8 } = {}) {
  return { ...(await startHostileScene(t, { handshakeTimeoutMs, maxPendingHandshakes, maxPendingPerSource })), handshakeTimeoutMs };
}
type Scene = Awaited<ReturnType<typeof startScene>>;

/** A connection doing what the test says: `received` counts what reached it; `closed` settles when it closes. */
interface Attacker {
  socket: Socket;
  received: number;
  isClosed: boolean;
  closed: Promise<void>;
}

function watch(t: TestContext, socket: Socket): Attacker {
  const attacker: Attacker = { socket, received: 0, isClosed: false, closed: Promise.resolve() };
  attacker.closed = new Promise((resolve) =>
    socket.once("close", () => {
      attacker.isClosed = true;
      resolve();
    }),
  );
  socket.on("data", (chunk: Buffer) => (attacker.received += chunk.length));
  socket.on("error", () => {});
  t.after(() => socket.destroy());
  return attacker;
}

/** A plain TCP connection that writes `bytes` (if any) and then never ends its side. */
function tcpAttacker(t: TestContext, port: number, bytes?: Buffer): Attacker {
  const socket = netConnect(port, "127.0.0.1");
  if (bytes !== undefined) socket.write(bytes);
  return watch(t, socket);
}

/** A TLS client: `received` counts decrypted bytes, `secured` says whether its handshake completed. */
function tlsAttacker(t: TestContext, port: number, options: ConnectionOptions): Attacker & { secured: Promise<boolean> } {
  const socket = tlsConnect({ host: "127.0.0.1", port, checkServerIdentity: () => undefined, ...options });
  const secured = new Promise<boolean>((resolve) => {
    socket.once("secureConnect", () => resolve(true));
    socket.once("close", () => resolve(false));
  });
  return Object.assign(watch(t, socket), { secured });
}

async function connected(attacker: Attacker): Promise<void> {
  await within(new Promise((resolve) => attacker.socket.once("connect", resolve)), "the attacker's TCP connection is up");
}

/**
 * Runs `attack` `times` times, a few at once, and checks that the node logged one line; then, after the
 * log interval, runs it once more and checks that the next line counts every attack suppressed before.
 */
async function assertLoggedOncePerInterval(scene: Scene, times: number, attack: () => Promise<void>, reason: RegExp): Promise<void> {
  const atOnce = 8; // below maxPendingHandshakes: every attack reaches the handshake
  for (let done = 0; done < times; done += atOnce) await Promise.all(Array.from({ length: Math.min(atOnce, times - done) }, attack));
  const first = scene.rejections();
  assert.equal(first.length, 1, `${times} attacks, one line: ${JSON.stringify(first)}`);
  assert.match(first[0]!.reason!, reason);
  assert.equal(first[0]!.suppressed, 0);
  await scene.clock.advance(LOG_INTERVAL_MS);
  await attack();
  const [, again, ...more] = scene.rejections();
  assert.deepEqual(more, []);
  assert.match(again!.reason!, reason);
  assert.equal(again!.suppressed, times - 1);
}

/** Bytes from a seeded generator, so that every run sends the same garbage. */
function garbage(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

test("a plaintext HTTP request is closed unanswered and logged once per interval", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t);
  const request = Buffer.from("GET /admin HTTP/1.1\r\nHost: node\r\n\r\n");
  await assertLoggedOncePerInterval(scene, 50, async () => {
    const attacker = tcpAttacker(t, scene.port, request);
    await closedByNode(attacker);
    assert.equal(attacker.received, 0, "not a byte of an answer");
  }, /^TLS handshake failed \(ERR_SSL_HTTP_REQUEST\)$/);
  await scene.assertGoodPeerUnharmed();
});

test("garbage of any size up to a megabyte is closed, each kind of failure logged once per interval", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t, { handshakeTimeoutMs: 100 });
  /** A TLS record header (type, version, length) in front of garbage. */
  const record = (type: number, length: number): Buffer => Buffer.concat([Buffer.from([type, 3, 3, length >> 8, length & 0xff]), garbage(64, length)]);
  const groups = [1, 4, 5, 64, 1000, 16 * 1024, 1024 * 1024].map((size) => [1, 2, 3].map((seed) => garbage(size, seed * 7919 + size)));
  groups.push([record(0x16, 0xffff), record(0x16, 64), record(0x17, 64), record(0x16, 4096), Buffer.alloc(100)]);
  const attacks = groups.flat().length;
  const round = async (): Promise<void> => {
    for (const group of groups) {
      const attackers = group.map((bytes) => tcpAttacker(t, scene.port, bytes));
      await Promise.all(attackers.map(connected));
      await scene.newPeerLinks(); // so the node has accepted them, and started their handshake timers
      // Fewer than 5 bytes are not yet a record header, and a header may promise more: the node waits, until its timeout.
      await scene.clock.advance(scene.handshakeTimeoutMs);
      await Promise.all(attackers.map(closedByNode));
    }
  };
  await round();
  await round();
  const first = scene.rejections();
  const reasons = first.map((line) => line.reason!);
  assert.deepEqual(reasons, [...new Set(reasons)], "no reason logged twice within the interval");
  assert.ok(reasons.includes("handshake not done within 100 ms"), reasons.join("; "));
  assert.ok(reasons.filter((reason) => /^TLS handshake failed \(ERR_SSL_[A-Z_]+\)$/.test(reason)).length >= 3, reasons.join("; "));
  assert.ok(first.every((line) => line.suppressed === 0));

  await scene.clock.advance(LOG_INTERVAL_MS);
  await round();
  const again = scene.rejections().slice(first.length);
  assert.deepEqual(again.map((line) => line.reason).sort(), [...reasons].sort(), "the same reasons, logged again after the interval");
  const suppressed = again.reduce((sum, line) => sum + line.suppressed!, 0);
  assert.equal(suppressed, 2 * attacks - first.length, "the new lines count every attack suppressed before");
  await scene.assertGoodPeerUnharmed();
});

for (const stranger of [
  { what: "a key id the node does not know", psk: () => memoizedPsk(OTHER_TOKEN), reason: /^TLS handshake failed: unknown PSK identity "kaffix1:[0-9a-f]{16}"/ },
  {
    what: "the node's key id with another key",
    psk: async () => ({ keyId: (await memoizedPsk(TOKEN)).keyId, key: (await memoizedPsk(OTHER_TOKEN)).key }),
    reason: /^TLS handshake failed \(ERR_SSL_BINDER_DOES_NOT_VERIFY\)$/,
  },
]) {
  test(`a TLS client presenting ${stranger.what} fails the handshake and never receives an application byte`, { timeout: 10_000 }, async (t) => {
    const scene = await startScene(t);
    const psk = await stranger.psk();
    await assertLoggedOncePerInterval(scene, 50, async () => {
      const attacker = tlsAttacker(t, scene.port, {
        minVersion: "TLSv1.3",
        ciphers: "TLS_AES_128_GCM_SHA256",
        pskCallback: () => ({ psk: psk.key, identity: pskIdentity(psk.keyId) }),
      });
      assert.equal(await attacker.secured, false);
      await closedByNode(attacker);
      assert.equal(attacker.received, 0, "no HELLO, nor any other application byte");
    }, stranger.reason);
    assert.deepEqual(scene.linked, ["good"]);
    await scene.assertGoodPeerUnharmed();
  });
}

test("a PSK identity carrying terminal escapes is logged as printable ASCII", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t);
  const { key } = await memoizedPsk(OTHER_TOKEN);
  const attacker = tlsAttacker(t, scene.port, { minVersion: "TLSv1.3", pskCallback: () => ({ psk: key, identity: "kaffix1:\u001b[2J\u001b[31mpwned\r\n" }) });
  await closedByNode(attacker);
  assert.equal(scene.rejections()[0]?.reason, 'TLS handshake failed: unknown PSK identity "kaffix1:?[2J?[31mpwned??" (is the token the same on both nodes?)');
  await scene.assertGoodPeerUnharmed();
});

for (const downgrade of [
  { what: "a TLS 1.2 client offering a PSK suite", options: { maxVersion: "TLSv1.2", ciphers: "PSK-AES128-GCM-SHA256" }, psk: true, code: "UNSUPPORTED_PROTOCOL" },
  { what: "a TLS 1.2 client offering ordinary suites", options: { maxVersion: "TLSv1.2" }, psk: false, code: "UNSUPPORTED_PROTOCOL" },
  { what: "a TLS 1.3 client without a PSK", options: { minVersion: "TLSv1.3" }, psk: false, code: "NO_SUITABLE_SIGNATURE_ALGORITHM" },
] as const) {
  test(`${downgrade.what} fails the handshake, receives nothing and is logged once per interval`, { timeout: 10_000 }, async (t) => {
    const scene = await startScene(t);
    const psk = await memoizedPsk(TOKEN);
    const options: ConnectionOptions = { ...downgrade.options };
    if (downgrade.psk) options.pskCallback = () => ({ psk: psk.key, identity: pskIdentity(psk.keyId) });
    await assertLoggedOncePerInterval(scene, 20, async () => {
      const attacker = tlsAttacker(t, scene.port, options);
      assert.equal(await attacker.secured, false);
      await closedByNode(attacker);
      assert.equal(attacker.received, 0);
    }, new RegExp(`^TLS handshake failed \\(ERR_SSL_${downgrade.code}\\)$`));
    assert.deepEqual(scene.linked, ["good"]);
    await scene.assertGoodPeerUnharmed();
  });
}

test("the recorded bytes of a good connection, replayed, fail the handshake and make no link", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t);
  // A recording proxy between an honest peer and the node.
  const recorded: Buffer[] = [];
  const proxy = createServer((client) => {
    const upstream = netConnect(scene.port, "127.0.0.1");
    for (const socket of [client, upstream]) socket.on("error", () => {}).on("close", () => (socket === client ? upstream : client).destroy());
    client.on("data", (chunk: Buffer) => recorded.push(Buffer.from(chunk)));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const honest = await peer(t, "honest", (proxy.address() as AddressInfo).port);
  await honest.roundTrip();
  await honest.transport.close();
  const replay = Buffer.concat(recorded);

  await assertLoggedOncePerInterval(scene, 20, async () => {
    const attacker = tcpAttacker(t, scene.port, replay);
    await closedByNode(attacker);
  }, /^TLS handshake failed \(ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC\)$/); // the recorded Finished, under the old keys
  assert.deepEqual(scene.linked, ["good", "honest"], "no link from a replay");
  assert.deepEqual([...scene.node.links.keys()], ["good"]);
  await scene.assertGoodPeerUnharmed();
});

/** The first bytes a TLS 1.3 client with our PSK sends: its ClientHello record. */
async function clientHello(t: TestContext): Promise<Buffer> {
  const psk = await memoizedPsk(TOKEN);
  const sink = createServer((socket) => socket.on("error", () => {}));
  t.after(() => sink.close());
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const first = new Promise<Buffer>((resolve) => sink.once("connection", (socket: Socket) => socket.once("data", resolve)));
  const client = tlsConnect({ port: (sink.address() as AddressInfo).port, host: "127.0.0.1", minVersion: "TLSv1.3", pskCallback: () => ({ psk: psk.key, identity: pskIdentity(psk.keyId) }) });
  client.on("error", () => {});
  t.after(() => client.destroy());
  return within(first, "a TLS client sends its ClientHello");
}

test("slowloris clients trickling a ClientHello are dropped at the handshake timeout, however steadily they send", { timeout: 10_000 }, async (t) => {
  const scene = await startScene(t, { handshakeTimeoutMs: 300 });
  const hello = await clientHello(t);
  const slowloris = async (count: number): Promise<void> => {
    const attackers = Array.from({ length: count }, () => tcpAttacker(t, scene.port));
    await Promise.all(attackers.map(connected));
    await scene.newPeerLinks(); // so the node has accepted them, and started their handshake timers
    for (let sent = 0; sent < 3; sent++) {
      assert.ok(attackers.every((a) => !a.isClosed), `after ${sent * 100} ms a slow client is still served`);
      for (const attacker of attackers) attacker.socket.write(hello.subarray(sent, sent + 1));
      await scene.assertGoodLinkUnharmed();
      await scene.clock.advance(100); // a byte per 100 ms of the node's clock: each arrives before the timeout
    }
    await Promise.all(attackers.map(closedByNode));
  };
  await slowloris(7); // with the probing peer, within the 8 pending handshakes one source may hold
  assert.deepEqual(scene.rejections().map((line) => line.reason), ["handshake not done within 300 ms"]);
  await scene.clock.advance(LOG_INTERVAL_MS);
  await slowloris(1);
  assert.equal(scene.rejections()[1]?.suppressed, 6);
  await scene.assertGoodPeerUnharmed();
});

for (const bound of ["per source", "overall"] as const) {
  test(`a flood of half-open connections cannot lock out new peers: beyond the bound ${bound}, the oldest pending ones are dropped`, { timeout: 15_000 }, async (t) => {
    const cap = 8;
    const scene = await startScene(t, bound === "per source" ? { maxPendingPerSource: cap, maxPendingHandshakes: 64 } : { maxPendingPerSource: 1000, maxPendingHandshakes: cap });
    const attackers = Array.from({ length: 300 }, () => tcpAttacker(t, scene.port));
    await eventually(() => attackers.filter((a) => a.isClosed).length >= 300 - cap, `${300 - cap} of 300 are dropped`, 5000);
    assert.equal(attackers.filter((a) => !a.isClosed).length, cap, "the node holds its bound of pending connections, no more");
    // While the newest attackers still hold every slot, a real peer gets in: it pushes the oldest out.
    await scene.assertGoodPeerUnharmed();
    const reasons = scene.rejections().map((line) => line.reason);
    assert.equal(reasons.length, 1, "one log line for the whole flood");
    assert.match(reasons[0]!, /pending handshakes.*the oldest was dropped/);
    await scene.clock.advance(scene.handshakeTimeoutMs);
    await Promise.all(attackers.map(closedByNode));
  });
}
