// A deterministic simulation of many Membership nodes: one InProcessNetwork, one ManualClock, seeded randomness.

import { pino } from "pino";
import type { Clock, TimerHandle } from "../clock.js";
import { ManualClock } from "../testing/manual-clock.js";
import { PROTOCOL_VERSION } from "../transport/hello.js";
import { InProcessNetwork, type InProcessTransport } from "../transport/in-process-transport.js";
import type { MembershipDiff } from "./membership-snapshot.js";
import { Membership } from "./membership.js";
import type { MembershipOptions } from "./membership-options.js";
import { seededRandom } from "../testing/seeded-random.js";

export const seeded = seededRandom;

/** One node's view of the shared clock; paused, its timers wait as a stopped process's would, and fire on resume. */
export class PausableClock implements Clock {
  readonly #base: Clock;
  #paused = false;
  #deferred: (() => void)[] = [];

  constructor(base: Clock) {
    this.#base = base;
  }

  now(): number {
    return this.#base.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.#base.setTimeout(() => (this.#paused ? this.#deferred.push(fn) : fn()), delayMs);
  }

  clearTimeout(handle: TimerHandle): void {
    this.#base.clearTimeout(handle);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const due = this.#deferred;
    this.#deferred = [];
    for (const fn of due) fn();
  }
}

/** What a node's change handler saw: one line per member per change. */
export interface SeenChange {
  atMs: number;
  observer: string;
  nodeId: string;
  kind: keyof MembershipDiff;
}

export interface SimNode {
  readonly id: string;
  readonly address: string;
  readonly transport: InProcessTransport;
  readonly membership: Membership;
  readonly clock: PausableClock;
  /** Settles with join's outcome. */
  joined: Promise<number>;
}

export interface SimulationOptions {
  seed: number;
  latencyMs?: number;
  jitterMs?: number;
  options?: Partial<MembershipOptions>;
}

export class Simulation {
  readonly clock = new ManualClock(0);
  readonly random: () => number;
  readonly network: InProcessNetwork;
  readonly nodes = new Map<string, SimNode>();
  readonly changes: SeenChange[] = [];
  readonly #options: Partial<MembershipOptions>;
  readonly #logger = pino({ level: "silent" });

  constructor(options: SimulationOptions) {
    this.random = seeded(options.seed);
    this.network = new InProcessNetwork({ clock: this.clock, random: seeded(options.seed + 1) });
    this.network.setLatency(options.latencyMs ?? 2, { jitterMs: options.jitterMs ?? 3 });
    this.#options = options.options ?? {};
  }

  static addressOf(id: string): string {
    return `${id}:7946`;
  }

  /** Starts node `id` and has it join through `seeds` (node ids); join runs as the clock advances. */
  async start(id: string, seeds: readonly string[], incarnation = 1): Promise<SimNode> {
    const address = Simulation.addressOf(id);
    const transport = this.network.transport({ hello: { protocol: PROTOCOL_VERSION, app: "sim", nodeId: id, incarnation, address, services: {} } });
    await transport.listen();
    const clock = new PausableClock(this.clock);
    const membership = new Membership({
      transport,
      self: { nodeId: id, address, incarnation },
      clock,
      random: seeded(hash(id) + incarnation),
      logger: this.#logger,
      options: this.#options,
    });
    membership.onChange((change) => {
      for (const [kind, members] of Object.entries(change) as [keyof MembershipDiff, MembershipDiff[keyof MembershipDiff]][]) {
        for (const member of members) this.changes.push({ atMs: this.clock.now(), observer: id, nodeId: member.nodeId, kind });
      }
    });
    const joined = membership.join(seeds.map(Simulation.addressOf));
    joined.catch(() => {});
    const node = { id, address, transport, membership, clock, joined };
    this.nodes.set(id, node);
    return node;
  }

  /** kill -9: links reset, membership stopped. */
  kill(id: string): void {
    const node = this.nodes.get(id)!;
    this.network.kill(node.address);
    node.membership.stop();
    this.nodes.delete(id);
  }

  /** Advances the shared clock by `ms` in steps. */
  async run(ms: number, stepMs = 100): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) await this.clock.advance(Math.min(stepMs, ms - t));
  }

  /** Advances until `done()` holds; returns the simulated ms it took, or undefined after `maxMs`. */
  async until(done: () => boolean, maxMs: number, stepMs = 100): Promise<number | undefined> {
    const start = this.clock.now();
    while (!done()) {
      if (this.clock.now() - start >= maxMs) return undefined;
      await this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }

  /** Every running node (or those given) sees exactly `ids` alive, and nothing else live. */
  agree(ids: readonly string[], observers: Iterable<SimNode> = this.nodes.values()): boolean {
    const expected = [...ids].sort().join(",");
    for (const node of observers) {
      const live = node.membership.snapshot().live();
      if (live.some((m) => m.state !== "alive")) return false;
      if (live.map((m) => m.nodeId).join(",") !== expected) return false;
    }
    return true;
  }

  stopAll(): void {
    for (const node of this.nodes.values()) node.membership.stop();
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
