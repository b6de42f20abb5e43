// `kaffix status` as a user runs it: a separate process reading a live 3-node cluster's admin endpoint.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createApp } from "../examples/double-number/app.js";
import type { App } from "../src/index.js";
import { startTestCluster, type TestCluster } from "../src/testing/index.js";
import { freePorts } from "./support/free-ports.js";
import { run } from "./support/processes.js";

const KAFFIX = "src/cli/kaffix.ts";
const TOKEN = randomBytes(32).toString("base64url");
const REGIONS = ["eu-west", "us-east", "ap-south"];

let cluster: TestCluster;
/** Node 0's endpoint is on loopback (no token needed); node 1's is bound to every address, so it needs the token. */
let open: string;
let locked: string;

before(async () => {
  cluster = await startTestCluster({
    app: createApp,
    nodes: 3,
    start: (i) => ({
      token: TOKEN,
      region: REGIONS[i],
      ...(i === 0 ? { http: 0 } : i === 1 ? { http: { port: 0, host: "0.0.0.0" } } : {}),
    }),
  });
  open = cluster.nodes[0]!.httpUrl!;
  locked = cluster.nodes[1]!.httpUrl!;
  await cluster.app.publish("DoubleNumberService", { number: 1 });
});

after(() => cluster.stop());

const ids = (): string[] => cluster.nodes.map((node: App) => node.nodeId);

describe("kaffix status against a running cluster", () => {
  test("prints every member with its region and state, and exits 0", async () => {
    const cli = run([KAFFIX, "status", open]);
    assert.equal(await cli.exited(), 0, cli.stderr());
    const out = cli.stdout();
    for (const id of ids()) assert.match(out, new RegExp(`^  ${id}( \\*)? .* alive `, "m"), `member ${id} is listed as alive`);
    for (const region of REGIONS) assert.match(out, new RegExp(region));
    assert.match(out, /DoubleNumberService/);
    assert.match(out, /SaveNumberService/);
  });

  test("--json prints the snapshot, whose cluster lists the three members", async () => {
    const cli = run([KAFFIX, "status", open, "--json"]);
    assert.equal(await cli.exited(), 0, cli.stderr());
    const snapshot = JSON.parse(cli.stdout()) as { url: string; cluster: { members: { id: string }[] }; placement: { enabled: boolean } };
    assert.equal(snapshot.url, open);
    assert.deepEqual(snapshot.cluster.members.map((m) => m.id).sort(), ids().sort());
    assert.equal(snapshot.placement.enabled, true);
  });

  test("an endpoint off loopback answers 401 without the token, and the command says a token is needed", async () => {
    const cli = run([KAFFIX, "status", locked]);
    assert.equal(await cli.exited(), 1);
    assert.match(cli.stderr(), /401 Unauthorized: it needs the cluster token: pass --token, --token-file or set KAFFIX_TOKEN/);
  });

  test("with KAFFIX_TOKEN it reads that endpoint, and never prints the token", async () => {
    const cli = run([KAFFIX, "status", locked], { KAFFIX_TOKEN: TOKEN });
    assert.equal(await cli.exited(), 0, cli.stderr());
    for (const id of ids()) assert.match(cli.stdout(), new RegExp(id));
    assert.ok(!(cli.stdout() + cli.stderr()).includes(TOKEN), "the token appears nowhere in the output");
  });

  test("--watch refreshes until Ctrl-C and then exits 0", async () => {
    const cli = run([KAFFIX, "status", open, "--watch", "--interval-ms", "200"]);
    await cli.line(/refreshing every 0\.2 s; Ctrl-C to stop/);
    cli.child.kill("SIGINT");
    assert.equal(await cli.exited(), 0, cli.stderr());
    for (const id of ids()) assert.match(cli.stdout(), new RegExp(id));
  });

  test("a URL where nothing listens exits 1 and says it cannot reach it", async () => {
    const [port] = await freePorts(1);
    const cli = run([KAFFIX, "status", `http://127.0.0.1:${port}`]);
    assert.equal(await cli.exited(), 1);
    assert.match(cli.stderr(), new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${port}: connection refused`));
  });
});
