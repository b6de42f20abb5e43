// `kaffix status` as a command: exit codes, --json, and a --watch that redraws until Ctrl-C and then ends cleanly.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runStatus, type StatusIo } from "./status-command.js";

const CLUSTER = {
  self: { id: "n1", app: "Shop", version: "1.0.0", region: "eu-west", services: { available: ["gateway"], active: [], retiring: [] } },
  members: [{ id: "n1", address: "127.0.0.1:1", state: "alive", region: "eu-west", services: ["gateway"], running: { gateway: { queued: 0, arrivalPerSec: 5, serviceTimeMs: 1 } } }],
  peers: [],
};
const PLACEMENT = { enabled: false, node: "n1" };

interface FakeIo extends StatusIo {
  out: string;
  err: string;
  /** Simulates Ctrl-C. */
  interrupt(): void;
  listening: number;
  requests: { url: string; authorization: string | undefined }[];
}

/** An io whose fetch answers like a Kaffix node, or fails the `failing` first calls of /cluster with a refused connection. */
function fakeIo(options: { isTTY?: boolean; failing?: number; onCluster?: (call: number) => void } = {}): FakeIo {
  const handlers = new Set<() => void>();
  let clusterCalls = 0;
  const io: FakeIo = {
    out: "",
    err: "",
    listening: 0,
    requests: [],
    isTTY: options.isTTY ?? false,
    columns: 120,
    stdout: (text) => void (io.out += text),
    stderr: (text) => void (io.err += text),
    now: () => new Date("2026-03-01T12:00:00Z"),
    onInterrupt(handler) {
      handlers.add(handler);
      io.listening++;
      return () => {
        handlers.delete(handler);
        io.listening--;
      };
    },
    interrupt: () => handlers.forEach((handler) => handler()),
    fetch: (async (input: URL, init?: RequestInit) => {
      const url = String(input);
      io.requests.push({ url, authorization: (init?.headers as Record<string, string>).authorization });
      if (url.endsWith("/cluster")) {
        const call = clusterCalls++;
        options.onCluster?.(call);
        if (call < (options.failing ?? 0)) throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
        return Response.json(CLUSTER);
      }
      return Response.json(PLACEMENT);
    }) as typeof fetch,
  };
  return io;
}

describe("kaffix status", () => {
  test("prints the table once and exits 0", async () => {
    const io = fakeIo();
    assert.equal(await runStatus(["http://127.0.0.1:8080"], {}, io), 0);
    assert.match(io.out, /^Shop 1\.0\.0 · 1 member: 1 alive/);
    assert.match(io.out, /n1 \*/);
    assert.deepEqual(io.requests.map((r) => r.url).sort(), ["http://127.0.0.1:8080/cluster", "http://127.0.0.1:8080/placement"]);
  });

  test("--json prints the snapshot as JSON, with the URL and the time it was read", async () => {
    const io = fakeIo();
    assert.equal(await runStatus(["127.0.0.1:8080", "--json"], {}, io), 0);
    assert.deepEqual(JSON.parse(io.out), { url: "http://127.0.0.1:8080", fetchedAt: "2026-03-01T12:00:00.000Z", cluster: CLUSTER, placement: PLACEMENT });
  });

  test("the token from KAFFIX_TOKEN goes in the Authorization header and nowhere in the output", async () => {
    const io = fakeIo();
    assert.equal(await runStatus(["127.0.0.1:8080"], { KAFFIX_TOKEN: "tok-123" }, io), 0);
    assert.ok(io.requests.every((r) => r.authorization === "Bearer tok-123"));
    assert.doesNotMatch(io.out + io.err, /tok-123/);
  });

  test("an endpoint that cannot be read exits 1 with the reason on stderr; a usage error exits 2", async () => {
    const io = fakeIo({ failing: 1 });
    assert.equal(await runStatus(["127.0.0.1:8080"], {}, io), 1);
    assert.match(io.err, /^error: cannot reach http:\/\/127\.0\.0\.1:8080: connection refused/);
    assert.equal(io.out, "");
    const usage = fakeIo();
    assert.equal(await runStatus([], {}, usage), 2);
    assert.match(usage.err, /URL is missing[\s\S]*kaffix status --help/);
  });

  test("--watch redraws until Ctrl-C, then stops listening for signals and exits 0", async () => {
    let io: FakeIo;
    io = fakeIo({ onCluster: (call) => void (call === 2 && setImmediate(() => io.interrupt())) });
    assert.equal(await runStatus(["127.0.0.1:8080", "--watch", "--interval-ms", "100"], {}, io), 0);
    assert.equal(io.out.match(/^Shop 1\.0\.0/gm)?.length, 3, "one frame per refresh until the interrupt");
    assert.match(io.out, /refreshing every 0\.1 s; Ctrl-C to stop/);
    assert.equal(io.listening, 0);
  });

  test("--watch in a terminal redraws in place and shows the cursor again when it ends", async () => {
    let io: FakeIo;
    io = fakeIo({ isTTY: true, onCluster: (call) => void (call === 1 && setImmediate(() => io.interrupt())) });
    assert.equal(await runStatus(["127.0.0.1:8080", "-w", "--interval-ms", "100"], { NO_COLOR: "1" }, io), 0);
    assert.ok(io.out.startsWith("\x1b[?25l"), "hides the cursor while redrawing");
    assert.ok(io.out.endsWith("\x1b[?25h"), "shows it again at the end");
    assert.equal(io.out.split("\x1b[H").length - 1, 3, "homes the cursor for the first clear and each frame");
  });

  test("--watch keeps going when a refresh fails, and shows the error in place of the table", async () => {
    let io: FakeIo;
    io = fakeIo({ failing: 1, onCluster: (call) => void (call === 1 && setImmediate(() => io.interrupt())) });
    assert.equal(await runStatus(["127.0.0.1:8080", "--watch", "--interval-ms", "100"], {}, io), 0);
    const frames = io.out.split("Ctrl-C to stop");
    assert.match(frames[0]!, /error: cannot reach http:\/\/127\.0\.0\.1:8080: connection refused/);
    assert.match(frames[1]!, /^\n*Shop 1\.0\.0/);
  });
});
