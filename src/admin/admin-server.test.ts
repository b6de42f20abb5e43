// The admin endpoint seen from an HTTP client: real apps, real sockets, global fetch.

import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { App, KaffixError, Service, type StartOptions } from "../index.js";

const TOKEN = "a-test-token-with-enough-entropy-1234567890";

class Doubler extends Service<{ n: number }, number> {
  override onMessage(message: { n: number }): number {
    return message.n * 2;
  }
}

class Silent extends Service<unknown, void> {
  override onMessage(): void {}
}

class Broken extends Service<unknown, never> {
  override onMessage(): never {
    throw new Error("the database is on fire");
  }
}

class Picky extends Service<unknown, never> {
  override onMessage(): never {
    throw new KaffixError("OUT_OF_STOCK", "no more widgets", { data: { sku: "w-1" } });
  }
}

/** A latch a handler can wait on, so a test decides when it finishes. */
function latch(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** Starts an app with the admin endpoint on a free port and stops it when the test ends. */
async function startApp(t: TestContext, build: (app: App) => void, options: StartOptions = {}): Promise<App> {
  const app = new App({ name: "Admin Test", version: "1.2.3" });
  build(app);
  await app.start({ port: 0, http: { port: 0 }, logLevel: "silent", ...options });
  t.after(() => app.stop({ timeoutMs: 100 }));
  return app;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(app: App, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${app.httpUrl}${path}`, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function post(app: App, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return call(app, path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
}

test("GET /health answers 200 with status ok while the node runs", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler));
  const answer = await call(app, "/health");
  assert.equal(answer.status, 200);
  assert.equal(answer.json.status, "ok");
  assert.equal(answer.json.node, app.nodeId);
  assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
});

test("GET /cluster shows this node and the services active on it", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler).addService(Silent), { services: ["Doubler"] });
  const answer = await call(app, "/cluster");
  assert.equal(answer.status, 200);
  assert.equal(answer.json.self.id, app.nodeId);
  assert.equal(answer.json.self.version, "1.2.3");
  assert.deepEqual(answer.json.self.services.available, ["Doubler"]);
  assert.deepEqual(
    answer.json.self.services.active.map((s: { id: string }) => s.id),
    ["Doubler"],
  );
  assert.deepEqual(
    answer.json.members.map((m: { id: string }) => m.id),
    [app.nodeId],
  );
});

test("POST /publish/<id> answers 202 and the handler receives the message", async (t) => {
  const seen: unknown[] = [];
  class Recorder extends Service<unknown, void> {
    override onMessage(message: unknown): void {
      seen.push(message);
    }
  }
  const app = await startApp(t, (a) => a.addService(Recorder));
  const answer = await post(app, "/publish/Recorder?timeoutMs=500", { hello: "world" });
  assert.equal(answer.status, 202);
  assert.deepEqual(answer.json, { accepted: true });
  await app.whenIdle();
  assert.deepEqual(seen, [{ hello: "world" }]);
});

test("POST /request/<id> answers with the handler's reply, and a reply of undefined as null", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler).addService(Silent));
  const doubled = await post(app, "/request/Doubler", { n: 21 });
  assert.equal(doubled.status, 200);
  assert.deepEqual(doubled.json, { reply: 42 });
  const nothing = await post(app, "/request/Silent", "null");
  assert.equal(nothing.status, 200);
  assert.deepEqual(nothing.json, { reply: null });
});

test("a handler that throws answers 500 with its code and message but never a stack", async (t) => {
  const app = await startApp(t, (a) => a.addService(Broken).addService(Picky));
  const broken = await post(app, "/request/Broken", {});
  assert.equal(broken.status, 500);
  assert.equal(broken.json.code, "HANDLER_ERROR");
  assert.equal(broken.json.message, "the database is on fire");
  assert.doesNotMatch(broken.text, /stack|\bat .*\(|\.ts:\d+/);
  const picky = await post(app, "/request/Picky", {});
  assert.equal(picky.status, 500);
  assert.deepEqual(picky.json, { code: "OUT_OF_STOCK", message: "no more widgets", retryable: false, data: { sku: "w-1" } });
});

test("a message that fails the schema answers 400 VALIDATION_FAILED and shows up in /dead-letters", async (t) => {
  const schema = {
    parse(input: unknown): { n: number } {
      if (typeof (input as { n?: unknown })?.n !== "number") throw new Error("n must be a number");
      return input as { n: number };
    },
  };
  const app = await startApp(t, (a) => a.addService(Doubler, { schema }));
  const answer = await post(app, "/publish/Doubler", { n: "seven" });
  assert.equal(answer.status, 400);
  assert.equal(answer.json.code, "VALIDATION_FAILED");
  assert.match(answer.json.message, /n must be a number/);
  const letters = await call(app, "/dead-letters");
  assert.equal(letters.status, 200);
  assert.equal(letters.json.deadLetters.length, 1);
  assert.equal(letters.json.deadLetters[0].service, "Doubler");
  assert.deepEqual(letters.json.deadLetters[0].message, { n: "seven" });
  assert.equal(letters.json.deadLetters[0].error.code, "VALIDATION_FAILED");
});

test("an unknown service or path answers 404 in the JSON error form", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler));
  const service = await post(app, "/request/Nobody", {});
  assert.equal(service.status, 404);
  assert.equal(service.json.code, "UNKNOWN_SERVICE");
  const path = await call(app, "/nowhere");
  assert.equal(path.status, 404);
  assert.equal(path.json.code, "NOT_FOUND");
  assert.equal(typeof path.json.message, "string");
});

test("a body that is empty or not JSON answers 400 BAD_REQUEST", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler));
  const broken = await post(app, "/request/Doubler", "{not json", { "content-type": "text/plain" });
  assert.equal(broken.status, 400);
  assert.equal(broken.json.code, "BAD_REQUEST");
  const empty = await post(app, "/publish/Doubler", "");
  assert.equal(empty.status, 400);
  assert.equal(empty.json.code, "BAD_REQUEST");
});

test("a timeoutMs that is not a positive integer answers 400 BAD_REQUEST", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler));
  for (const value of ["0", "-5", "abc", "1.5", "99999999"]) {
    const answer = await post(app, `/request/Doubler?timeoutMs=${value}`, { n: 1 });
    assert.equal(answer.status, 400, `timeoutMs=${value}`);
    assert.equal(answer.json.code, "BAD_REQUEST");
  }
});

test("a request whose handler outlives timeoutMs answers 504 TIMEOUT", async (t) => {
  const gate = latch();
  class Slow extends Service<unknown, string> {
    override async onMessage(): Promise<string> {
      await gate.wait;
      return "late";
    }
  }
  const app = await startApp(t, (a) => a.addService(Slow));
  const answer = await post(app, "/request/Slow?timeoutMs=20", {});
  gate.open();
  assert.equal(answer.status, 504);
  assert.equal(answer.json.code, "TIMEOUT");
});

test("a full queue answers 503 QUEUE_FULL with Retry-After", async (t) => {
  const gate = latch();
  class Busy extends Service<unknown, void> {
    override async onMessage(): Promise<void> {
      await gate.wait;
    }
  }
  const app = await startApp(t, (a) => a.addService(Busy, { concurrency: 1, queueLimit: 1, retries: 0 }));
  assert.equal((await post(app, "/publish/Busy", 1)).status, 202); // runs and blocks
  assert.equal((await post(app, "/publish/Busy", 2)).status, 202); // fills the queue
  const full = await post(app, "/publish/Busy?timeoutMs=1", 3);
  gate.open();
  assert.equal(full.status, 503);
  assert.equal(full.json.code, "QUEUE_FULL");
  assert.equal(full.headers.get("retry-after"), "1");
});

test("a wrong method on a known path answers 405 with an Allow header", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler));
  const onPost = await call(app, "/health", { method: "POST", body: "{}" });
  assert.equal(onPost.status, 405);
  assert.equal(onPost.json.code, "METHOD_NOT_ALLOWED");
  assert.equal(onPost.headers.get("allow"), "GET, HEAD");
  const onGet = await call(app, "/request/Doubler");
  assert.equal(onGet.status, 405);
  assert.equal(onGet.headers.get("allow"), "POST");
});

test("a body over maxBodyBytes answers 413 whether its length is declared or streamed", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler), { http: { port: 0, maxBodyBytes: 64 } });
  const declared = await post(app, "/request/Doubler", { n: 1, padding: "x".repeat(200) });
  assert.equal(declared.status, 413);
  assert.equal(declared.json.code, "PAYLOAD_TOO_LARGE");

  // Chunked, with no Content-Length: the limit has to be found by counting, and the answer comes
  // before the client has finished sending.
  const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(`${app.httpUrl}/request/Doubler`, { method: "POST" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", reject);
    req.write(`{"n":1,"padding":"${"x".repeat(40)}`);
    req.write("x".repeat(40));
  });
  assert.equal(streamed.status, 413);
  assert.equal(JSON.parse(streamed.body).code, "PAYLOAD_TOO_LARGE");

  const small = await post(app, "/request/Doubler", { n: 2 });
  assert.deepEqual(small.json, { reply: 4 });
});

