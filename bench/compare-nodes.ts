// One node of either system compared by bench/compare.ts, behind the same small interface: start, publish, request, stop.
//
// The same program on every node of a system: a Sink that counts numbers, an Echo that answers with
// its message, and (Kaffix only) a Driver, so that a sender runs no Sink or Echo and every message
// crosses the wire. What a node runs depends on its part:
//
//   part       Kaffix                                        Moleculer 0.14
//   ────────   ───────────────────────────────────────────   ────────────────────────────────────────────
//   local      one App with Sink and Echo, no peers           one broker without transporter, sink and echo
//   sender     services: ["Driver"], joined by the receivers  TCP transporter, no services
//   receiver   services: ["Sink", "Echo"], joins the sender   TCP transporter, sink (event) and echo (action)

import { ServiceBroker, type Context as MoleculerContext } from "moleculer";
import { App, Service } from "../src/index.js";
import { stderrLogger, type Num } from "./cross-node-peer.js";

export const SYSTEM_IDS = ["kaffix", "moleculer"] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];
export type Part = "local" | "sender" | "receiver";
/** Moleculer's serializers tried; the faster one goes on. MsgPack needs msgpack5, Notepack notepack.io. */
export const SERIALIZERS = ["JSON", "MsgPack", "Notepack"] as const;
export type Serializer = (typeof SERIALIZERS)[number];

export interface NodeConfig {
  system: SystemId;
  part: Part;
  /** Moleculer's nodeID; Kaffix makes its own. Distinct for every node of a run. */
  name: string;
  /** Moleculer: this node's TCP port, fixed so that the static urls can name it. Kaffix: 0 (any). */
  port: number;
  /** Kaffix: host:port of the node to join. Moleculer: every node's "127.0.0.1:port/nodeID", its own included. */
  peers: string[];
  serializer: Serializer;
  /** Kaffix's cluster token. */
  token: string;
}

/** What a receiver's handlers report to. */
export interface Receipts {
  sink(n: number): void;
  echo(): void;
}

export interface BenchNode {
  /** The port peers reach this node on. */
  readonly port: number;
  publish(n: number): Promise<unknown>;
  /**
   * One round trip to Echo; rejects when the answer is not `n`. `timeoutMs` 0 means the system's
   * default: Kaffix's 10 s deadline, which every request carries; no timeout at all for Moleculer.
   */
  request(n: number, timeoutMs: number): Promise<void>;
  /** Remote nodes this node sees running Sink and Echo, linked and ready for messages. */
  receiversReady(): number;
  /** Messages this node still holds until another node has them (Kaffix's outbox and waiting publishes; Moleculer keeps none). */
  pending(): number;
  stop(): Promise<void>;
}

const SINK_EVENT = "compare.sink";
let receipts: Receipts = { sink: () => {}, echo: () => {} };

export async function startNode(config: NodeConfig, handlers: Receipts): Promise<BenchNode> {
  receipts = handlers;
  return config.system === "kaffix" ? startKaffix(config) : startMoleculer(config);
}

const checkEcho = (reply: unknown, n: number): void => {
  if ((reply as Num | undefined)?.n !== n) throw new Error(`Echo answered ${JSON.stringify(reply)} to ${n}`);
};

// ── Kaffix ──────────────────────────────────────────────────────────────────────────────────────

class Sink extends Service<Num> {
  static id = "Sink";
  onMessage(message: Num): void {
    receipts.sink(message.n);
  }
}
class Echo extends Service<Num, Num> {
  static id = "Echo";
  onMessage(message: Num): Num {
    receipts.echo();
    return message;
  }
}
/** The only service a sender runs, so that every message to Sink or Echo has to cross the wire. */
class Driver extends Service<Num> {
  static id = "Driver";
  onMessage(): void {}
}

const KAFFIX_SERVICES: Record<Part, string[]> = { local: ["Sink", "Echo"], sender: ["Driver"], receiver: ["Sink", "Echo"] };

async function startKaffix(config: NodeConfig): Promise<BenchNode> {
  const app = new App({ name: "kaffix-bench-compare" }).addService(Sink).addService(Echo).addService(Driver);
  await app.start({
    token: config.token,
    port: 0,
    host: "127.0.0.1",
    peers: config.part === "local" ? [] : config.peers,
    services: KAFFIX_SERVICES[config.part],
    logger: stderrLogger(),
  });
  return {
    port: app.port,
    publish: (n) => app.publish(Sink, { n }),
    request: async (n, timeoutMs) => checkEcho(await app.request(Echo, { n }, timeoutMs > 0 ? { timeoutMs } : undefined), n),
    receiversReady() {
      const { members, peers } = app.cluster();
      const linked = new Set(peers.map((p) => p.id));
      return members.filter((m) => m.id !== app.nodeId && m.state === "alive" && linked.has(m.id) && m.services.includes("Sink") && m.services.includes("Echo")).length;
    },
    pending() {
      const { outbox, parked } = app.cluster().self.delivery;
      return outbox + parked;
    },
    stop: () => app.stop({ timeoutMs: 1000 }),
  };
}

// ── Moleculer ───────────────────────────────────────────────────────────────────────────────────

/** Moleculer's own log, at warn to stderr, when COMPARE_MOLECULER_LOG is set; off otherwise (it logs each lost event). */
const moleculerLogger = process.env.COMPARE_MOLECULER_LOG ? { type: "Console", options: { level: "warn", colors: false } } : false;

interface ListedNode {
  local: boolean;
  services?: { name: string }[];
}

async function startMoleculer(config: NodeConfig): Promise<BenchNode> {
  const broker = new ServiceBroker({
    namespace: "kaffix-compare",
    nodeID: config.name,
    logger: moleculerLogger,
    transporter: config.part === "local" ? null : { type: "TCP", options: { udpDiscovery: false, port: config.port, urls: config.peers } },
    serializer: config.serializer,
    skipProcessEventRegistration: true, // the bench process decides when a node stops
  });
  if (config.part !== "sender") {
    broker.createService({
      name: "sink",
      events: {
        [SINK_EVENT](ctx: MoleculerContext<Num>) {
          receipts.sink(ctx.params.n);
        },
      },
    });
    broker.createService({
      name: "echo",
      actions: {
        echo(ctx: MoleculerContext<Num>): Num {
          receipts.echo();
          return ctx.params;
        },
      },
    });
  }
  await broker.start();
  return {
    port: config.port,
    publish: (n) => broker.emit(SINK_EVENT, { n }),
    // A call timeout costs Moleculer a timer per call; without one (its default) a call has none.
    request: async (n, timeoutMs) => checkEcho(await broker.call("echo.echo", { n }, timeoutMs > 0 ? { timeout: timeoutMs } : undefined), n),
    receiversReady() {
      const nodes = broker.registry.nodes.list({ onlyAvailable: true, withServices: true }) as ListedNode[];
      const runs = (node: ListedNode, name: string) => node.services?.some((s) => s.name === name) === true;
      return nodes.filter((node) => !node.local && runs(node, "sink") && runs(node, "echo")).length;
    },
    pending: () => 0,
    stop: () => broker.stop(),
  };
}
