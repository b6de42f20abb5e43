// A deterministic simulation of cross-node delivery: driver and worker nodes (transport, membership, runtime,
// messaging) on one InProcessNetwork, one ManualClock and seeded randomness, with kill -9, replacement and pause.

import { cpus } from "node:os";
import { pino } from "pino";
import { PausableClock, seeded, Simulation } from "../cluster/membership-simulation.test-support.js";
import { Membership } from "../cluster/membership.js";
import type { NodeState } from "../cluster/node-state.js";
import type { Clock } from "../clock.js";
import type { Context } from "../core/context.js";
import type { DeadLetter } from "../core/dead-letters.js";
import { NodeRuntime } from "../core/node-runtime.js";
import { ServiceRegistry } from "../core/service-registry.js";
import { Service } from "../core/service.js";
import { KaffixError } from "../errors.js";
import { FAST_MEMBERSHIP } from "../testing/fast-membership.js";
import { ManualClock, settle } from "../testing/manual-clock.js";
import { PROTOCOL_VERSION } from "../transport/hello.js";
import { InProcessNetwork, type InProcessTransport } from "../transport/in-process-transport.js";
import { hash32 } from "../hash.js";
import { Messaging } from "./messaging.js";

const WORKER_SERVICES: readonly string[] = ["Ingest", "Transform", "Sink", "Echo"];
/** Cores every node claims: routing compares capacities, and the host's own core count would make runs differ by machine. */
const CORES = 4;
/** Clock steps of the run loop; immediates run between steps, as they would between two socket reads. */
export const STEP_MS = 10;

/**
 * Mailboxes time handlers with performance.now(), and routing compares those times: a handler that waits on the
 * simulated clock would otherwise take a different real time on each run, and a seed would not replay. While a
 * simulation runs, performance.now() reads its clock.
 */
const realNow = performance.now.bind(performance);
let simulatedTime: ManualClock | undefined;
performance.now = () => simulatedTime?.now() ?? realNow();

export interface Message {
  id: string;
}

/** What the sinks processed: how many times each id, and the ids each node recorded, in order. */
export class SinkRecords {
  readonly counts = new Map<string, number>();
  readonly byNode = new Map<string, string[]>();
  total = 0;

  add(id: string, node: string): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    let ids = this.byNode.get(node);
    if (ids === undefined) this.byNode.set(node, (ids = []));
    ids.push(id);
    this.total++;
  }

  /** Records made by `node` so far. */
  of(node: string): number {
    return this.byNode.get(node)?.length ?? 0;
  }

  get duplicates(): number {
    return this.total - this.counts.size;
  }
}

/** How the pipeline misbehaves in a scenario. */
export interface Behaviour {
  /** Transform throws for this id: a plain Error (retried, then dead-lettered) or a non-retryable KaffixError. */
  poison?: { id: string; retryable: boolean };
  /** Ingest on the driver never passes its messages on (a slow handler): they are there, and copied, until the driver dies. */
  holdOnDriver?: boolean;
  /** Transform and Echo take from half to one and a half times this long, in simulated ms. Default 0. */
  handlerMs?: number;
}

interface PipelineHost {
  readonly records: SinkRecords;
  readonly heldOnDriver: Set<string>;
  readonly behaviour: Behaviour;
}

/** Ingest → Transform → Sink, Echo and Driver, as test/fixtures/pipeline-app.ts has them; one set of classes per node. */
function pipeline(sim: PipelineHost, onDriver: boolean, clock: Clock, random: () => number): ServiceRegistry {
  const { records, behaviour } = sim;
  const work = (): Promise<void> | undefined => {
    const ms = behaviour.handlerMs ?? 0;
    return ms > 0 ? new Promise((resolve) => clock.setTimeout(resolve, ms * (0.5 + random()))) : undefined;
  };
  class Sink extends Service<Message> {
    static id = "Sink";
    onMessage(message: Message, ctx: Context): void {
      records.add(message.id, ctx.node);
    }
  }
  class Transform extends Service<Message> {
    static id = "Transform";
    async onMessage(message: Message, ctx: Context): Promise<void> {
      const poison = behaviour.poison;
      if (poison?.id === message.id) {
        if (poison.retryable) throw new Error(`poison message ${message.id}`);
        throw new KaffixError("HANDLER_ERROR", `poison message ${message.id}`);
      }
      await work();
      await ctx.publish(Sink, { id: message.id });
    }
  }
  class Ingest extends Service<Message> {
    static id = "Ingest";
    async onMessage(message: Message, ctx: Context): Promise<void> {
      if (onDriver && behaviour.holdOnDriver) {
        sim.heldOnDriver.add(message.id);
        await new Promise<never>(() => {});
      }
      await ctx.publish(Transform, { id: message.id });
    }
  }
  class Echo extends Service<Message, { id: string; node: string }> {
    static id = "Echo";
    async onMessage(message: Message, ctx: Context): Promise<{ id: string; node: string }> {
      await work();
      return { id: message.id, node: ctx.node };
    }
  }
  /** Runs on the driver so that it is a member with a service of its own; never sent anything. */
  class Driver extends Service<unknown> {
    static id = "Driver";
    onMessage(): void {}
  }
  const registry = new ServiceRegistry();
  // Holding, the driver's Ingest starts every message it takes: the ids it holds are then the ids it took.
  registry.add(Ingest, onDriver && behaviour.holdOnDriver ? { concurrency: 100_000 } : {});
  for (const service of [Transform, Sink, Echo, Driver]) registry.add(service);
  return registry;
}

