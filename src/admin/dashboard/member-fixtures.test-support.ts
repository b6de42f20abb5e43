// Member views for the dashboard's unit tests: only what the dashboard reads, with defaults for the rest.

import type { MemberView } from "../../index.js";

type Load = MemberView["running"][string];

export function member(id: string, state: MemberView["state"], running: Record<string, Partial<Load>> = {}, extra: Partial<MemberView> = {}): MemberView {
  const loads: Record<string, Load> = {};
  for (const [service, load] of Object.entries(running)) loads[service] = { queued: 0, arrivalPerSec: 0, serviceTimeMs: 0, ...load };
  return {
    id,
    address: `10.0.0.${id.length}:12345`,
    state,
    incarnation: 1,
    rttMs: 1,
    region: "eu-west",
    services: Object.keys(running),
    capacity: { cores: 4, memoryBytes: 8 * 2 ** 30, weight: 1 },
    running: loads,
    leaving: [],
    labels: [],
    eventLoopLagMs: { mean: 1, p99: 2 },
    stateSince: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}