test("GET /metrics serves Prometheus text with a processed count per service", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler));
  await post(app, "/request/Doubler", { n: 1 });
  const answer = await call(app, "/metrics");
  assert.equal(answer.status, 200);
  assert.match(answer.headers.get("content-type") ?? "", /^text\/plain/);
  assert.match(answer.text, /kaffix_messages_processed_total\{[^}]*service="Doubler"[^}]*\} 1/);
});

test("bound to a non-loopback address, every request needs the bearer token", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler), { token: TOKEN, http: { port: 0, host: "0.0.0.0" } });
  assert.match(app.httpUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
  const missing = await call(app, "/health");
  assert.equal(missing.status, 401);
  assert.equal(missing.json.code, "UNAUTHORIZED");
  assert.equal(missing.headers.get("www-authenticate"), "Bearer");
  const wrong = await call(app, "/health", { headers: { authorization: "Bearer not-the-token" } });
  assert.equal(wrong.status, 401);
  const right = await call(app, "/health", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(right.status, 200);
  const publish = await post(app, "/request/Doubler", { n: 5 }, { authorization: `bearer ${TOKEN}` });
  assert.deepEqual(publish.json, { reply: 10 });
});

test("on loopback the endpoint needs no token", async (t) => {
  const app = await startApp(t, (a) => a.addService(Doubler), { token: TOKEN });
  assert.equal((await call(app, "/health")).status, 200);
});

