// A stand-in for the Kubernetes API server on 127.0.0.1 (HTTPS with a throwaway certificate, made by the openssl
// command), serving GET /api/v1/nodes/<name> to a service-account token, for the init container's script.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FakeKubeApi {
  /** A directory laid out like /var/run/secrets/kubernetes.io/serviceaccount: token and ca.crt. */
  readonly serviceAccountDir: string;
  /** What a pod would have in KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT. */
  readonly env: { KUBERNETES_SERVICE_HOST: string; KUBERNETES_SERVICE_PORT: string };
  close(): Promise<void>;
}

const SA_TOKEN = "fake-service-account-token";

/** Undefined when there is no openssl command to make a certificate with. */
export function opensslMissing(): string | undefined {
  const probe = spawnSync("openssl", ["version"], { encoding: "utf8" });
  return probe.status === 0 ? undefined : "no openssl command to make a test certificate";
}

/**
 * Serves `nodes` (name → the Node object, or an HTTP status to answer with instead). Requests without the
 * service-account token get 401, unknown nodes 404.
 */
export async function startFakeKubeApi(nodes: Record<string, object | number>): Promise<FakeKubeApi> {
  const dir = mkdtempSync(join(tmpdir(), "kaffix-kube-api-"));
  const made = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "ca.crt")],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  writeFileSync(join(dir, "token"), `${SA_TOKEN}\n`);
  const server: Server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "ca.crt")) }, (req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${SA_TOKEN}`) return answer(401, { kind: "Status", code: 401 });
    const name = /^\/api\/v1\/nodes\/([^/?]+)$/.exec(req.url ?? "")?.[1];
    const node = name === undefined ? undefined : nodes[decodeURIComponent(name)];
    if (node === undefined) return answer(404, { kind: "Status", code: 404 });
    if (typeof node === "number") return answer(node, { kind: "Status", code: node });
    answer(200, node);
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    serviceAccountDir: dir,
    env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(port) },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
