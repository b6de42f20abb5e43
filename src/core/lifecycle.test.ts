import assert from "node:assert/strict";
import { createServer } from "node:net";
import { afterEach, test } from "node:test";
import { App, KaffixError, Service, type Context, type StartOptions } from "../index.js";
import { ManualClock, settle } from "../testing/index.js";

const started: App[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.stop({ timeoutMs: 100 })));
});

function start(app: App, options: StartOptions = {}): Promise<void> {
  started.push(app);
  return app.start({ port: 0, host: "127.0.0.1", logLevel: "silent", ...options });
}

test("an onStart may publish to a service added after it; the message runs once every service started", async () => {
  const events: string[] = [];
  class Announcer extends Service<void> {
    override async onStart(ctx: Context) {
      events.push("Announcer started");
      await ctx.publish(Listener, "hello");
    }
    onMessage() {}
  }
  class Listener extends Service<string> {
    override onStart() {
      events.push("Listener started");
    }
    onMessage(message: string) {
      events.push(`heard ${message}`);
    }
  }
  const app = new App({ name: "t" }).addService(Announcer).addService(Listener);
  await start(app);
  await app.whenIdle();
  assert.deepEqual(events, ["Announcer started", "Listener started", "heard hello"]);
});

test("a start that fails after some onStart hooks ran calls their onStop and frees the ports", async () => {
  const events: string[] = [];
  class Pool extends Service<void> {
    override onStart() {
      events.push("pool opened");
    }
    onMessage() {}
    override onStop() {
      events.push("pool closed");
    }
  }
  const busy = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => busy.once("listening", resolve));
  const busyPort = (busy.address() as { port: number }).port;
  try {
    const app = new App({ name: "t" }).addService(Pool);
    await assert.rejects(start(app, { http: { port: busyPort } }), /EADDRINUSE/);
    assert.deepEqual(events, ["pool opened", "pool closed"]);
    assert.equal(app.state, "stopped");
  } finally {
    busy.close();
  }
});

