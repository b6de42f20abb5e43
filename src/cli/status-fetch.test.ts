// How `kaffix status` reads an admin endpoint, and what it says when the endpoint is absent, locked, slow or not Kaffix.

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { fetchSnapshot, StatusError, type StatusFailure } from "./status-fetch.js";

const TOKEN = "the-cluster-token";
const CLUSTER = { self: { id: "n1", app: "Shop", version: "1.0.0", services: { available: [], active: [], retiring: [] } }, members: [{ id: "n1", state: "alive" }], peers: [] };
const PLACEMENT = { enabled: true, node: "n1", intervalMs: 5000, running: {}, placement: {}, pending: [], services: {}, history: [] };

const servers: Server[] = [];
after(() =>
  Promise.all(
    servers.map((server) => {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      return closed;
    }),
  ),
);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<URL> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A Kaffix-like endpoint: /cluster and /placement, behind a bearer token when `token` is set. */
const kaffix = (token?: string, routes: Record<string, unknown> = { "/cluster": CLUSTER, "/placement": PLACEMENT }): Handler => (req, res) => {
  if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
    return json(res, 401, { code: "UNAUTHORIZED", message: "this endpoint needs a token", retryable: false });
  }
  const body = routes[req.url ?? ""];
  if (body === undefined) return json(res, 404, { code: "NOT_FOUND", message: `no admin route at ${req.url}`, retryable: false });
  json(res, 200, body);
};

async function failure(url: URL, token: string | undefined, reason: StatusFailure, pattern: RegExp, timeoutMs = 5_000): Promise<void> {
  await assert.rejects(fetchSnapshot(url, { token, timeoutMs }), (error: unknown) => {
    assert.ok(error instanceof StatusError, `expected a StatusError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, new RegExp(TOKEN), "a message never repeats the token");
    return true;
  });
}

describe("fetchSnapshot", () => {
  test("reads /cluster and /placement into one snapshot stamped with the time it was read", async () => {
    const url = await serve(kaffix());
    const snapshot = await fetchSnapshot(url, { token: undefined, timeoutMs: 5_000, now: () => new Date("2026-03-01T12:00:00Z") });
    assert.equal(snapshot.url, url.origin);
    assert.equal(snapshot.fetchedAt, "2026-03-01T12:00:00.000Z");
    assert.deepEqual(snapshot.cluster, CLUSTER);
    assert.deepEqual(snapshot.placement, PLACEMENT);
  });

  test("sends the token as a bearer header, and a 401 says whether a token is missing or wrong", async () => {
    const url = await serve(kaffix(TOKEN));
    assert.equal((await fetchSnapshot(url, { token: TOKEN, timeoutMs: 5_000 })).cluster.self.id, "n1");
    await failure(url, undefined, "unauthorized", /401 Unauthorized: it needs the cluster token: pass --token, --token-file or set KAFFIX_TOKEN/);
    await failure(url, "wrong", "unauthorized", /the token given is not one this node accepts/);
  });

  test("a closed port is reported as unreachable, with a hint about --http", async () => {
    const url = await serve(kaffix());
    await new Promise((resolve) => servers.pop()!.close(resolve));
    await failure(url, undefined, "unreachable", /cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused; is the node running, with its admin endpoint on this port \(--http\)\?/);
  });

  test("a web page, or JSON that is not a cluster view, is not taken for a Kaffix endpoint", async () => {
    const html = await serve((_, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<html></html>"));
    await failure(html, undefined, "not-kaffix", /does not look like a Kaffix admin endpoint: GET \/\w+ answered text\/html, not JSON/);
    const other = await serve((_, res) => json(res, 200, { hello: "world" }));
    await failure(other, undefined, "not-kaffix", /does not look like a Kaffix admin endpoint/);
    const missing = await serve((_, res) => void res.writeHead(404).end("Not Found"));
    await failure(missing, undefined, "not-kaffix", /GET \/\w+ answered 404 Not Found/);
  });

  test("a node without /placement (an older Kaffix) still gives a snapshot, with placement null", async () => {
    const url = await serve(kaffix(undefined, { "/cluster": CLUSTER }));
    assert.equal((await fetchSnapshot(url, { token: undefined, timeoutMs: 5_000 })).placement, null);
  });

  test("a Kaffix error answer is quoted with its code", async () => {
    const url = await serve((_, res) => json(res, 503, { code: "STOPPING", message: "the node is stopping", retryable: true }));
    await failure(url, undefined, "refused", /answered GET \/\w+ with 503 STOPPING: the node is stopping/);
  });

  test("an endpoint that does not answer in time is reported as a timeout", async () => {
    const url = await serve(() => {
      // Never answers; closing the servers after the tests ends the connection.
    });
    await failure(url, undefined, "timeout", /did not answer GET \/\w+ within 200 ms/, 200);
  });

  test("a redirect is not followed, so the token never goes to another host", async () => {
    let followed = false;
    const elsewhere = await serve((_, res) => {
      followed = true;
      json(res, 200, CLUSTER);
    });
    const url = await serve((_, res) => void res.writeHead(302, { location: new URL("/cluster", elsewhere).href }).end());
    await failure(url, TOKEN, "not-kaffix", /answered 302/);
    assert.equal(followed, false);
  });
});
