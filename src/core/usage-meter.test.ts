// UsageMeter and ctx.dependency: messages counted per source and target, dependency calls timed, counters taken and reset.

import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { KaffixError } from "../errors.js";
import { ManualClock } from "../testing/manual-clock.js";
import type { Context } from "./context.js";
import { NodeRuntime } from "./node-runtime.js";
import { ServiceRegistry } from "./service-registry.js";
import { Service, type ServiceClass } from "./service.js";
import { MAX_DEPENDENCIES_PER_SERVICE, UsageMeter } from "./usage-meter.js";

function isInvalidArgument(error: unknown): boolean {
  return error instanceof KaffixError && error.code === "INVALID_ARGUMENT";
}

function runtimeWith(...services: ServiceClass[]): NodeRuntime {
  const registry = new ServiceRegistry();
  for (const service of services) registry.add(service);
  const logger = pino({ level: "silent" });
  return new NodeRuntime({ nodeId: "n1", registry, clock: new ManualClock(), logger, deadLetterLimit: 10, random: () => 0.5, observeDuration: () => {} });
}

test("messages are counted per source service and target, and take() returns them and starts again from zero", () => {
  const meter = new UsageMeter(["A", "B", "C"]);
  meter.countSent("A", 1);
  meter.countSent("A", 1);
  meter.countSent("A", 2);
  meter.countSent("B", 0);
  assert.deepEqual(meter.take(), new Map([
    ["A", { sent: { B: 2, C: 1 }, dependencies: {} }],
    ["B", { sent: { A: 1 }, dependencies: {} }],
  ]));
  assert.deepEqual(meter.take(), new Map());
  meter.countSent("B", 2);
  assert.deepEqual(meter.take(), new Map([["B", { sent: { C: 1 }, dependencies: {} }]]));
});

test("a dependency call resolves with what the call returns, sync or async, and is counted with its duration", async () => {
  const meter = new UsageMeter(["A"]);
  assert.equal(await meter.time("A", "db", () => 42), 42);
  assert.equal(await meter.time("A", "db", async () => "rows"), "rows");
  const taken = meter.take().get("A")!;
  assert.deepEqual(Object.keys(taken.dependencies), ["db"]);
  assert.equal(taken.dependencies.db!.calls, 2);
  assert.ok(taken.dependencies.db!.ms >= 0);
  assert.deepEqual(meter.take(), new Map(), "taking resets the dependency counters too");
});

test("a dependency call that throws or rejects is still counted, and the same error reaches the caller", async () => {
  const meter = new UsageMeter(["A"]);
  const thrown = new Error("connection refused");
  await assert.rejects(meter.time("A", "db", () => { throw thrown; }), (error) => error === thrown);
  await assert.rejects(meter.time("A", "db", () => Promise.reject(thrown)), (error) => error === thrown);
  assert.equal(meter.take().get("A")!.dependencies.db!.calls, 2);
});

test("dependency calls are kept apart per service and per name", async () => {
  const meter = new UsageMeter(["A", "B"]);
  await meter.time("A", "db", () => 1);
  await meter.time("A", "cache", () => 1);
  await meter.time("B", "db", () => 1);
  const taken = meter.take();
  assert.deepEqual(Object.keys(taken.get("A")!.dependencies), ["db", "cache"]);
  assert.deepEqual(Object.keys(taken.get("B")!.dependencies), ["db"]);
  assert.deepEqual(taken.get("A")!.sent, {});
});

test("a call still running when counters are taken is counted in the next take", async () => {
  const meter = new UsageMeter(["A"]);
  let finish = () => {};
  const running = meter.time("A", "db", () => new Promise<void>((resolve) => (finish = resolve)));
  assert.deepEqual(meter.take(), new Map());
  finish();
  await running;
  assert.equal(meter.take().get("A")!.dependencies.db!.calls, 1);
});

test("a name that is empty, longer than 128 characters or not a string is refused with INVALID_ARGUMENT, and the call does not run", async () => {
  const meter = new UsageMeter(["A"]);
  let ran = 0;
  const call = () => ++ran;
  for (const name of ["", "x".repeat(129), 7, undefined, null, {}]) {
    await assert.rejects(meter.time("A", name as string, call), isInvalidArgument, `name ${String(name)}`);
  }
  assert.equal(await meter.time("A", "x".repeat(128), call), 1, "128 characters are fine");
  assert.equal(ran, 1);
});

