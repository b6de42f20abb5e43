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
    if (this.#parked.length >= MAX_PARKED) {
      outgoing.refuse(new KaffixError("QUEUE_FULL", `the cluster is saturated: ${MAX_PARKED} messages wait for a node with room`));
      return;
    }
    outgoing.acceptBy = this.#host.clock.now() + Math.max(0, waitMs);
    this.park(outgoing);
  }

  /** Queues a message for (re)routing on the next turn. */
  park(outgoing: Outgoing): void {
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
    for (const outgoing of parked) {
      if (outgoing.settled) continue;
      if (outgoing.isRequest && outgoing.deadline <= now) {
        outgoing.reject(new KaffixError("TIMEOUT", `no reply from service "${outgoing.service}" before the deadline`));
        continue;
      }
      const picked = this.#host.pick(outgoing);
      if (picked instanceof Mailbox) this.#handOver(outgoing);
      else if (picked instanceof PeerStream) this.#host.send(picked, outgoing);
      else if (outgoing.awaitingAcceptance && now >= outgoing.acceptBy) outgoing.refuse(nowhere(outgoing.service, picked));
      else {
        if (picked === undefined) outgoing.refusedBy = undefined; // every node refused once: try them again
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
      runtime.request(outgoing.service, outgoing.message, { timeoutMs, key: outgoing.key }).then(
        (value) => outgoing.resolve(value),
        (error: unknown) => outgoing.reject(toKaffixError(error, "INTERNAL")),
      );
      return;
    }
    runtime.publish(outgoing.service, outgoing.message, { key: outgoing.key }).then(
      () => outgoing.markHeld(),
      () => this.park(outgoing), // refused here too (e.g. stopping): try again elsewhere
    );
  }
}

function nowhere(service: string, picked: "saturated" | undefined): KaffixError {
  return picked === "saturated"
    ? new KaffixError("QUEUE_FULL", `every node running "${service}" is saturated`, { data: { service } })
    : new KaffixError("SERVICE_UNAVAILABLE", `no running node serves "${service}"`, { data: { service } });
}
