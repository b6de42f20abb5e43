// Case 6 of bench/compare.ts: a receiver killed with `kill -9` mid-stream, and what each system lost.
//
// Topology per case (publish, then requests): a sender and two receivers, all fresh processes. The
// sender publishes 0 … N − 1 (or sends requests); when half are accepted (settled), the sender itself
// sends SIGKILL to the first receiver, so that messages are surely in flight at that moment. Every receiver logs each Sink number it handles to its own file with a synchronous write, so the
// killed one's receipts count too. Lost = accepted and never handled by any receiver.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Serializer, SystemId } from "./compare-nodes.js";
import { startCluster, stopAll, type NodeProcess } from "./compare-process.js";
import type { Settled } from "./loops.js";

export interface KillPlan {
  publishes: number;
  requests: number;
  /** Publishes kept unresolved at once. */
  window: number;
  /** Requests in flight at once. */
  loops: number;
  /** Each request's own timeout; one with no answer by then plus `graceMs` counts as lost. */
  requestTimeoutMs: number;
  graceMs: number;
  /** After the last publish settled: how long to wait for receipts at most, and how long a quiet spell (nothing new, nothing pending) ends the wait. */
  settleBoundMs: number;
  quietMs: number;
  /** Bound of each wait for a line from a node. */
  timeoutMs: number;
}

export interface PublishKill {
  /** Publishes that resolved: the system took responsibility for them. */
  accepted: number;
  /** Publishes that rejected, by error code. */
  rejected: Record<string, number>;
  /** Accepted messages handled by some receiver at least once. */
  received: number;
  lost: number;
  /** Handlings beyond the first of a message (at-least-once redelivery). */
  duplicates: number;
  /** Kill → the last accepted message handled (or the wait gave up). */
  settledAfterKillMs: number;
}

export interface RequestKill extends Settled {
  seconds: number;
}

/** Every number in a receipts file: u32 big-endian, one per Sink message handled. */
function readReceipts(path: string): Uint32Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return new Uint32Array(0);
  }
  const out = new Uint32Array(bytes.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32BE(i * 4);
  return out;
}

/**
 * One run for `system`: both topologies start at once (Moleculer's gossip takes seconds to link three
 * nodes), then the publish case runs on the first and the request case on the second: one after the
 * other, or at the same time when `together` (a smoke test's shortcut; the numbers then share the CPU).
 */
export async function killRun(system: SystemId, serializer: Serializer, token: string, plan: KillPlan, tag: string, together = false): Promise<{ publish: PublishKill; request: RequestKill }> {
  const dir = mkdtempSync(join(tmpdir(), "kaffix-compare-"));
  const starting = await Promise.allSettled([
    startCluster(system, serializer, token, 2, `${tag}-p`, plan.timeoutMs, dir),
    startCluster(system, serializer, token, 2, `${tag}-r`, plan.timeoutMs),
  ]);
  const clusters = starting.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    for (const s of starting) if (s.status === "rejected") throw s.reason;
    if (together) {
      const [publish, request] = await Promise.all([publishKill(clusters[0]!, dir, plan), requestKill(clusters[1]!, plan)]);
      return { publish, request };
    }
    const publish = await publishKill(clusters[0]!, dir, plan);
    await stopAll(clusters[0]!); // the first topology's survivors go before the second case runs
    const request = await requestKill(clusters[1]!, plan);
    return { publish, request };
  } finally {
    await stopAll(clusters.flat());
    rmSync(dir, { recursive: true, force: true });
  }
}

async function publishKill(nodes: NodeProcess[], dir: string, plan: KillPlan): Promise<PublishKill> {
  const [sender, victim] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  sender.send(`kill-publish ${plan.publishes} ${plan.window} ${plan.publishes / 2} ${victim.pid}`);
  await sender.next("killed");
  const killedAt = performance.now();
  // A publish the victim had not yet taken waits for another receiver: up to its own timeout.
  const { rejected } = await sender.next<{ rejected: { n: number; code: string }[] }>("streamed", plan.settleBoundMs);
  const isAccepted = new Uint8Array(plan.publishes).fill(1);
  const rejectedByCode: Record<string, number> = {};
  for (const { n, code } of rejected) {
    isAccepted[n] = 0;
    rejectedByCode[code] = (rejectedByCode[code] ?? 0) + 1;
  }
  const accepted = plan.publishes - rejected.length;

  // Wait for the receipts: until all accepted arrived, or nothing is pending and nothing new came for a while.
  const seen = new Uint8Array(plan.publishes);
  let handled = 0;
  let received = 0;
  let lastNewAt = performance.now();
  const paths = [1, 2].map((i) => join(dir, `${i}.u32`));
  for (;;) {
    const all = paths.map(readReceipts);
    const total = all.reduce((sum, list) => sum + list.length, 0);
    if (total > handled) {
      for (const list of all) {
        for (const n of list) {
          if (n < seen.length && seen[n] === 0) {
            seen[n] = 1;
            received += isAccepted[n]!;
          }
        }
      }
      handled = total;
      lastNewAt = performance.now();
    }
    const now = performance.now();
    if (received === accepted || now - killedAt > plan.settleBoundMs) break;
    if (now - lastNewAt > plan.quietMs && (await sender.ask<{ count: number }>("pending", "pending")).count === 0) break;
    await sleep(20);
  }
  const distinct = seen.reduce((sum, s) => sum + s, 0);
  return { accepted, rejected: rejectedByCode, received, lost: accepted - received, duplicates: handled - distinct, settledAfterKillMs: Math.max(0, Math.round(lastNewAt - killedAt)) };
}

async function requestKill(nodes: NodeProcess[], plan: KillPlan): Promise<RequestKill> {
  const [sender, victim] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  const started = performance.now();
  sender.send(`kill-request ${plan.requests} ${plan.loops} ${plan.requests / 2} ${plan.requestTimeoutMs} ${plan.graceMs} ${victim.pid}`);
  await sender.next("killed");
  // Each loop waits at most one deadline per request still in flight at the kill; the bound allows three.
  const settled = await sender.next<Settled>("settled", 3 * (plan.requestTimeoutMs + plan.graceMs));
  return { ok: settled.ok, failed: settled.failed, lost: settled.lost, seconds: (performance.now() - started) / 1000 };
}
