// The timers of one component on an injected clock: all cancelled at once on stop, none firing after it.

import type { Clock, TimerHandle } from "../clock.js";

export class TimerSet {
  readonly #clock: Clock;
  /** Runs after every timer's callback (e.g. to publish what it changed); errors go to `onError`. */
  readonly #after: () => void;
  readonly #onError: (error: unknown) => void;
  readonly #handles = new Set<TimerHandle>();
  #stopped = false;

  constructor(clock: Clock, after: () => void, onError: (error: unknown) => void) {
    this.#clock = clock;
    this.#after = after;
    this.#onError = onError;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Runs `fn` after `delayMs` unless cleared or stopped first; undefined once stopped. */
  set(fn: () => void, delayMs: number): TimerHandle | undefined {
    if (this.#stopped) return undefined;
    const handle = this.#clock.setTimeout(() => {
      this.#handles.delete(handle);
      if (this.#stopped) return;
      try {
        fn();
        this.#after();
      } catch (error) {
        this.#onError(error);
      }
    }, delayMs);
    this.#handles.add(handle);
    return handle;
  }

  /** Runs `fn` every `intervalMs` × scale(), the first time after `firstDelayMs`, until stopped. */
  every(intervalMs: number, firstDelayMs: number, fn: () => void, scale: () => number = () => 1): void {
    const next = (delayMs: number): void => {
      this.set(() => {
        fn();
        next(intervalMs * scale());
      }, delayMs);
    };
    next(firstDelayMs);
  }

  clear(handle: TimerHandle | undefined): void {
    if (handle === undefined || !this.#handles.delete(handle)) return;
    this.#clock.clearTimeout(handle);
  }

  stop(): void {
    this.#stopped = true;
    for (const handle of this.#handles) this.#clock.clearTimeout(handle);
    this.#handles.clear();
  }
}
