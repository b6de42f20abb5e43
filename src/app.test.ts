import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { App, KaffixError, Service, type Context, type StartOptions } from "./index.js";
import { ManualClock, settle } from "./testing/index.js";

const started: App[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.stop({ timeoutMs: 100 })));
});

async function start(app: App, options: StartOptions = {}): Promise<App> {
  started.push(app);
  await app.start({ port: 0, host: "127.0.0.1", logLevel: "silent", ...options });
  return app;
}

class Recorder extends Service<{ n: number }> {
  static seen: number[] = [];
  onMessage(message: { n: number }) {
    Recorder.seen.push(message.n);
  }
}

class Doubler extends Service<{ n: number }, number> {
  onMessage(message: { n: number }, ctx: Context) {
    ctx.publish(Recorder, { n: message.n * 2 });
    return message.n * 2;
  }
}

test("a published message reaches its handler, which can publish onward", async () => {
  Recorder.seen = [];
  const app = await start(new App({ name: "t" }).addService(Doubler).addService(Recorder));
  await app.publish(Doubler, { n: 21 });
  await app.whenIdle();
  assert.deepEqual(Recorder.seen, [42]);
});

test("a request resolves with the handler's return value", async () => {
  const app = await start(new App({ name: "t" }).addService(Doubler).addService(Recorder));
  assert.equal(await app.request(Doubler, { n: 5 }), 10);
  assert.equal(await app.request("Doubler", { n: 6 }), 12);
});

test("a service's id is its class name unless it sets static id", () => {
  class Named extends Service<void> {
    static id = "billing.invoices";
    onMessage() {}
  }
  const app = new App({ name: "t" }).addService(Named).addService(Recorder);
  assert.deepEqual(app.serviceIds, ["billing.invoices", "Recorder"]);
});

test("adding two services with one id fails at addService", () => {
  class A extends Service<void> {
    static id = "same";
    onMessage() {}
  }
  class B extends Service<void> {
    static id = "same";
    onMessage() {}
  }
  const app = new App({ name: "t" }).addService(A);
  assert.throws(() => app.addService(B), (e: KaffixError) => e.code === "DUPLICATE_SERVICE" && /A and B/.test(e.message));
  assert.throws(() => app.addService(A), (e: KaffixError) => e.code === "DUPLICATE_SERVICE");
});

test("invalid service options are refused with the field named", () => {
  const app = new App({ name: "t" });
  assert.throws(() => app.addService(Recorder, { concurrency: 0 }), /concurrency must be an integer/);
  assert.throws(() => app.addService(Recorder, { minReplicas: 3, maxReplicas: 2 }), /minReplicas/);
  assert.throws(() => app.addService(Recorder, { near: "" }), /near/);
  assert.throws(() => app.addService(Recorder, { bogus: 1 } as never), /unknown option "bogus"/);
  app.addService(Recorder, { minReplicas: 2, maxReplicas: 4, spread: true, near: "postgres", region: "eu-west" });
});

