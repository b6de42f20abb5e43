// The second copies this node places on peers for messages it accepted from outside any handler.

import type { Logger } from "pino";
import type { Membership } from "../cluster/membership.js";
import type { Delivery } from "../core/delivery.js";
import { KaffixError, toKaffixError } from "../errors.js";
import type { Transport } from "../transport/transport.js";
import { encode } from "../wire/codec.js";
import { PlacedCopy } from "./copies.js";
import { encodeCopy, forEachInRanges, type Ranges } from "./frames.js";

export interface CopyKeeperHost {
  readonly membership: Membership;
  readonly transport: Transport;
  /** This node's contract fingerprints: a copy goes only to a node that could run the message itself. */
  readonly contracts: Readonly<Record<string, string>>;
  readonly logger: Logger;
  /** The sending node's next sequence number (shared with its messages). */
  nextSeq(): number;
  /** The current maintenance round. */
  round(): number;
  /** Tells `nodeId` (with the next ack flush) that it may drop the copy `seq`. */
  release(nodeId: string, seq: number): void;
}

export class CopyKeeper {
  readonly #host: CopyKeeperHost;
  /** Copies on peers, by sequence number. */
  readonly #placed = new Map<number, PlacedCopy>();
  #turn = 0;

  constructor(host: CopyKeeperHost) {
    this.#host = host;
  }

  get size(): number {
    return this.#placed.size;
  }

  /**
   * Copies `delivery`'s message to a peer and makes the copy its custody owner; resolves once the
   * peer holds it. Undefined when no peer can (a cluster of one) or the message cannot be encoded.
   */
  copy(delivery: Delivery): Promise<void> | undefined {
    const peer = this.#peer(delivery.service, undefined);
    if (peer === undefined) return undefined;
    let body: Uint8Array;
    try {
      body = encode(delivery.message);
    } catch {
      return undefined; // it could not cross the wire anyway; it is processed here, without a second copy
    }
    const copy = new PlacedCopy(delivery, body, (safe) => this.#safe(safe));
    delivery.owner = copy;
    const accepted = copy.accepted();
    this.#place(copy, peer);
    return accepted;
  }

  /** `from` acknowledged holding these. */
  received(from: string, ranges: Ranges): void {
    forEachInRanges(ranges, this.#placed, (_seq, copy) => {
      if (copy.nodeId === from) copy.markHeld();
    });
  }

  /** `from` refused the copy `seq` (full, stopping): another peer gets it. False when `seq` is no copy of ours. */
  refused(from: string, seq: number): boolean {
    const copy = this.#placed.get(seq);
    if (copy === undefined || copy.nodeId !== from) return false;
    this.#replace(copy, from);
    return true;
  }

  /** A new link to `nodeId`: what it should hold is sent again (it dedupes). */
  linked(nodeId: string): void {
    for (const copy of this.#placed.values()) if (copy.nodeId === nodeId) this.#transmit(copy);
  }

  /** `nodeId` died or left: its copies go to other peers. */
  gone(nodeId: string): void {
    for (const copy of [...this.#placed.values()]) if (copy.nodeId === nodeId) this.#replace(copy, nodeId);
  }

  /** Sends again the copies not acknowledged for `rounds` maintenance rounds. */
  resend(rounds: number): void {
    const round = this.#host.round();
    for (const copy of this.#placed.values()) {
      if (copy.held || copy.nodeId === undefined || round - copy.sentRound < rounds) continue;
      this.#transmit(copy);
    }
  }

  /** The node stops: a publisher still waiting for its copy hears `error`. */
  stop(error: KaffixError): void {
    for (const copy of this.#placed.values()) copy.abandon(error);
  }

  /**
   * A peer to hold a copy of a message for `service`: the linked, alive members in turn, among those
   * that have the service under the same contract (they could re-inject it) and did not refuse it.
   */
  #peer(service: string, refusedBy: readonly string[] | undefined): string | undefined {
    const { membership, transport, contracts } = this.#host;
    const alive = membership.snapshot().alive();
    const n = alive.length;
    for (let i = 0; i < n; i++) {
      const member = alive[(this.#turn + i) % n]!;
      if (member.nodeId === membership.nodeId || refusedBy?.includes(member.nodeId)) continue;
      const link = transport.links.get(member.nodeId);
      if (link === undefined || link.closed || link.remote.services[service] !== contracts[service]) continue;
      this.#turn = (this.#turn + i + 1) % n;
      return member.nodeId;
    }
    return undefined;
  }

  #place(copy: PlacedCopy, nodeId: string): void {
    copy.seq = this.#host.nextSeq();
    copy.nodeId = nodeId;
    copy.held = false;
    this.#placed.set(copy.seq, copy);
    this.#transmit(copy);
  }

  #transmit(copy: PlacedCopy): void {
    const link = this.#host.transport.links.get(copy.nodeId!);
    copy.sentRound = this.#host.round();
    if (link === undefined || link.closed) return;
    try {
      link.send("data", encodeCopy(copy.seq, copy.delivery.service, copy.body));
    } catch (error) {
      if (error instanceof KaffixError && error.code === "LINK_CLOSED") return; // resent by the maintenance round
      // Over the peer's frame limit: no peer can hold it, and it is processed here with one copy.
      this.#placed.delete(copy.seq);
      copy.nodeId = undefined;
      copy.markHeld();
      this.#host.logger.warn({ service: copy.delivery.service, err: toKaffixError(error).message }, "a message accepted here could not be copied to a peer");
    }
  }

  #safe(copy: PlacedCopy): void {
    this.#placed.delete(copy.seq);
    if (copy.nodeId !== undefined) this.#host.release(copy.nodeId, copy.seq);
  }

  /** The peer holding `copy` is gone or refused it: place it on another (or go on without one). */
  #replace(copy: PlacedCopy, exclude: string): void {
    this.#placed.delete(copy.seq);
    (copy.refusedBy ??= []).push(exclude);
    const peer = this.#peer(copy.delivery.service, copy.refusedBy);
    if (peer === undefined) {
      copy.nodeId = undefined;
      copy.markHeld(); // no peer left to hold it: the guarantee of a cluster of one
      return;
    }
    this.#place(copy, peer);
  }
}
