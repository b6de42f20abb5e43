// A request to an idle local mailbox runs its handler inside the request call: still in order, bounded in depth, fair to the event loop.

import assert from "node:assert/strict";
import { test } from "node:test";
import { App, Service, type Context } from "../index.js";

const start = (app: App) => app.start({ port: 0, host: "127.0.0.1", logLevel: "silent" });

test("a request to an idle service is handled before the request call returns, and its reply is the handler's", async () => {
  const seen: string[] = [];
  class Echo extends Service<string, string> {
    onMessage(message: string) {
      seen.push(message);
      return message.toUpperCase();
    }
  }
  const app = new App({ name: "fast" }).addService(Echo);
  await start(app);
  try {
    const reply = app.request(Echo, "hi");
    assert.deepEqual(seen, ["hi"]);
    assert.equal(await reply, "HI");
  } finally {
    await app.stop();
  }
});

test("requests still run in the order they were made when the service is busy", async () => {
  const order: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  class One extends Service<number, number> {
    async onMessage(n: number) {
      order.push(n);
      if (n === 1) await gate;
      return n;
    }
  }
  const app = new App({ name: "fast" }).addService(One, { concurrency: 1 });
  await start(app);
  try {
    const replies = [1, 2, 3].map((n) => app.request(One, n));
    assert.deepEqual(order, [1], "the first runs at once; the others wait behind it");
    release();
    assert.deepEqual(await Promise.all(replies), [1, 2, 3]);
    assert.deepEqual(order, [1, 2, 3]);
  } finally {
    await app.stop();
  }
});

test("a chain of requests ten thousand deep completes without exhausting the stack", async () => {
  class Down extends Service<number, number> {
    onMessage(n: number, ctx: Context): number | Promise<number> {
      return n === 0 ? 0 : ctx.request(Down, n - 1).then((m) => m + 1);
    }
  }
  const app = new App({ name: "fast" }).addService(Down, { concurrency: 20_000 });
  await start(app);
  try {
    assert.equal(await app.request(Down, 10_000), 10_000);
  } finally {
    await app.stop();
  }
});

test("a caller that requests in a tight loop still lets timers run", async () => {
  class Echo extends Service<number, number> {
    onMessage(n: number) {
      return n;
    }
  }
  const app = new App({ name: "fast" }).addService(Echo);
  await start(app);
  try {
    const total = 50_000;
    let done = 0;
    let doneWhenTimerFired = -1;
    setTimeout(() => (doneWhenTimerFired = done), 0);
    for (let i = 0; i < total; i++) {
      await app.request(Echo, i);
      done++;
    }
    assert.ok(doneWhenTimerFired >= 0 && doneWhenTimerFired < total, `the timer fired after ${doneWhenTimerFired} of ${total} requests`);
  } finally {
    await app.stop();
  }
});