test("an app needs a name", () => {
  assert.throws(() => new App({ name: "" }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
});

test("a handler error reaches the requester as a KaffixError with a code and no stack on the wire", async () => {
  class Failing extends Service<{ kind: string }> {
    onMessage(message: { kind: string }) {
      if (message.kind === "custom") throw new KaffixError("OUT_OF_STOCK", "no more widgets", { data: { sku: 7 } });
      throw new Error("database unreachable");
    }
  }
  const app = await start(new App({ name: "t" }).addService(Failing));
  const plain = await app.request(Failing, { kind: "plain" }).catch((e: unknown) => e);
  assert.ok(plain instanceof KaffixError);
  assert.equal(plain.code, "HANDLER_ERROR");
  assert.equal(plain.message, "database unreachable");
  assert.deepEqual(Object.keys(plain.toWire()).sort(), ["code", "message", "retryable"]);
  const custom = await app.request(Failing, { kind: "custom" }).catch((e: unknown) => e);
  assert.ok(custom instanceof KaffixError);
  assert.deepEqual(custom.toWire(), { code: "OUT_OF_STOCK", message: "no more widgets", retryable: false, data: { sku: 7 } });
});

test("publishing to a service that was never added fails with UNKNOWN_SERVICE", async () => {
  const app = await start(new App({ name: "t" }).addService(Recorder));
  await assert.rejects(app.publish(Doubler, { n: 1 }), (e: KaffixError) => e.code === "UNKNOWN_SERVICE");
  await assert.rejects(app.publish("Nope", {}), (e: KaffixError) => e.code === "UNKNOWN_SERVICE");
});

test("a service left out by the services option is unavailable on this node", async () => {
  const app = await start(new App({ name: "t" }).addService(Doubler).addService(Recorder), { services: ["Recorder"] });
  await assert.rejects(app.publish(Doubler, { n: 1 }), (e: KaffixError) => e.code === "SERVICE_UNAVAILABLE");
  assert.deepEqual(app.cluster().self.services.active.map((s) => s.id), ["Recorder"]);
});

test("starting with an unknown service in the services option fails clearly", async () => {
  const app = new App({ name: "t" }).addService(Recorder);
  await assert.rejects(start(app, { services: ["Nope"] }), /unknown service "Nope"; this app has "Recorder"/);
});

test("publishing before start or after stop is refused", async () => {
  const app = new App({ name: "t" }).addService(Recorder);
  await assert.rejects(app.publish(Recorder, { n: 1 }), (e: KaffixError) => e.code === "NOT_RUNNING");
  await start(app);
  await app.stop();
  await assert.rejects(app.publish(Recorder, { n: 1 }), (e: KaffixError) => e.code === "NOT_RUNNING");
});

test("the schema checks messages from app.publish and dead-letters the ones that fail", async () => {
  const seen: unknown[] = [];
  class Strict extends Service<{ n: number }> {
    onMessage(message: { n: number }) {
      seen.push(message);
    }
  }
  const schema = {
    parse(input: unknown) {
      if (typeof (input as { n?: unknown })?.n !== "number") throw new Error("n must be a number");
      return { n: (input as { n: number }).n };
    },
  };
  const app = await start(new App({ name: "t" }).addService(Strict, { schema }));
  await assert.rejects(app.publish("Strict", { n: "x" }), (e: KaffixError) => e.code === "VALIDATION_FAILED" && /n must be a number/.test(e.message));
  await app.publish(Strict, { n: 1, extra: true } as never);
  await app.whenIdle();
  assert.deepEqual(seen, [{ n: 1 }]);
  const [letter] = app.deadLetters();
  assert.equal(letter?.service, "Strict");
  assert.equal(letter?.error.code, "VALIDATION_FAILED");
  assert.deepEqual(letter?.message, { n: "x" });
});

test("a failing handler is retried with growing backoff, then dead-lettered while the service keeps serving", async () => {
  const clock = new ManualClock();
  const attempts: number[] = [];
  class Flaky extends Service<{ fail: boolean }> {
    onMessage(message: { fail: boolean }, ctx: Context) {
      attempts.push(clock.now());
      if (message.fail) throw new Error(`attempt ${ctx.attempt} failed`);
    }
  }
  const app = await start(new App({ name: "t" }).addService(Flaky, { retries: 2, retryBackoffMs: 100 }), {
    clock,
    random: () => 1,
  });
  await app.publish(Flaky, { fail: true });
  await settle();
  assert.equal(attempts.length, 1);
  await clock.advance(99);
  assert.equal(attempts.length, 1);
  await clock.advance(1);
  assert.equal(attempts.length, 2);
  await clock.advance(200);
  assert.equal(attempts.length, 3);
  assert.deepEqual(
    attempts.map((t) => t - attempts[0]!),
    [0, 100, 300],
  );
  await app.whenIdle();
  const [letter] = app.deadLetters();
  assert.equal(letter?.attempts, 3);
  assert.equal(letter?.error.message, "attempt 3 failed");
  await app.publish(Flaky, { fail: false });
  await app.whenIdle();
  assert.equal(attempts.length, 4);
  const metrics = (await app.metrics()).body;
  assert.match(metrics, /kaffix_dead_letters_total\{service="Flaky"[^}]*\} 1/);
  assert.match(metrics, /kaffix_messages_processed_total\{service="Flaky"[^}]*\} 1/);
});

test("a handler error marked not retryable goes to the dead letters at once", async () => {
  let calls = 0;
  class Picky extends Service<void> {
    onMessage() {
      calls++;
      throw new KaffixError("BAD_ORDER", "order is malformed", { retryable: false });
    }
  }
  const app = await start(new App({ name: "t" }).addService(Picky, { retries: 5 }));
  await app.publish(Picky, undefined);
  await app.whenIdle();
  assert.equal(calls, 1);
  assert.equal(app.deadLetters()[0]?.error.code, "BAD_ORDER");
});

test("an un-awaited publish that fails makes the handling message fail instead of vanishing", async () => {
  let calls = 0;
  class Careless extends Service<void> {
    onMessage(_: void, ctx: Context) {
      calls++;
      ctx.publish("Missing" as never, undefined as never);
    }
  }
  const app = await start(new App({ name: "t" }).addService(Careless, { retries: 0 }));
  await app.publish(Careless, undefined);
  await app.whenIdle();
  await settle();
  assert.equal(calls, 1);
  assert.equal(app.deadLetters()[0]?.error.code, "UNKNOWN_SERVICE");
});

