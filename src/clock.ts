// Time as an injected dependency, so that timeouts, retries and deadlines run under a fake clock in tests.

/** Whatever a clock returns from setTimeout; only that clock knows what it is. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are meaningful. */
  now(): number;
  /** Runs `fn` once after `delayMs`. Real timers are unref'd: a pending one never keeps a process alive. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

const origin = performance.timeOrigin;

export const systemClock: Clock = {
  now: () => origin + performance.now(),
  setTimeout(fn, delayMs) {
    const timer = setTimeout(fn, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
