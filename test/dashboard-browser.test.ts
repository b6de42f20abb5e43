// The dashboard in real headless Chromium: three nodes in two regions, traffic, a dead letter, a kill -9, a clean stop, and the token prompt.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Page } from "playwright-core";
import type { App } from "../src/index.js";
import { buildDashboardApp, DASHBOARD_NODE_OPTIONS, Flaky, Front } from "./support/dashboard-app.js";
import { launchChromium } from "./support/dashboard-browser.js";
import { ROOT, run } from "./support/processes.js";

const OUTPUT = join(ROOT, "test-output", "dashboard");
/** Set to refresh the screenshot in docs/ (it then lets the charts fill for a while first). */
const DOCS_SCREENSHOT = process.env.KAFFIX_DOCS_SCREENSHOT === "1";
/** How long the page may take to show a change: gossip every 0.5 s, a kill seen in 1–3 s, one push per second. */
const SHOWN_BOUND_MS = 15_000;

/** The page's document, as far as the checks below use it: they run in the browser, and this project's types have no DOM. */
declare const document: {
  querySelector(selector: string): { getAttribute(name: string): string | null; textContent: string | null } | null;
  getElementById(id: string): { textContent: string | null } | null;
};

const browser = await launchChromium();
const skip = typeof browser === "string" ? `dashboard browser tests skipped: ${browser}` : false;
after(() => (typeof browser === "string" ? undefined : browser.close()));

async function startNode(nodes: App[], options: Parameters<App["start"]>[0]): Promise<App> {
  const app = buildDashboardApp();
  nodes.push(app);
  await app.start({ ...DASHBOARD_NODE_OPTIONS, ...options });
  return app;
}