test("a full queue makes publishers wait for room, then fail with QUEUE_FULL at their deadline", async () => {
  const clock = new ManualClock();
  const release: (() => void)[] = [];
  const handled: number[] = [];
  class Slow extends Service<number> {
    async onMessage(n: number) {
      await new Promise<void>((resolve) => release.push(resolve));
      handled.push(n);
    }
  }
  const app = await start(new App({ name: "t" }).addService(Slow, { concurrency: 1, queueLimit: 1 }), { clock });
  await app.publish(Slow, 1); // taken by the handler
  await settle();
  await app.publish(Slow, 2); // fills the queue
  let third = false;
  const waiting = app.publish(Slow, 3, { timeoutMs: 1000 }).then(() => (third = true));
  await settle();
  assert.equal(third, false);
  release.shift()!(); // message 1 done; 2 starts; 3 gets its place
  await waiting;
  assert.equal(third, true);
  const late = app.publish(Slow, 4, { timeoutMs: 500 }).catch((e: KaffixError) => e);
  await clock.advance(500);
  const error = await late;
  assert.ok(error instanceof KaffixError && error.code === "QUEUE_FULL" && error.retryable);
  while (handled.length < 3) {
    release.shift()?.();
    await settle();
  }
  assert.deepEqual(handled, [1, 2, 3]);
});

test("a request with no reply before its timeout fails with TIMEOUT, and nested requests inherit the deadline", async () => {
  const clock = new ManualClock();
  let innerDeadline = 0;
  class Never extends Service<void> {
    onMessage(_: void, ctx: Context) {
      innerDeadline = ctx.deadline;
      return new Promise<never>(() => {});
    }
  }
  class Outer extends Service<void> {
    onMessage(_: void, ctx: Context) {
      return ctx.request(Never, undefined, { timeoutMs: 60_000 });
    }
  }
  const app = await start(new App({ name: "t" }).addService(Never).addService(Outer), { clock });
  const t0 = clock.now();
  const reply = app.request(Outer, undefined, { timeoutMs: 1000 }).catch((e: KaffixError) => e.code);
  await settle();
  assert.equal(innerDeadline, t0 + 1000);
  await clock.advance(1020);
  assert.equal(await reply, "TIMEOUT");
  // The handler never finishes: stopping waits out its deadline on the same clock.
  const stopped = app.stop({ timeoutMs: 100 });
  await clock.advance(100);
  await stopped;
});

test("onStart runs before the first message and onStop after the last one, when the node stops", async () => {
  const events: string[] = [];
  class Lifecycle extends Service<string> {
    override async onStart(ctx: Context) {
      events.push(`start ${ctx.service}`);
    }
    async onMessage(message: string) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(message);
    }
    override onStop() {
      events.push("stop");
    }
  }
  const app = await start(new App({ name: "t" }).addService(Lifecycle));
  await app.publish(Lifecycle, "a");
  await app.publish(Lifecycle, "b");
  const stopping = app.stop();
  await assert.rejects(app.publish(Lifecycle, "c"), (e: KaffixError) => e.code === "STOPPING");
  await stopping;
  assert.deepEqual(events, ["start Lifecycle", "a", "b", "stop"]);
  assert.equal(app.state, "stopped");
});

test("stop gives up on work still running at its deadline and fails waiting requests with STOPPING", async () => {
  class Stuck extends Service<void> {
    onMessage() {
      return new Promise<never>(() => {});
    }
  }
  const app = await start(new App({ name: "t" }).addService(Stuck, { concurrency: 1 }));
  const first = app.request(Stuck, undefined).catch((e: KaffixError) => e.code);
  const second = app.request(Stuck, undefined).catch((e: KaffixError) => e.code);
  await app.stop({ timeoutMs: 20 });
  assert.deepEqual(await Promise.all([first, second]), ["STOPPING", "STOPPING"]);
});

test("services that publish to each other forever do not starve timers and I/O", async () => {
  let hops = 0;
  class Ping extends Service<void> {
    onMessage(_: void, ctx: Context) {
      hops++;
      if (!stop) ctx.publish(Pong, undefined);
    }
  }
  class Pong extends Service<void> {
    onMessage(_: void, ctx: Context) {
      if (!stop) ctx.publish(Ping, undefined);
    }
  }
  let stop = false;
  const app = await start(new App({ name: "t" }).addService(Ping).addService(Pong));
  await app.publish(Ping, undefined);
  await new Promise((resolve) => setTimeout(resolve, 20)); // fires only if the loop yields
  stop = true;
  await app.whenIdle();
  assert.ok(hops > 100, `expected many hops, got ${hops}`);
});

test("the dead-letter list keeps only the newest entries up to its limit", async () => {
  class Bad extends Service<number> {
    onMessage() {
      throw new KaffixError("NOPE", "no", { retryable: false });
    }
  }
  const app = await start(new App({ name: "t" }).addService(Bad), { deadLetterLimit: 3 });
  for (let i = 0; i < 5; i++) await app.publish(Bad, i);
  await app.whenIdle();
  assert.deepEqual(app.deadLetters().map((d) => d.message), [2, 3, 4]);
});
