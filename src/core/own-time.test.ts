// A handler's own time: its measured duration less what it spent awaiting replies and dependencies.

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { systemClock } from "../clock.js";
import type { Context } from "./context.js";
import { DURATION_SAMPLE_EVERY } from "./mailbox.js";
import { NodeRuntime } from "./node-runtime.js";
import { ServiceRegistry } from "./service-registry.js";
import { Service, type ServiceClass } from "./service.js";

const WAIT_MS = 20;

/** A node runtime on the real clock with `services` active. */
async function runtimeWith(...services: ServiceClass[]): Promise<NodeRuntime> {
  const registry = new ServiceRegistry();
  for (const service of services) registry.add(service);
  const logger = pino({ level: "silent" });
  const runtime = new NodeRuntime({ nodeId: "n1", registry, clock: systemClock, logger, deadLetterLimit: 10, random: () => 0.5, observeDuration: () => {} });
  await runtime.activateAll(registry.ids);
  return runtime;
}

class Slow extends Service<number, number> {
  async onMessage(n: number): Promise<number> {
    await sleep(WAIT_MS);
    return n;
  }
}

class Caller extends Service<number, number> {
  async onMessage(n: number, ctx: Context): Promise<number> {
    // Two overlapping waits count once; the dependency's wait counts too.
    const [a, b] = await Promise.all([ctx.request(Slow, n), ctx.request(Slow, n)]);
    await ctx.dependency("db", () => sleep(WAIT_MS));
    return a + b;
  }
}

class Busy extends Service<number, number> {
  onMessage(n: number): number {
    const until = performance.now() + 2;
    while (performance.now() < until); // 2 ms of the callee's own work, run inside the caller's request
    return n;
  }
}

class BusyCaller extends Service<number, number> {
  onMessage(n: number, ctx: Context): Promise<number> {
    return ctx.request(Busy, n);
  }
}

test("the work of a local request run inside the caller's call is the callee's, not counted twice", async () => {
  const runtime = await runtimeWith(Busy, BusyCaller);
  try {
    for (let i = 0; i < DURATION_SAMPLE_EVERY; i++) await runtime.request(BusyCaller, 1, undefined);
    assert.ok(runtime.mailboxes.get("Busy")!.ownTimeMs >= 1.9);
    assert.ok(runtime.mailboxes.get("BusyCaller")!.ownTimeMs < 1, `caller's own time ${runtime.mailboxes.get("BusyCaller")!.ownTimeMs} ms`);
  } finally {
    await runtime.deactivateAll(systemClock.now() + 1000);
  }
});

test("time a handler spends awaiting replies and dependencies is not its own work; its duration still includes it", async () => {
  const runtime = await runtimeWith(Slow, Caller);
  try {
    for (let i = 0; i < DURATION_SAMPLE_EVERY; i++) assert.equal(await runtime.request(Caller, 1, undefined), 2);
    const caller = runtime.mailboxes.get("Caller")!;
    assert.ok(caller.serviceTimeMs >= 2 * WAIT_MS - 2, `duration ${caller.serviceTimeMs} ms includes both waits`);
    assert.ok(caller.ownTimeMs < WAIT_MS / 2, `own time ${caller.ownTimeMs} ms excludes them`);
    const slow = runtime.mailboxes.get("Slow")!;
    // Timers may fire a hair early: a millisecond of slack.
    assert.ok(slow.ownTimeMs >= WAIT_MS - 1, "a plain await (a timer, not a reply) stays the handler's own time");
  } finally {
    await runtime.deactivateAll(systemClock.now() + 1000);
  }
});