/** Waits until `predicate(arg)` holds in the page; fails with what the page shows when it does not in time. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the predicate runs in the page, typed by its caller
async function shown(page: Page, what: string, predicate: (arg: any) => boolean, arg: unknown): Promise<void> {
  try {
    await page.waitForFunction(predicate, arg, { timeout: SHOWN_BOUND_MS, polling: 100 });
  } catch {
    const text = await page.locator("main").innerText().catch(() => "(no page)");
    assert.fail(`the dashboard did not show ${what} within ${SHOWN_BOUND_MS} ms; it shows:\n${text.slice(0, 3000)}`);
  }
}

test("the dashboard shows every node and its services, traffic between services, dead letters, a killed node as dead and a stopped one as left", { skip, timeout: 60_000 }, async (t) => {
  if (typeof browser === "string") return;
  const token = randomBytes(24).toString("base64url");
  const nodes: App[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop({ timeoutMs: 500 }))));
  // The second node may not run Back: what its Front sends there crosses the network.
  const first = await startNode(nodes, { token, region: "eu-west", services: ["Front", "Back", "Flaky"], http: { port: 0 } });
  const seed = `127.0.0.1:${first.port}`;
  const second = await startNode(nodes, { token, peers: [seed], region: "eu-west", services: ["Front"] });
  const third = run(["test/support/dashboard-node.ts", seed, "us-east", "Front,Back"], { KAFFIX_TOKEN: token });
  const thirdId = (await third.line(/^dashboard node ready \w+$/)).split(" ").pop()!;
  const ids = [first.nodeId, second.nodeId, thirdId];

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => void (message.type() === "error" && pageErrors.push(message.text())));
  await page.goto(`${first.httpUrl}/`);

  await shown(page, "three alive nodes", (want: string[]) => want.every((id: string) => document.querySelector(`[data-node="${id}"][data-state="alive"]`) !== null), ids);
  const regions = await page.locator("[data-region]").evaluateAll((els) => els.map((el) => el.getAttribute("data-region")));
  assert.deepEqual(regions, ["eu-west", "us-east"]);
  const chips = (id: string) => page.locator(`[data-node="${id}"] [data-service]`).evaluateAll((els) => els.map((el) => el.getAttribute("data-service")));
  assert.deepEqual(await chips(first.nodeId), ["Back", "Flaky", "Front"]);
  assert.deepEqual(await chips(second.nodeId), ["Front"]);
  assert.deepEqual(await chips(thirdId), ["Back", "Front"]);
  for (const service of ["Front", "Back", "Flaky"]) assert.equal(await page.locator(`[data-service-card="${service}"]`).count(), 1);

  const processed = () => page.locator('[data-service-card="Front"] [data-counter="processed"]').innerText().then(Number);
  const before = await processed();
  let sending = true;
  // Keys spread the messages over every Front replica (affinity, not cost), so the second node gets its share.
  const traffic = (async () => {
    for (let n = 0; sending; n += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => first.publish(Front, { n: n + i }, { key: String(n + i) }).catch(() => {})));
      await sleep(50);
    }
  })();
  t.after(async () => {
    sending = false;
    await traffic;
  });
  await first.publish(Flaky, { sku: "w-42" });

  await shown(page, "cross-node traffic from Front to Back", () => Number(document.querySelector('[data-edge="Front->Back"]')?.getAttribute("data-cross-per-sec")) > 0, null);
  await shown(page, "more messages processed by Front on this node", (was: number) => Number(document.querySelector('[data-service-card="Front"] [data-counter="processed"]')?.textContent) > was, before);
  await shown(page, "a throughput line for Front", () => document.querySelector('[data-service-card="Front"] polyline') !== null, null);
  await shown(page, "the dead letter with its error", () => document.querySelector('[data-dead-letter="Flaky"]')?.textContent?.includes("OUT_OF_STOCK") === true, null);
  assert.match(await page.locator('[data-dead-letter="Flaky"]').innerText(), /no stock left for w-42/);
  assert.ok((await processed()) > before);

  if (DOCS_SCREENSHOT) await sleep(30_000);
  third.child.kill("SIGKILL");
  await shown(page, "the killed node as dead", (id: string) => document.querySelector(`[data-node="${id}"][data-state="dead"]`) !== null, thirdId);
  await shown(page, "the death in the membership timeline", (id: string) => document.querySelector(`[data-event="died"][data-node="${id}"]`) !== null, thirdId);
  assert.equal(await page.locator(`[data-node="${first.nodeId}"]`).getAttribute("data-state"), "alive");

  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "cluster.png"), fullPage: true });
  if (DOCS_SCREENSHOT) await page.screenshot({ path: join(ROOT, "docs", "dashboard.png"), fullPage: true });

  // A node that stops cleanly leaves, and is shown so rather than as dead.
  await second.stop({ timeoutMs: 1000 });
  await shown(page, "the stopped node as left", (id: string) => document.querySelector(`[data-node="${id}"][data-state="left"]`) !== null, second.nodeId);
  await shown(page, "the leave in the membership timeline", (id: string) => document.querySelector(`[data-event="left"][data-node="${id}"]`) !== null, second.nodeId);
  assert.deepEqual(pageErrors, []);
});

test("on a node that needs a token, the page asks for it once per tab and sends it only in a header", { skip, timeout: 60_000 }, async (t) => {
  if (typeof browser === "string") return;
  const token = randomBytes(24).toString("base64url");
  const nodes: App[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop({ timeoutMs: 500 }))));
  const app = await startNode(nodes, { token, http: { port: 0, host: "0.0.0.0" } });

  const page = await browser.newPage();
  const urls: string[] = [];
  const streamAuth: (string | undefined)[] = [];
  page.on("request", (request) => {
    urls.push(request.url());
    if (request.url().endsWith("/dashboard/events")) streamAuth.push(request.headers().authorization);
  });
  await page.goto(`${app.httpUrl}/`);
  await page.locator("#auth").waitFor({ state: "visible", timeout: SHOWN_BOUND_MS });

  await page.fill("#auth-token", "not-the-token");
  await page.click("#auth-go");
  await shown(page, "that the token was refused", () => document.getElementById("auth-error")?.textContent?.includes("refused") === true, null);

  await page.fill("#auth-token", token);
  await page.press("#auth-token", "Enter");
  await shown(page, "this node", (id: string) => document.querySelector(`[data-node="${id}"]`) !== null, app.nodeId);
  await page.reload();
  await shown(page, "this node again after a reload", (id: string) => document.querySelector(`[data-node="${id}"]`) !== null, app.nodeId);
  assert.equal(await page.locator("#auth").isVisible(), false, "a reload does not ask again");

  assert.deepEqual(streamAuth, [undefined, "Bearer not-the-token", `Bearer ${token}`, `Bearer ${token}`]);
  assert.ok(urls.length > 0 && urls.every((url) => !url.includes(token) && !url.includes("not-the-token")), `a URL held a token: ${urls.join(" ")}`);
});
