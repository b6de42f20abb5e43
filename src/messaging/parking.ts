// Messages waiting for a destination: fresh ones while every node is out of credit, and reroutes of a departed node's.

import type { Clock } from "../clock.js";
import { Mailbox } from "../core/mailbox.js";
import type { NodeRuntime } from "../core/node-runtime.js";
import { KaffixError, toKaffixError } from "../errors.js";
import type { Pick } from "./cluster-router.js";
import type { Outgoing } from "./outgoing.js";
import { PeerStream } from "./peer-stream.js";

/** Most messages waiting for a destination on one node. */
export const MAX_PARKED = 100_000;

export interface ParkingHost {
  readonly runtime: NodeRuntime;
  readonly clock: Clock;
  /** The router's choice for a parked message (skipping the nodes that refused it). */
  pick(outgoing: Outgoing): Pick;
  send(stream: PeerStream, outgoing: Outgoing): void;
  /** No node can ever take this message: its publisher hears `error`, or it is dead-lettered. */
  undeliverable(outgoing: Outgoing, node: string, error: KaffixError): void;
  readonly stopped: boolean;
}

export class Parking {
  readonly #host: ParkingHost;
  #parked: Outgoing[] = [];
  #scheduled = false;
  readonly #routeSoon = () => {
    this.#scheduled = false;
    this.route();
  };

  constructor(host: ParkingHost) {
    this.#host = host;
  }

  get size(): number {
    return this.#parked.length;
  }

  /** Parks a fresh message until some node has credit, for at most `waitMs`; then QUEUE_FULL. */
  wait(outgoing: Outgoing, waitMs: number): void {
    outgoing.waitMs = Math.max(0, waitMs);
    this.park(outgoing);
  }

  /**
   * Queues a message for (re)routing on the next turn. One whose publisher still waits to hear it is
   * held gets its `waitMs` from now, and is refused at once when too many wait already; one accepted
   * before (a reroute) always waits: it is bounded by the outbox it came from.
   */
  park(outgoing: Outgoing): void {
    if (outgoing.awaitingAcceptance) {
      if (this.#parked.length >= MAX_PARKED) {
        outgoing.refuse(new KaffixError("QUEUE_FULL", `the cluster is saturated: ${MAX_PARKED} messages wait for a node with room`));
        return;
      }
      if (outgoing.acceptBy === Infinity) outgoing.acceptBy = this.#host.clock.now() + outgoing.waitMs;
    }
    outgoing.nodeId = undefined;
    this.#parked.push(outgoing);
    this.schedule();
  }

  /** Routes what waits on the next turn (credit came back, or a node appeared). */
  schedule(): void {
    if (this.#scheduled || this.#parked.length === 0) return;
    this.#scheduled = true;
    setImmediate(this.#routeSoon);
  }

  /** Tries every parked message once: to a node with credit, to this node, or back to wait. */
  route(): void {
    if (this.#parked.length === 0 || this.#host.stopped) return;
    const now = this.#host.clock.now();
    const parked = this.#parked;
    this.#parked = [];
    // A service found saturated stays so for the rest of this pass: its other messages are not re-picked.
    let saturated: Set<string> | undefined;
    for (const outgoing of parked) {
      if (outgoing.settled) continue;
      if (outgoing.isRequest && outgoing.deadline <= now) {
        outgoing.reject(new KaffixError("TIMEOUT", `no reply from service "${outgoing.service}" before the deadline`));
        continue;
      }
      const picked = saturated?.has(outgoing.service) && outgoing.key === undefined ? "saturated" : this.#host.pick(outgoing);
      if (picked === "saturated") (saturated ??= new Set()).add(outgoing.service);
      if (picked instanceof Mailbox) this.#handOver(outgoing);
      else if (picked instanceof PeerStream) this.#host.send(picked, outgoing);
      else if (outgoing.awaitingAcceptance && now >= outgoing.acceptBy) outgoing.refuse(nowhere(outgoing.service, picked));
      else {
        if (picked !== "saturated") outgoing.refusedBy = undefined; // every node refused once: try them again
        this.#parked.push(outgoing);
      }
    }
  }

  /** The node stops: whoever still waits to hear that a message was accepted gets `error`. */
  stop(error: KaffixError): void {
    for (const outgoing of this.#parked) if (!outgoing.held) outgoing.refuse(error);
    this.#parked = [];
  }

  /** A parked message whose best destination is this node: it goes through the runtime like a fresh one. */
  #handOver(outgoing: Outgoing): void {
    const { runtime, clock } = this.#host;
    if (outgoing.isRequest) {
      const timeoutMs = Math.max(1, outgoing.deadline - clock.now());
      runtime.rerequest(outgoing.service, outgoing.message, timeoutMs, outgoing.key).then(
        (value) => outgoing.resolve(value),
        (error: unknown) => outgoing.reject(toKaffixError(error, "INTERNAL")),
      );
      return;
    }
    runtime.republish(outgoing.service, outgoing.message, outgoing.key).then(
      () => outgoing.markHeld(),
      (thrown: unknown) => {
        const error = toKaffixError(thrown, "INTERNAL");
        if (error.retryable) this.park(outgoing); // refused here too (e.g. stopping): try again elsewhere
        else this.#host.undeliverable(outgoing, runtime.nodeId, error);
      },
    );
  }
}

function nowhere(service: string, picked: "saturated" | "unreachable" | undefined): KaffixError {
  return picked === "saturated"
    ? new KaffixError("QUEUE_FULL", `every node running "${service}" is saturated`, { data: { service } })
    : new KaffixError("SERVICE_UNAVAILABLE", `no running node serves "${service}"`, { data: { service } });
}