test("stop() lets a request in progress finish, then releases the port", async (t) => {
  const gate = latch();
  const reached = latch();
  class Slow extends Service<unknown, string> {
    override async onMessage(): Promise<string> {
      reached.open();
      await gate.wait;
      return "done";
    }
  }
  const app = await startApp(t, (a) => a.addService(Slow));
  const url = app.httpUrl;
  await call(app, "/health"); // leaves an idle keep-alive connection behind
  const pending = post(app, "/request/Slow", {});
  await reached.wait;
  const stopped = app.stop();
  assert.equal(app.state, "stopping");
  gate.open();
  const answer = await pending;
  await stopped;
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.json, { reply: "done" });
  await assert.rejects(fetch(`${url}/health`));
});

test("stop() answers a request still running after the grace period with 503 STOPPING", async (t) => {
  const gate = latch();
  const reached = latch();
  class Stuck extends Service<unknown, string> {
    override async onMessage(): Promise<string> {
      reached.open();
      await gate.wait;
      return "too late";
    }
  }
  const app = await startApp(t, (a) => a.addService(Stuck));
  const pending = post(app, "/request/Stuck", {});
  await reached.wait;
  const stopped = app.stop({ timeoutMs: 50 });
  const answer = await pending;
  gate.open();
  await stopped;
  assert.equal(answer.status, 503);
  assert.equal(answer.json.code, "STOPPING");
});
