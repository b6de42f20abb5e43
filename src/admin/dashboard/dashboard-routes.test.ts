// The dashboard's routes on a real admin endpoint: which need the token, what the page may load, and streams ending with the node.

import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { Script } from "node:vm";
import { App, Service, type StartOptions } from "../../index.js";
import { CLIENT_SCRIPT } from "./assets/client-script.js";
import { PAGE_CSS } from "./assets/page-css.js";
import { PAGE_HTML } from "./assets/page-html.js";

const TOKEN = "a-dashboard-test-token-with-enough-entropy-123";

class Front extends Service<number> {
  onMessage(): void {}
}

async function startApp(t: TestContext, options: StartOptions = {}): Promise<App> {
  const app = new App({ name: "Dashboard Test" }).addService(Front);
  await app.start({ port: 0, http: { port: 0 }, logLevel: "silent", ...options });
  t.after(() => app.stop({ timeoutMs: 100 }));
  return app;
}

/** Reads a stream until its first complete event; returns that event's name and the reader, still open. */
async function firstEvent(response: Response): Promise<{ event: string; data: any; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    assert.ok(!done, "the stream ended before its first event");
    text += decoder.decode(value, { stream: true });
    const block = text.split("\n\n").find((b) => b.startsWith("event: "));
    if (block !== undefined) {
      const [event, data] = block.split("\n");
      return { event: event!.slice(7), data: JSON.parse(data!.slice(6)), reader };
    }
  }
}

test("the page and its assets need no token where every other route does, and the live stream needs it", async (t) => {
  const app = await startApp(t, { token: TOKEN, http: { port: 0, host: "0.0.0.0" } });
  for (const [path, type] of [
    ["/", "text/html"],
    ["/dashboard/app.js", "text/javascript"],
    ["/dashboard/style.css", "text/css"],
  ] as const) {
    const response = await fetch(`${app.httpUrl}${path}`);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type") ?? "", new RegExp(`^${type}`));
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  }
  const missing = await fetch(`${app.httpUrl}/dashboard/events`);
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get("www-authenticate"), "Bearer");
  const wrong = await fetch(`${app.httpUrl}/dashboard/events`, { headers: { authorization: "Bearer nope" } });
  assert.equal(wrong.status, 401);
  const right = await fetch(`${app.httpUrl}/dashboard/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(right.status, 200);
  assert.match(right.headers.get("content-type") ?? "", /^text\/event-stream/);
  const { event, data, reader } = await firstEvent(right);
  assert.equal(event, "full");
  assert.equal(data.now.self.id, app.nodeId);
  await reader.cancel();
});

test("the page runs only this node's script and style, and loads nothing from anywhere else", async (t) => {
  const app = await startApp(t);
  const page = await fetch(`${app.httpUrl}/`);
  const policy = page.headers.get("content-security-policy") ?? "";
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /script-src 'self'(;|$)/);
  assert.match(policy, /form-action 'none'/);
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const remote = /\b(?:https?:)?\/\/(?!www\.w3\.org\/2000\/svg)[a-z0-9.-]+\.[a-z]{2,}/i;
  for (const [name, text] of Object.entries({ PAGE_HTML, PAGE_CSS, CLIENT_SCRIPT })) assert.doesNotMatch(text, remote, `${name} refers to another origin`);
  assert.doesNotMatch(PAGE_HTML, /<script>|<style>|\son[a-z]+=/i, "no inline script, style or handler (the policy would block it)");
  assert.doesNotThrow(() => new Script(CLIENT_SCRIPT), "the served script parses");
});

test("an unchanged asset is answered 304 to a revalidation", async (t) => {
  const app = await startApp(t);
  const first = await fetch(`${app.httpUrl}/dashboard/app.js`);
  const etag = first.headers.get("etag");
  assert.ok(etag !== null);
  const again = await fetch(`${app.httpUrl}/dashboard/app.js`, { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
});

test("stopping the node ends its open dashboard streams", async (t) => {
  const app = await startApp(t);
  const { reader } = await firstEvent(await fetch(`${app.httpUrl}/dashboard/events`));
  await app.stop({ timeoutMs: 100 });
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  assert.equal(app.state, "stopped");
});

test("the live stream answers only GET", async (t) => {
  const app = await startApp(t);
  const response = await fetch(`${app.httpUrl}/dashboard/events`, { method: "HEAD" });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "GET");
});
