// Membership settings for tests that kill nodes: failure detection in about 1–3 s instead of 5–8 s.

import type { MembershipOptions } from "../cluster/membership-options.js";

/**
 * A kill -9 is declared dead in about 1–3 s: the first probe comes within 2(n − 1) × 200 ms, then a
 * suspicion of 0.8 s (confirmed) to 2.4 s (unconfirmed). Push-pull and reconnect rounds are shortened
 * likewise. Used by the delivery simulation and the real-process chaos tests alike.
 */
export const FAST_MEMBERSHIP: Readonly<Partial<MembershipOptions>> = Object.freeze({
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  gossipIntervalMs: 50,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 3,
  pushPullIntervalMs: 5_000,
  reconnectIntervalMs: 2_000,
});
