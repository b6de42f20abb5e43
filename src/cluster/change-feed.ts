// Tells subscribers what changed in a member table, as a diff between the snapshot they last saw and the current one.

import type { Logger } from "pino";
import { diff, type MembershipDiff, type MembershipSnapshot } from "./membership-snapshot.js";

export type ChangeHandler = (change: MembershipDiff, snapshot: MembershipSnapshot) => void;

export class ChangeFeed {
  readonly #current: () => MembershipSnapshot;
  readonly #log: Logger;
  readonly #handlers = new Set<ChangeHandler>();
  #published: MembershipSnapshot;

  constructor(current: () => MembershipSnapshot, log: Logger) {
    this.#current = current;
    this.#log = log;
    this.#published = current();
  }

  /** Returns the unsubscribe function. */
  subscribe(handler: ChangeHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Calls every handler if the view changed since the last call; a version bump with no visible change is skipped. */
  publish(): void {
    const snapshot = this.#current();
    if (snapshot === this.#published) return;
    const change = diff(this.#published, snapshot);
    this.#published = snapshot;
    if (Object.values(change).every((list: readonly unknown[]) => list.length === 0)) return;
    for (const handler of this.#handlers) {
      try {
        handler(change, snapshot);
      } catch (error) {
        this.#log.error({ err: error }, "membership change handler threw");
      }
    }
  }
}