test("a stop called while the node is starting waits for the start and then stops it", async () => {
  let stops = 0;
  class Slow extends Service<void> {
    override async onStart() {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    onMessage() {}
    override onStop() {
      stops++;
    }
  }
  const app = new App({ name: "t" }).addService(Slow);
  const starting = start(app);
  const stopping = app.stop();
  await starting;
  await stopping;
  assert.equal(app.state, "stopped");
  assert.equal(stops, 1);
  await assert.rejects(app.publish(Slow, undefined), (e: KaffixError) => e.code === "NOT_RUNNING");
});

test("stopping cancels pending retries: no handler runs after onStop", async () => {
  const clock = new ManualClock();
  const events: string[] = [];
  class Flaky extends Service<void> {
    onMessage(_: void, ctx: Context) {
      events.push(`attempt ${ctx.attempt}`);
      throw new Error("down");
    }
    override onStop() {
      events.push("stop");
    }
  }
  const app = new App({ name: "t" }).addService(Flaky, { retries: 3, retryBackoffMs: 1000 });
  await start(app, { clock, random: () => 1 });
  await app.publish(Flaky, undefined);
  await settle();
  const stopping = app.stop({ timeoutMs: 50 });
  await clock.advance(50);
  await stopping;
  await clock.advance(60_000);
  assert.deepEqual(events, ["attempt 1", "stop"]);
});

test("a handler still running at the stop deadline gets STOPPING for its late publishes", async () => {
  let release!: () => void;
  let late: Promise<unknown> | undefined;
  class Lingering extends Service<void> {
    async onMessage(_: void, ctx: Context) {
      await new Promise<void>((resolve) => (release = resolve));
      late = ctx.publish(Lingering, undefined).catch((e: KaffixError) => e.code);
    }
  }
  const app = new App({ name: "t" }).addService(Lingering);
  await start(app);
  await app.publish(Lingering, undefined);
  await settle();
  await app.stop({ timeoutMs: 10 });
  release();
  await settle();
  assert.equal(await late, "STOPPING");
});

test("a bad timeoutMs is an INVALID_ARGUMENT, never a hang", async () => {
  class Echo extends Service<number, number> {
    onMessage(n: number) {
      return n;
    }
  }
  const app = new App({ name: "t" }).addService(Echo);
  await start(app);
  for (const timeoutMs of [Number.NaN, Number.POSITIVE_INFINITY, 0, -5, "abc" as unknown as number]) {
    await assert.rejects(app.request(Echo, 1, { timeoutMs }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
    await assert.rejects(app.publish(Echo, 1, { timeoutMs }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
  }
  await assert.rejects(app.stop({ timeoutMs: Number.NaN }), (e: KaffixError) => e.code === "INVALID_ARGUMENT");
});

test("a requester gets the handler's error without its stack or cause, as a remote caller would", async () => {
  class Broken extends Service<void> {
    onMessage(): never {
      throw new Error("secret path /srv/app/db.ts");
    }
  }
  const app = new App({ name: "t" }).addService(Broken);
  await start(app);
  const error = await app.request(Broken, undefined).catch((e: KaffixError) => e);
  assert.ok(error instanceof KaffixError);
  assert.equal(error.cause, undefined);
  // A new error made from the wire form: none of the handler's frames (the handler may run inside
  // the request call, so the caller's own frames can appear).
  assert.doesNotMatch(error.stack ?? "", /onMessage/);
});

test("no more handlers run at once than the concurrency limit", async () => {
  let running = 0;
  let peak = 0;
  class Bounded extends Service<void> {
    async onMessage() {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running--;
    }
  }
  const app = new App({ name: "t" }).addService(Bounded, { concurrency: 3 });
  await start(app);
  await Promise.all(Array.from({ length: 30 }, () => app.publish(Bounded, undefined)));
  await app.whenIdle();
  assert.equal(peak, 3);
});

test("metrics count received, processed and failed messages, queue depth and handler durations per service", async () => {
  let release!: () => void;
  class Counted extends Service<string> {
    async onMessage(message: string) {
      if (message === "block") await new Promise<void>((resolve) => (release = resolve));
      if (message === "fail") throw new KaffixError("NO", "no", { retryable: false });
    }
  }
  const app = new App({ name: "t" }).addService(Counted, { concurrency: 1 });
  await start(app);
  await app.publish(Counted, "block");
  await settle();
  for (const message of ["fail", "a", "b", "c", "d", "e", "f", "g", "h"]) await app.publish(Counted, message);
  const during = (await app.metrics()).body;
  assert.match(during, /kaffix_queue_depth\{service="Counted"[^}]*\} 9/);
  assert.match(during, /kaffix_in_flight\{service="Counted"[^}]*\} 1/);
  release();
  await app.whenIdle();
  const after = (await app.metrics()).body;
  assert.match(after, /kaffix_messages_received_total\{service="Counted"[^}]*\} 10/);
  assert.match(after, /kaffix_messages_processed_total\{service="Counted"[^}]*\} 9/);
  assert.match(after, /kaffix_messages_failed_total\{service="Counted"[^}]*\} 1/);
  assert.match(after, /kaffix_handler_duration_seconds_count\{[^}]*service="Counted"[^}]*\} 1\b/);
});

test("a token shorter than 128 bits of entropy gets a warning, a strong one does not", async () => {
  const { pino } = await import("pino");
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
  class Quiet extends Service<void> {
    onMessage() {}
  }
  await start(new App({ name: "t" }).addService(Quiet), { token: "password123", logger });
  assert.equal(lines.filter((line) => line.includes("128 bits")).length, 1);
  lines.length = 0;
  await start(new App({ name: "t" }).addService(Quiet), { token: "kR4x9bLq2Zt7wPv3Nc8Hy5Jd6Fs1Gm0T", logger });
  assert.equal(lines.filter((line) => line.includes("128 bits")).length, 0);
});
