// The scene the hostile-input tests attack: a real node, a good peer chattering with it, and the node's log lines.

import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { Clock } from "../clock.js";
import { ManualClock } from "../testing/manual-clock.js";
import { PROTOCOL_VERSION } from "./hello.js";
import { derivePsk, type Psk } from "./psk.js";
import { TlsTransport } from "./tls-transport.js";
import type { Hello, Lane, Link, TransportLimits } from "./transport.js";

export const TOKEN = "hostile-scene-test-token-0123456789abcdef";
/** The interval of the node's LogLimiter. */
export const LOG_INTERVAL_MS = 10_000;

/** scrypt costs ~60 ms a token: each test token is derived once for the whole test file. */
const derived = new Map<string, Promise<Psk>>();
export function memoizedPsk(token: string): Promise<Psk> {
  let psk = derived.get(token);
  if (psk === undefined) derived.set(token, (psk = derivePsk(token)));
  return psk;
}

export function helloFor(nodeId: string): Hello {
  return { protocol: PROTOCOL_VERSION, app: "shop", nodeId, incarnation: 1, address: "", services: {} };
}

/** Resolves with `promise`, or fails after `timeoutMs` saying what did not happen. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function eventually(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function closedByNode(connection: { closed: Promise<void> }): Promise<void> {
  await within(connection.closed, "the node closes the connection");
}

interface LogLine {
  msg: string;
  reason?: string;
  suppressed?: number;
}

/** A TlsTransport linked to `port` (not listening itself) whose DATA payloads come back echoed. */
export async function peer(t: TestContext, nodeId: string, port: number, limits?: Partial<TransportLimits>) {
  const transport = new TlsTransport({ hello: helloFor(nodeId), tokens: [TOKEN], host: "127.0.0.1", port: 0, limits, logger: pino({ level: "silent" }), derivePsk: memoizedPsk });
  t.after(() => transport.close());
  const link: Link = await within(transport.connect(`127.0.0.1:${port}`), `${nodeId} links to the node`);
  const echoes: string[] = [];
  const waiting = new Map<string, () => void>();
  link.onMessage((_lane, payload) => {
    const text = Buffer.from(payload).toString();
    echoes.push(text);
    waiting.get(text)?.();
  });
  let trips = 0;
  const roundTrip = async (): Promise<void> => {
    const text = `round trip ${++trips}`;
    const echoed = new Promise<void>((resolve) => waiting.set(text, resolve));
    assert.ok(link.send("data", Buffer.from(text)));
    await within(echoed, `${nodeId} gets its payload echoed`);
  };
  return { transport, link, echoes, roundTrip };
}

export interface SceneOptions<C extends Clock> {
  clock?: C;
  limits?: Partial<TransportLimits>;
  handshakeTimeoutMs?: number;
  maxPendingHandshakes?: number;
  maxPendingPerSource?: number;
}

/**
 * A node that records and echoes DATA, and a good peer linked to it that sends a payload every 10 ms.
 * The node's clock is a manual one unless the test needs the link's own timers to run; options left out
 * are the transport's defaults, but for the node's idle timeout.
 */
export async function startScene<C extends Clock = ManualClock>(t: TestContext, options: SceneOptions<C> = {}) {
  const lines: LogLine[] = [];
  const clock = (options.clock ?? new ManualClock()) as C;
  const node = new TlsTransport({
    hello: helloFor("node"),
    tokens: [TOKEN],
    host: "127.0.0.1",
    port: 0,
    // Outlasts the log interval, so that moving the clock past that interval leaves the good link be.
    limits: options.limits ?? { idleTimeoutMs: 10 * LOG_INTERVAL_MS },
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    maxPendingHandshakes: options.maxPendingHandshakes,
    maxPendingPerSource: options.maxPendingPerSource,
    logger: pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) }),
    clock,
    derivePsk: memoizedPsk,
  });
  t.after(() => node.close());
  const port = await node.listen();
  const linked: string[] = [];
  const received = new Map<string, [Lane, string][]>();
  node.onLink((link) => {
    linked.push(link.remote.nodeId);
    const payloads: [Lane, string][] = [];
    received.set(link.remote.nodeId, payloads);
    link.onMessage((lane, payload) => {
      payloads.push([lane, Buffer.from(payload).toString()]);
      if (lane === "data" && !link.closed) link.send("data", payload);
    });
  });

  const good = await peer(t, "good", port, options.limits);
  const atNode = node.links.get("good")!;
  const closes: string[] = [];
  good.link.onClose((reason) => closes.push(`at the good peer: ${reason}`));
  atNode.onClose((reason) => closes.push(`at the node: ${reason}`));
  let chatter = 0;
  const timer = setInterval(() => good.link.closed || good.link.send("data", Buffer.from(`chatter ${chatter++}`)), 10);
  t.after(() => clearInterval(timer));

  /** Fails unless the good link never closed and still carries a round trip while the chatter goes on. */
  const assertGoodLinkUnharmed = async (): Promise<void> => {
    assert.deepEqual(closes, [], "the good peer's link never closed");
    assert.equal(node.links.get("good"), atNode, "the node kept the good peer's link");
    const echoesBefore = good.echoes.length;
    await good.roundTrip();
    await eventually(() => good.echoes.length > echoesBefore + 1, "the good peer's chatter goes on");
  };
  let latePeers = 0;
  /** Links and unlinks a new peer. Once it is up the node has accepted every connection made before it: the accept queue is first in, first out. */
  const newPeerLinks = async (): Promise<void> => {
    const late = await peer(t, `late-${++latePeers}`, port, options.limits);
    await late.roundTrip();
    await late.transport.close();
  };
  return {
    node,
    port,
    clock,
    limits: options.limits,
    /** Node ids of every link the node adopted. */
    linked,
    /** What the node received from each peer, by node id, in order. */
    received,
    /** Lines the node logged about connections it rejected before they became links. */
    rejections: (): LogLine[] => lines.filter((line) => line.msg.startsWith("rejected a connection")),
    /** Lines the node logged when its link to `nodeId` closed. */
    closeLines: (nodeId: string): LogLine[] => lines.filter((line) => line.msg.startsWith(`link to node ${nodeId} closed`)),
    assertGoodLinkUnharmed,
    newPeerLinks,
    /** Also links a new peer: a handshake slot that an attack still held would show here. */
    async assertGoodPeerUnharmed(): Promise<void> {
      await assertGoodLinkUnharmed();
      await newPeerLinks();
    },
  };
}
export type Scene = Awaited<ReturnType<typeof startScene>>;
