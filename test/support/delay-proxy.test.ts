// The delay proxy the region tests put between regions: bytes intact and in order, delayed, bounded, and closed cleanly.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DelayProxy } from "./delay-proxy.js";

const DELAY_MS = 15;

/** A server on 127.0.0.1 calling `onSocket` for each connection; closed after the file's tests. */
async function server(onSocket: (socket: Socket) => void): Promise<{ server: Server; address: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const srv = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => srv.listen({ host: "127.0.0.1", port: 0 }, resolve));
  after(() => {
    for (const socket of sockets) socket.destroy();
    srv.close();
  });
  return { server: srv, address: `127.0.0.1:${(srv.address() as AddressInfo).port}`, sockets };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.once("error", reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once("close", () => resolve()));
}

/** Reads from `socket` until `bytes` bytes arrived; resolves with them. */
function receive(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) {
        socket.off("data", onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`closed after ${got} of ${bytes} bytes`)));
  });
}

/** Resolves once `check()` holds; rejects if it still does not after `boundMs` (a hang, not a slow machine). */
async function eventually(check: () => boolean, boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`still not so after ${boundMs} ms`);
    await sleep(10);
  }
}

describe("delay proxy", () => {
  test("bytes sent through it both ways arrive intact and in order", async (t) => {
    const echo = await server((socket) => socket.pipe(socket));
    const proxy = await DelayProxy.start({ target: echo.address, delayMs: DELAY_MS });
    t.after(() => proxy.close());
    const client = await dial(proxy.port);
    const payload = randomBytes(2 * 1024 * 1024);
    const echoed = receive(client, payload.length);
    // Many writes of odd sizes, so that chunks are split and merged along the way.
    for (let at = 0; at < payload.length; at += 7_919) client.write(payload.subarray(at, at + 7_919));
    assert.ok((await echoed).equals(payload), "the echoed bytes differ from those sent");
    client.destroy();
  });

  test("a round trip through it takes at least the delay in each direction", async (t) => {
    const echo = await server((socket) => socket.pipe(socket));
    const proxy = await DelayProxy.start({ target: echo.address, delayMs: DELAY_MS });
    t.after(() => proxy.close());
    const client = await dial(proxy.port);
    for (let i = 0; i < 3; i++) {
      const began = performance.now();
      const reply = receive(client, 5);
      client.write("ping\n");
      assert.equal((await reply).toString(), "ping\n");
      const tookMs = performance.now() - began;
      assert.ok(tookMs >= 2 * DELAY_MS, `round trip ${tookMs.toFixed(1)} ms, below 2 × ${DELAY_MS} ms`);
    }
    client.destroy();
  });

  test("a receiver that stops reading makes it pause the sender instead of buffering without bound", async (t) => {
    const limit = 64 * 1024;
    const stalled = await server((socket) => socket.pause()); // never reads
    const proxy = await DelayProxy.start({ target: stalled.address, delayMs: 1, maxBufferedBytes: limit });
    t.after(() => proxy.close());
    const client = await dial(proxy.port);
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 256; i++) client.write(chunk); // 16 MiB offered
    // The kernel's socket buffers on the way absorb some of it (how much varies); then the proxy must pause the sender.
    await eventually(() => proxy.stats().paused === 1, 10_000);
    await sleep(200);
    const { maxBufferedBytes } = proxy.stats();
    // The bound: the limit, plus one chunk read before the pause, plus the socket's own high-water mark.
    assert.ok(maxBufferedBytes <= limit + 64 * 1024 + 16 * 1024, `the proxy held ${maxBufferedBytes} bytes for one direction (limit ${limit})`);
    client.destroy();
  });

  test("a side that closes closes the other side, and so does a refused upstream", async (t) => {
    const ended: Socket[] = [];
    const finReceived: boolean[] = [];
    const target = await server((socket) => {
      const index = ended.push(socket) - 1;
      finReceived[index] = false;
      socket.on("end", () => (finReceived[index] = true));
      socket.resume();
    });
    const proxy = await DelayProxy.start({ target: target.address, delayMs: DELAY_MS });
    t.after(() => proxy.close());

    const client = await dial(proxy.port);
    client.write("hello");
    client.end();
    await eventually(() => finReceived[0] === true, 5_000); // the client's FIN reaches the upstream
    ended[0]!.end();
    await closed(client);

    const second = await dial(proxy.port);
    await eventually(() => ended[1] !== undefined, 5_000);
    ended[1]!.destroy(); // an upstream that drops the connection
    await closed(second);

    const refused = await DelayProxy.start({ target: "127.0.0.1:1", delayMs: DELAY_MS });
    t.after(() => refused.close());
    await closed(await dial(refused.port));
    // The proxy's own sockets close a moment after the client's: wait for that, within a generous bound.
    await eventually(() => proxy.stats().connections === 0 && refused.stats().connections === 0, 5_000);
    assert.deepEqual({ ...proxy.stats(), maxBufferedBytes: 0 }, { connections: 0, timers: 0, paused: 0, maxBufferedBytes: 0, accepted: 2 });
  });

  test("close() ends every connection and leaves no timer behind", async () => {
    const echo = await server((socket) => socket.pipe(socket));
    const proxy = await DelayProxy.start({ target: echo.address, delayMs: 200 });
    const clients = await Promise.all([dial(proxy.port), dial(proxy.port), dial(proxy.port)]);
    for (const client of clients) client.write("in flight when the proxy closes");
    await eventually(() => proxy.stats().timers > 0, 5_000); // data waiting out its delay
    await proxy.close();
    await Promise.all(clients.map(closed));
    assert.deepEqual({ connections: proxy.stats().connections, timers: proxy.stats().timers, paused: proxy.stats().paused }, { connections: 0, timers: 0, paused: 0 });
    await assert.rejects(dial(proxy.port), "the proxy still accepts connections after close()");
  });
});