test("a call that is not a function is refused with INVALID_ARGUMENT", async () => {
  const meter = new UsageMeter(["A"]);
  for (const call of [undefined, 42, Promise.resolve(1)]) {
    await assert.rejects(meter.time("A", "db", call as unknown as () => unknown), isInvalidArgument);
  }
  assert.deepEqual(meter.take(), new Map(), "nothing counted");
});

test(
  "a bigint name is refused with INVALID_ARGUMENT like any other non-string",
  async () => {
    const meter = new UsageMeter(["A"]);
    await assert.rejects(meter.time("A", 10n as unknown as string, () => 1), isInvalidArgument);
  },
);

test("at most MAX_DEPENDENCIES_PER_SERVICE names are timed per service; further names still run", async () => {
  const meter = new UsageMeter(["A", "B"]);
  const names = Array.from({ length: MAX_DEPENDENCIES_PER_SERVICE + 3 }, (_, i) => `dep${i}`);
  const results = [];
  for (const name of names) results.push(await meter.time("A", name, () => name));
  assert.deepEqual(results, names);
  await meter.time("B", "other", () => 0);
  const taken = meter.take();
  assert.deepEqual(Object.keys(taken.get("A")!.dependencies), names.slice(0, MAX_DEPENDENCIES_PER_SERVICE));
  assert.deepEqual(Object.keys(taken.get("B")!.dependencies), ["other"], "the limit is per service");
  await meter.time("A", "dep0", () => 0);
  assert.deepEqual(Object.keys(meter.take().get("A")!.dependencies), ["dep0"], "names already timed stay timed");
});

test("a handler's publishes and requests to other services are counted in the runtime's usage; messages from outside are not", async () => {
  class Target extends Service<string, string> {
    static id = "Target";
    onMessage(message: string) {
      return message;
    }
  }
  class Other extends Service<string> {
    static id = "Other";
    onMessage() {}
  }
  class Source extends Service<string> {
    static id = "Source";
    async onMessage(_: string, ctx: Context) {
      await ctx.publish(Target, "p");
      await ctx.request(Target, "r");
      await ctx.publish(Other, "o");
      await ctx.dependency("db", () => "ok");
    }
  }
  const runtime = runtimeWith(Source, Target, Other);
  await runtime.activateAll(["Source", "Target", "Other"]);
  await runtime.publish("Source", "go", undefined);
  await runtime.publish("Target", "direct", undefined);
  await runtime.whenIdle();
  const usage = runtime.usage.take();
  assert.deepEqual([...usage.keys()], ["Source"]);
  assert.deepEqual(usage.get("Source")!.sent, { Target: 2, Other: 1 });
  assert.equal(usage.get("Source")!.dependencies.db!.calls, 1);
});

test("ctx.dependency times the call for the handler's own service and passes its outcome through", async () => {
  const failure = new KaffixError("TIMEOUT", "db too slow");
  class Reader extends Service<string, unknown> {
    static id = "Reader";
    async onMessage(what: string, ctx: Context) {
      if (what === "fail") return ctx.dependency("db", () => Promise.reject(failure)).catch((error: unknown) => error === failure);
      return ctx.dependency("db", () => ({ rows: 3 }));
    }
  }
  const runtime = runtimeWith(Reader);
  await runtime.activateAll(["Reader"]);
  assert.deepEqual(await runtime.request("Reader", "read", undefined), { rows: 3 });
  assert.equal(await runtime.request("Reader", "fail", undefined), true, "the handler saw the very error the call threw");
  assert.equal(runtime.usage.take().get("Reader")!.dependencies.db!.calls, 2);
});

test("ctx.dependency with a bad name rejects in the handler with INVALID_ARGUMENT", async () => {
  class Bad extends Service<string, unknown> {
    static id = "Bad";
    onMessage(_: string, ctx: Context) {
      return ctx.dependency("", () => 1).catch((error: unknown) => (error as KaffixError).code);
    }
  }
  const runtime = runtimeWith(Bad);
  await runtime.activateAll(["Bad"]);
  assert.equal(await runtime.request("Bad", "x", undefined), "INVALID_ARGUMENT");
});