/** The state ClusterNode gossips, fixed: routing reads `running` and `capacity`. */
function nodeState(services: readonly string[]): NodeState {
  return {
    region: "default",
    capacity: { cores: CORES, memoryBytes: 2 ** 33, weight: 1 },
    labels: [],
    services: [...services],
    running: Object.fromEntries(services.map((id) => [id, { queued: 0, arrivalPerSec: 0, serviceTimeMs: 0 }])),
    eventLoopLagMs: { mean: 0, p99: 0 },
  };
}

export interface SimNode {
  readonly id: string;
  readonly address: string;
  readonly transport: InProcessTransport;
  readonly membership: Membership;
  readonly runtime: NodeRuntime;
  readonly messaging: Messaging;
  /** Paused with the node; paused for good when it is killed, so none of its timers fires again. */
  readonly clock: PausableClock;
}

export interface DeliverySimulationOptions {
  seed: number;
  workers: number;
  behaviour?: Behaviour;
  /** Services the driver runs besides Driver. */
  driverAlso?: readonly string[];
}

export class DeliverySimulation implements PipelineHost {
  readonly clock = new ManualClock(0);
  readonly seed: number;
  readonly random: () => number;
  readonly network: InProcessNetwork;
  readonly records = new SinkRecords();
  /** Ids the driver's Ingest took, and holds (with `holdOnDriver`). */
  readonly heldOnDriver = new Set<string>();
  /** Running nodes by id. */
  readonly nodes = new Map<string, SimNode>();
  readonly killed: SimNode[] = [];
  /** The node id of each worker slot's current life: w0, then w0-2 once replaced, … */
  readonly slots: string[] = [];
  readonly behaviour: Behaviour;
  readonly #logger = pino({ level: process.env.KAFFIX_SIM_LOG ?? "silent" });
  #driver: SimNode | undefined;
  #lives = new Map<number, number>();

  private constructor(options: DeliverySimulationOptions) {
    this.seed = options.seed;
    this.random = seeded(options.seed);
    this.network = new InProcessNetwork({ clock: this.clock, random: seeded(options.seed * 7919 + 1) });
    this.network.setLatency(2, { jitterMs: 3 });
    this.behaviour = options.behaviour ?? {};
  }

  /** The driver, then `workers` workers joining through it, run until every node sees every other alive. */
  static async start(options: DeliverySimulationOptions): Promise<DeliverySimulation> {
    const sim = new DeliverySimulation(options);
    simulatedTime = sim.clock;
    sim.#driver = await sim.#startNode("driver", ["Driver", ...(options.driverAlso ?? [])], []);
    for (let slot = 0; slot < options.workers; slot++) {
      sim.slots.push(`w${slot}`);
      await sim.#startNode(`w${slot}`, WORKER_SERVICES, ["driver"]);
      await sim.run(50);
    }
    if ((await sim.until(() => sim.agree(), 30_000)) === undefined) throw new Error(`seed ${options.seed}: the cluster never converged`);
    return sim;
  }

  get driver(): SimNode {
    return this.#driver!;
  }

  worker(slot: number): SimNode {
    return this.nodes.get(this.slots[slot]!)!;
  }

