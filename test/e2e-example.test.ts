// The double-number example as a user runs it: real processes, real ports, a real file, real signals.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { run } from "./support/processes.js";

const MAIN = "examples/double-number/main.ts";

const dir = mkdtempSync(join(tmpdir(), "kaffix-e2e-"));

after(() => {
  rmSync(dir, { recursive: true, force: true });
});


async function waitForFile(path: string, wanted: string, boundMs: number): Promise<string> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // Not written yet.
    }
    if (text.split("\n").includes(wanted)) return text;
    if (Date.now() > deadline) assert.fail(`${path} did not contain ${wanted} within ${boundMs} ms; it holds ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const strongToken = () => randomBytes(32).toString("base64url");

describe("the double-number example", () => {
  test("doubles a number posted to the admin endpoint, saves it, and exits 0 on SIGTERM", async () => {
    const saveFile = join(dir, "saved-numbers.txt");
    const node = run([MAIN, `--token=${strongToken()}`, "--port", "0", "--http", "0"], { SAVE_NUMBERS_FILE: saveFile });
    const runningLine = await node.line(/^Running Double Number on port \d+$/);
    assert.notEqual(Number(runningLine.split(" ").at(-1)), 0);
    const adminLine = await node.line(/^Admin endpoint: /);
    const adminUrl = adminLine.slice("Admin endpoint: ".length);
    assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);

    const response = await fetch(`${adminUrl}/publish/DoubleNumberService`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ number: 21 }),
      signal: AbortSignal.timeout(5_000),
    });
    assert.ok(response.ok, `POST /publish answered ${response.status}: ${await response.text()}`);
    await waitForFile(saveFile, "42", 10_000);

    node.child.kill("SIGTERM");
    assert.equal(await node.exited(), 0, node.stderr());
  });

  test("drains a message in progress and exits 0 on SIGINT (Ctrl-C)", async () => {
    const saveFile = join(dir, "saved-on-sigint.txt");
    const node = run([MAIN, `--token=${strongToken()}`, "--port", "0", "--http", "0", "--log-level", "info"], { SAVE_NUMBERS_FILE: saveFile });
    const adminUrl = (await node.line(/^Admin endpoint: /)).slice("Admin endpoint: ".length);
    const response = await fetch(`${adminUrl}/publish/DoubleNumberService`, {
      method: "POST",
      body: JSON.stringify({ number: 5 }),
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(response.status, 202);
    node.child.kill("SIGINT");
    assert.equal(await node.exited(), 0, node.stderr());
    assert.ok(readFileSync(saveFile, "utf8").split("\n").includes("10"), "the accepted number was saved before exit");
  });

  test("without a token it exits with code 2 and says a token is required", async () => {
    const node = run([MAIN, "--port", "0"]);
    assert.equal(await node.exited(), 2);
    assert.match(node.stderr(), /token/);
    assert.match(node.stderr(), /kaffix token/);
    assert.doesNotMatch(node.stdout(), /^Running/m);
  });

  test("a port that is not a number exits with code 2 and quotes it", async () => {
    const node = run([MAIN, `--token=${strongToken()}`, "--port", "abc"]);
    assert.equal(await node.exited(), 2);
    assert.match(node.stderr(), /error: --port must be an integer from 0 to 65535, got "abc"/);
    assert.match(node.stderr(), /--help/);
  });

  test("--help prints the usage on stdout and exits 0", async () => {
    const node = run([MAIN, "--help"]);
    assert.equal(await node.exited(), 0);
    assert.match(node.stdout(), /Usage: /);
    assert.match(node.stdout(), /--token/);
    assert.match(node.stdout(), /--peer=host:12345/);
    assert.equal(node.stderr(), "");
  });

  test("a cluster port already in use makes it exit non-zero and name the port", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: 0 }, resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const node = run([MAIN, `--token=${strongToken()}`, "--host", "127.0.0.1", "--port", String(port)], {
        SAVE_NUMBERS_FILE: join(dir, "unused.txt"),
      });
      const code = await node.exited();
      assert.notEqual(code, 0);
      assert.notEqual(code, null);
      assert.match(node.stderr(), new RegExp(`EADDRINUSE|port ${port}`));
      assert.doesNotMatch(node.stdout(), /^Running/m);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe("the kaffix command", () => {
  test("kaffix token prints a strong base64url token", async () => {
    const cli = run(["src/cli/kaffix.ts", "token"]);
    assert.equal(await cli.exited(), 0, cli.stderr());
    const token = cli.stdout().trim();
    assert.match(token, /^[A-Za-z0-9_-]{43,}$/);
    assert.ok(!token.startsWith("-"), "a token starting with - would read as a flag after --token");
    assert.ok(cli.stdout().endsWith("\n"));
  });

  test("an unknown command exits with code 2 and names it", async () => {
    const cli = run(["src/cli/kaffix.ts", "frobnicate"]);
    assert.equal(await cli.exited(), 2);
    assert.match(cli.stderr(), /unknown command "frobnicate"/);
  });
});
