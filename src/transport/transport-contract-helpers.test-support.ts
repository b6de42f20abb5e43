// Helpers of the transport contract suite: the nodes a test starts, and small waits and payload makers.

import assert from "node:assert/strict";
import { setImmediate as nextImmediate, setTimeout as sleep } from "node:timers/promises";
import { KaffixError } from "../errors.js";
import { PROTOCOL_VERSION } from "./hello.js";
import type { Hello, Lane, Link, Transport, TransportLimits } from "./transport.js";

/** A transport as the suite needs it: both implementations expose the hello they send. */
export interface ContractTransport extends Transport {
  /** This node's hello as sent; `listen()` fills in an empty `address`. */
  readonly hello: Hello;
}

export interface TransportFactory {
  /**
   * A new, not yet listening transport for one node. `hello.address` is "": `listen()` must fill it
   * in (read back as `transport.hello.address`) with an address the other transports can dial.
   */
  create(options: { hello: Hello; limits?: Partial<TransportLimits> }): ContractTransport;
  /** Runs after each test, once every transport it made is closed. */
  dispose?(): void | Promise<void>;
}

export interface Node {
  transport: ContractTransport;
  nodeId: string;
  address: string;
  /** Every link `onLink` announced, in order. */
  linked: Link[];
}

export interface NodeOptions {
  app?: string;
  protocol?: number;
  limits?: Partial<TransportLimits>;
}

/** The transports one test made, so that each test ends with all of them closed. */
export class Nodes {
  readonly factory: TransportFactory;
  readonly #transports: ContractTransport[] = [];
  #count = 0;

  constructor(factory: TransportFactory) {
    this.factory = factory;
  }

  track(transport: ContractTransport): void {
    this.#transports.push(transport);
  }

  /** A listening node; node ids sort in the order `start` was called. */
  async start(options: NodeOptions = {}): Promise<Node> {
    const nodeId = `node-${String(++this.#count).padStart(2, "0")}`;
    const hello = helloFor(nodeId, options);
    const transport = this.factory.create(options.limits === undefined ? { hello } : { hello, limits: options.limits });
    this.track(transport);
    const linked: Link[] = [];
    transport.onLink((link) => linked.push(link));
    await transport.listen();
    assert.notEqual(transport.hello.address, "", "listen() fills in hello.address");
    return { transport, nodeId, address: transport.hello.address, linked };
  }

  /** Two listening nodes with the same options; the first has the smaller node id. */
  async two(options: NodeOptions = {}): Promise<[Node, Node]> {
    return [await this.start(options), await this.start(options)];
  }

  async close(): Promise<void> {
    await Promise.all(this.#transports.map((transport) => transport.close()));
    await this.factory.dispose?.();
  }
}

export function helloFor(nodeId: string, options: NodeOptions = {}): Hello {
  return {
    protocol: options.protocol ?? PROTOCOL_VERSION,
    app: options.app ?? "contract",
    nodeId,
    incarnation: 1,
    address: "",
    services: { greeter: "v1" },
  };
}

/** `a` dials `b`; resolves once both sides have their end. */
export async function linkPair(a: Node, b: Node): Promise<{ ab: Link; ba: Link }> {
  const ab = await a.transport.connect(b.address);
  const ba = await until(`${b.nodeId} has a link to ${a.nodeId}`, () => {
    const link = b.transport.links.get(a.nodeId);
    return link !== undefined && !link.closed ? link : undefined;
  });
  return { ab, ba };
}

export function assertNoLinks(...nodes: Node[]): void {
  for (const node of nodes) {
    assert.equal(node.transport.links.size, 0, `${node.nodeId} has no links`);
    assert.deepEqual(node.linked, [], `onLink never fired on ${node.nodeId}`);
  }
}

export function collect(link: Link): { lane: Lane; payload: Uint8Array }[] {
  const inbox: { lane: Lane; payload: Uint8Array }[] = [];
  link.onMessage((lane, payload) => inbox.push({ lane, payload: Uint8Array.from(payload) }));
  return inbox;
}

export function lanePayloads(messages: { lane: Lane; payload: Uint8Array }[], lane: Lane): Uint8Array[] {
  return messages.filter((m) => m.lane === lane).map((m) => Uint8Array.from(m.payload));
}

/** `size` bytes that differ with `seed`, so a mix-up of two payloads shows. */
export function patterned(size: number, seed: number): Uint8Array {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + seed * 7) & 0xff;
  return payload;
}

export function bytes(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

export function text(payload: Uint8Array): string {
  return new TextDecoder().decode(payload);
}

export function hasCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof KaffixError, `expected a KaffixError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** Resolves with the first truthy value of `probe`; fails the test naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; ; round++) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    if (round < 20) await nextImmediate();
    else await sleep(2);
  }
}

/** Grace for checks that something does not happen: a few turns of the event loop and a little I/O time. */
export async function quiet(): Promise<void> {
  for (let i = 0; i < 10; i++) await nextImmediate();
  await sleep(25);
}
