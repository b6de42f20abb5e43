// One Lifeguard suspicion timer per suspected member, sized for the cluster at the moment the suspicion starts.

import type { Clock } from "../clock.js";
import type { Member } from "./member-table.js";
import type { MembershipOptions } from "./membership-options.js";
import { expectedConfirmations, Suspicion, suspicionTimeoutsMs } from "./suspicion.js";

type SuspicionSettings = Pick<MembershipOptions, "probeIntervalMs" | "suspicionMult" | "suspicionMaxTimeoutMult">;

export class SuspicionTimers {
  readonly #clock: Clock;
  readonly #options: SuspicionSettings;
  /** Called when a suspicion runs out; the caller checks the member is still the suspect it was. */
  readonly #onTimeout: (suspect: Member) => void;
  /** At most one per member of the table. */
  readonly #timers = new Map<string, Suspicion>();
  #stopped = false;

  constructor(clock: Clock, options: SuspicionSettings, onTimeout: (suspect: Member) => void) {
    this.#clock = clock;
    this.#options = options;
    this.#onTimeout = onTimeout;
  }

  /** Starts (or restarts) the timer for `suspect`, accused by `from`, in a cluster of `n` live members. */
  start(suspect: Member, from: string, n: number): void {
    if (this.#stopped) return;
    this.stop(suspect.nodeId);
    const { probeIntervalMs, suspicionMult, suspicionMaxTimeoutMult } = this.#options;
    const { minMs, maxMs } = suspicionTimeoutsMs(n, probeIntervalMs, suspicionMult, suspicionMaxTimeoutMult);
    const suspicion: Suspicion = new Suspicion({
      k: expectedConfirmations(n, suspicionMult),
      minMs,
      maxMs,
      from,
      clock: this.#clock,
      onTimeout: () => {
        if (this.#stopped || this.#timers.get(suspect.nodeId) !== suspicion) return;
        this.#timers.delete(suspect.nodeId);
        this.#onTimeout(suspect);
      },
    });
    this.#timers.set(suspect.nodeId, suspicion);
  }

  /** Counts an independent confirmation; true when it was new (worth gossiping on). */
  confirm(nodeId: string, from: string): boolean {
    return this.#timers.get(nodeId)?.confirm(from) ?? false;
  }

  stop(nodeId: string): void {
    this.#timers.get(nodeId)?.stop();
    this.#timers.delete(nodeId);
  }

  stopAll(): void {
    this.#stopped = true;
    for (const suspicion of this.#timers.values()) suspicion.stop();
    this.#timers.clear();
  }
}
