// What every Link implementation owes its users around closing: writable waiters, close handlers called
// once, and one LINK_CLOSED error; kept in one place so the TLS and in-process links cannot drift apart.

import { KaffixError } from "../errors.js";
import { rethrowLater } from "./rethrow-later.js";

export class LinkEvents {
  readonly #nodeId: string;
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #closeHandlers: ((reason: string) => void)[] = [];
  #closeReason: string | undefined;

  constructor(nodeId: string) {
    this.#nodeId = nodeId;
  }

  /** The LINK_CLOSED error for this link, naming the reason it closed. */
  closedError(): KaffixError {
    return new KaffixError("LINK_CLOSED", `link to node ${this.#nodeId} is closed: ${this.#closeReason}`, {
      data: { nodeId: this.#nodeId, reason: this.#closeReason },
    });
  }

  /** A promise settled by `wakeWriters` or `closed`. */
  waitWritable(): Promise<void> {
    if (this.#closeReason !== undefined) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  get hasWriters(): boolean {
    return this.#waiters.length > 0;
  }

  wakeWriters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Registers a close handler; one added after the close still runs, once, on a microtask. */
  onClose(handler: (reason: string) => void): void {
    const reason = this.#closeReason;
    if (reason === undefined) this.#closeHandlers.push(handler);
    else queueMicrotask(() => handler(reason));
  }

  /** Rejects waiting writers and calls every close handler once; a throwing handler surfaces uncaught. */
  closed(reason: string): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    const error = this.closedError();
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters = [];
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const handler of handlers) {
      try {
        handler(reason);
      } catch (thrown) {
        rethrowLater(thrown);
      }
    }
  }
}