  async #startNode(id: string, services: readonly string[], seeds: readonly string[]): Promise<SimNode> {
    const address = Simulation.addressOf(id);
    const clock = new PausableClock(this.clock);
    const logger = this.#logger.child({ node: id });
    const random = seeded(this.seed * 31 + hash32(id));
    const registry = pipeline(this, id === "driver", clock, seeded(this.seed * 37 + hash32(id)));
    const contracts = registry.catalog();
    const transport = this.network.transport({ hello: { protocol: PROTOCOL_VERSION, app: "sim", nodeId: id, incarnation: 1, address, services: contracts } });
    await transport.listen();
    const membership = new Membership({
      transport,
      self: { nodeId: id, address, incarnation: 1, meta: { version: 1, data: { ...nodeState(services) } } },
      clock,
      random,
      logger,
      options: FAST_MEMBERSHIP,
    });
    const runtime = new NodeRuntime({ nodeId: id, registry, clock, logger, deadLetterLimit: 1000, random, observeDuration: () => {} });
    const messaging = new Messaging({ runtime, transport, membership, contracts, weight: CORES / cpus().length, clock, random, logger });
    runtime.attach(messaging);
    await runtime.activateAll(services);
    membership.join(seeds.map(Simulation.addressOf)).catch(() => {}); // a failed join shows as a cluster that never agrees
    const node: SimNode = { id, address, transport, membership, runtime, messaging, clock };
    this.nodes.set(id, node);
    return node;
  }

  /**
   * kill -9: links reset, and nothing of the node runs again. Its timers never fire (its clock stays
   * paused), its mailboxes are halted, and its messaging is stopped, which fails what only it held
   * (promises nobody alive awaits) and keeps its parked messages from looping on halted mailboxes.
   */
  kill(id: string): void {
    const node = this.nodes.get(id)!;
    this.network.kill(node.address);
    node.clock.pause();
    node.membership.stop();
    for (const mailbox of node.runtime.mailboxes.values()) mailbox.halt();
    node.messaging.stop();
    this.nodes.delete(id);
    this.killed.push(node);
  }

  /** Kills the worker in `slot` and starts a fresh one (a new node id) joining through a random running node. */
  async replace(slot: number): Promise<SimNode> {
    this.kill(this.slots[slot]!);
    const life = (this.#lives.get(slot) ?? 1) + 1;
    this.#lives.set(slot, life);
    const live = [...this.nodes.keys()];
    const through = live[Math.floor(this.random() * live.length)]!;
    const id = `w${slot}-${life}`;
    this.slots[slot] = id;
    return this.#startNode(id, WORKER_SERVICES, [through]);
  }

  /** SIGSTOP: the node reads nothing and its timers wait; what it had already queued to run still runs. */
  pause(id: string): void {
    const node = this.nodes.get(id)!;
    this.network.pauseDelivery(node.address);
    node.clock.pause();
  }

  /** SIGCONT: what arrived meanwhile is read, and the timers that came due fire. */
  resume(id: string): void {
    const node = this.nodes.get(id)!;
    this.network.resumeDelivery(node.address);
    node.clock.resume();
  }

  /** Advances the shared clock by `ms` in small steps, letting immediates run between them. */
  async run(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += STEP_MS) {
      await this.clock.advance(Math.min(STEP_MS, ms - t));
      await settle();
      await settle();
    }
  }

  /** Advances until `done()` holds; the simulated ms it took, or undefined after `maxMs`. */
  async until(done: () => boolean, maxMs: number): Promise<number | undefined> {
    const start = this.clock.now();
    while (!done()) {
      if (this.clock.now() - start >= maxMs) return undefined;
      await this.run(STEP_MS);
    }
    return this.clock.now() - start;
  }

  /** Every running node sees exactly the running nodes, all alive. */
  agree(): boolean {
    const expected = [...this.nodes.keys()].sort().join(",");
    for (const node of this.nodes.values()) {
      const live = node.membership.snapshot().live();
      if (live.some((m) => m.state !== "alive") || live.map((m) => m.nodeId).join(",") !== expected) return false;
    }
    return true;
  }

  /** Every running node has declared `id` dead (or never knew it): what it held has been rerouted. */
  knownDead(id: string): boolean {
    for (const node of this.nodes.values()) {
      const state = node.membership.snapshot().get(id)?.state;
      if (state === "alive" || state === "suspect") return false;
    }
    return true;
  }

  /** What running nodes still hold for others or wait to send, e.g. "w1: outbox 3"; empty once all is done. */
  unfinished(): string[] {
    const out: string[] = [];
    for (const node of this.nodes.values()) {
      const { outbox, parked, heldCopies } = node.messaging.stats;
      if (outbox + parked + heldCopies > 0) out.push(`${node.id}: outbox ${outbox}, parked ${parked}, copies ${heldCopies}`);
    }
    return out;
  }

  /** Copies the running nodes hold for others. */
  heldCopies(): number {
    let held = 0;
    for (const node of this.nodes.values()) held += node.messaging.stats.heldCopies;
    return held;
  }

  /** Every node's dead letters, the killed nodes' included. */
  deadLetters(): { node: string; letter: DeadLetter }[] {
    return [...this.killed, ...this.nodes.values()].flatMap((node) => node.runtime.deadLetters.list().map((letter) => ({ node: node.id, letter })));
  }

  /** Stops every node's timers, so that nothing of this run fires into the next. */
  stopAll(): void {
    for (const id of [...this.nodes.keys()]) this.kill(id);
    if (simulatedTime === this.clock) simulatedTime = undefined;
  }
}
