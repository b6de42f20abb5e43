// Push-pull: a full state exchange with one member (memberlist), for joining and for repairing what gossip missed.

import { KaffixError } from "../errors.js";
import type { Link } from "../transport/transport.js";
import type { MemberRecord, MembershipMessage, OutgoingMessage } from "./membership-messages.js";
import type { Peer } from "./peer-sender.js";
import type { TimerSet } from "./timer-set.js";

/** Exchanges in flight at once; more are refused rather than queued. */
const MAX_PENDING = 16;

export interface PushPullHost {
  readonly timers: TimerSet;
  readonly timeoutMs: number;
  dial(address: string): Promise<Link>;
  send(to: Peer, message: OutgoingMessage): void;
  /** Our whole table, ourselves included. */
  records(): MemberRecord[];
  /** Applies a peer's table to ours. */
  merge(from: Peer, records: readonly MemberRecord[]): void;
}

interface Pending {
  nodeId: string;
  done: (error?: Error, observed?: string) => void;
}

export class PushPull {
  readonly #host: PushPullHost;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(host: PushPullHost) {
    this.#host = host;
  }

  /**
   * Sends our table to `address` and merges the answer; rejects if none comes within the timeout.
   * Resolves with the IP the peer saw our connection come from, when it said (it does to a join).
   */
  async exchange(address: string, join: boolean): Promise<string | undefined> {
    const host = this.#host;
    const link = await host.dial(address);
    if (host.timers.stopped) throw new KaffixError("NOT_RUNNING", "membership stopped");
    if (this.#pending.size >= MAX_PENDING) throw new KaffixError("TIMEOUT", "too many push-pulls in flight");
    const id = ++this.#nextId;
    const peer = { nodeId: link.remote.nodeId, address };
    return new Promise<string | undefined>((resolve, reject) => {
      const timer = host.timers.set(() => {
        done(new KaffixError("TIMEOUT", `no push-pull answer from ${address} within ${host.timeoutMs} ms`));
      }, host.timeoutMs);
      const done = (error?: Error, observed?: string): void => {
        host.timers.clear(timer);
        this.#pending.delete(id);
        if (error === undefined) resolve(observed);
        else reject(error);
      };
      this.#pending.set(id, { nodeId: peer.nodeId, done });
      host.send(peer, { t: "push-pull", id, reply: false, join, members: host.records() });
    });
  }

  /** `remoteIp` is where the message's link comes from: a join is told it, to learn its own address. */
  onMessage(from: Peer, message: Extract<MembershipMessage, { t: "push-pull" }>, remoteIp?: string): void {
    const host = this.#host;
    if (message.reply) {
      const pending = this.#pending.get(message.id);
      if (pending === undefined || pending.nodeId !== from.nodeId) return;
      host.merge(from, message.members);
      pending.done(undefined, message.observed);
      return;
    }
    host.merge(from, message.members);
    // Answer with the table as merged, so it carries our refutation of anything the peer believed.
    const reply: OutgoingMessage = { t: "push-pull", id: message.id, reply: true, join: false, members: host.records() };
    if (message.join && remoteIp !== undefined) reply.observed = remoteIp;
    host.send(from, reply);
  }

  stop(): void {
    for (const pending of [...this.#pending.values()]) pending.done(new KaffixError("NOT_RUNNING", "membership stopped"));
  }
}

/** memberlist's push-pull scale: beyond 32 members the interval grows with log2(n), so each node's load stays flat. */
export function pushPullScale(n: number): number {
  return n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
}
