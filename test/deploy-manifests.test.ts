// The deployment files agree with the code: the Kubernetes manifests, the Dockerfile and the systemd unit use only
// flags, variables, routes and ports that exist, and the scripts inside them do what the guides say.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { matchRoute } from "../src/admin/routes.js";
import { DEFAULT_PORT } from "../src/index.js";
import { checkArgv, checkEnvNames, CLI_FLAGS, execForm, httpOf, only, readDockerfile, readEnvFile, readManifests, readUnit, ROOT, SAMPLE_TOKEN } from "./support/deploy-files.js";
import { opensslMissing, startFakeKubeApi } from "./support/fake-kube-api.js";
import { kubeTypeErrors, kubeTypesInstalled } from "./support/kube-types.js";
import { run } from "./support/processes.js";

const manifests = readManifests("deploy/kubernetes");
const sts = only(manifests, "StatefulSet");
const podSpec = sts.spec.template.spec;
const app = podSpec.containers.find((c: any) => c.name === "app");
const init = podSpec.initContainers.find((c: any) => c.name === "topology");
const POD_IP = "10.1.2.3";
/** What the init container would write on a node in eu-west-1a with 4 cores, for a pod requesting 1 CPU. */
const SAMPLE_TOPOLOGY = "export KAFFIX_REGION=eu-west-1a\nexport POD_CPU_WEIGHT=0.2500\n";
/** Graceful stop takes up to app.stop()'s default deadline (src/app.ts), then onStop hooks (≥ 1 s) and the leave. */
const STOP_DEADLINE_S = 10;

/** Sample values for a container's env list, as the kubelet would fill them in. */
function containerEnv(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if (typeof entry.value === "string") env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef !== undefined) env[entry.name] = SAMPLE_TOKEN;
    else if (entry.valueFrom?.fieldRef?.fieldPath === "status.podIP") env[entry.name] = POD_IP;
    else env[entry.name] = "sample";
  }
  return env;
}

/** Kubernetes' $(VAR) expansion of command and args, from the container's own env. */
function expand(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** The path of the file the init container writes and the app container's shell reads. */
function topologyFile(): string {
  const path = /const output = "([^"]+)"/.exec(init.command.at(-1))?.[1];
  assert.ok(path !== undefined, "the init script names no output file");
  return path;
}

/** Runs the app container's command through /bin/sh, with node swapped for printf, to get the argv node would get. */
async function appArgv(topology: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "kaffix-topology-"));
  try {
    writeFileSync(join(dir, "topology.env"), topology);
    const env = containerEnv(app);
    const [shell, dashC, script, name] = app.command as string[];
    assert.equal(shell, "/bin/sh");
    assert.equal(dashC, "-c");
    assert.ok(script!.includes(topologyFile()) && script!.includes("exec node "), `the command neither reads ${topologyFile()} nor execs node`);
    const local = script!.replace(topologyFile(), join(dir, "topology.env")).replace("exec node ", "exec printf '%s\\n' node ");
    const args = (app.args as string[]).map((arg) => expand(arg, env));
    const out = await output("/bin/sh", ["-c", local, name!, ...args], {});
    return out.stdout.split("\n").slice(0, -1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseTopology(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^export ([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** The cluster port a command line ends up with. */
const clusterPort = (port: number | undefined) => port ?? DEFAULT_PORT;

function probeScript(probe: any): string {
  const command = probe?.exec?.command as string[] | undefined;
  assert.ok(command !== undefined && command[0] === "node" && command[1] === "-e", "a probe is not `node -e <script>`");
  return command[2]!;
}

function output(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Exit code of the probe script pointed at `baseUrl` instead of the pod's admin endpoint. */
async function runProbe(script: string, baseUrl: string, token: string | undefined): Promise<number | null> {
  const adminUrl = /'(http:\/\/127\.0\.0\.1:\d+)\/health'/.exec(script)?.[1];
  assert.ok(adminUrl !== undefined, "the probe does not fetch http://127.0.0.1:<port>/health");
  return (await output(process.execPath, ["-e", script.replace(adminUrl, baseUrl)], token === undefined ? {} : { KAFFIX_TOKEN: token })).code;
}

function cpuMillicores(quantity: string): number {
  return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
}

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  test("every manifest is strict YAML that Kubernetes reads the same way, with an apiVersion, a kind and a name", () => {
    const kinds = manifests.map((m) => m.kind).sort();
    assert.deepEqual(kinds, ["ClusterRole", "ClusterRoleBinding", "NetworkPolicy", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "StatefulSet"]);
  });

  test("every manifest matches the Kubernetes API types: no unknown field, no value of the wrong type", (t) => {
    if (!kubeTypesInstalled()) return t.skip("the kubernetes-types devDependency is not installed");
    assert.deepEqual(kubeTypeErrors(manifests), []);
  });

  test("the app container's command line, as its shell runs it, is one the CLI accepts, with a peer for every pod", async () => {
    const argv = await appArgv(SAMPLE_TOPOLOGY);
    assert.equal(argv[0], "node");
    assert.ok(existsSync(join(ROOT, argv[1]!.replace(/\.js$/, ".ts"))), `${argv[1]} is compiled from no source file`);
    const env = { ...containerEnv(app), ...parseTopology(SAMPLE_TOPOLOGY) };
    const options = checkArgv(argv.slice(2), Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("KAFFIX_"))), "the app container");
    const port = clusterPort(options.port);
    const pods = Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}:${port}`);
    assert.deepEqual(options.peers, pods);
    assert.equal(options.advertise, `${POD_IP}:${port}`);
    assert.equal(options.weight, 0.25);
    assert.equal(options.region, "eu-west-1a");
    assert.equal(httpOf(options)?.host, "0.0.0.0", "probes and Prometheus reach the admin endpoint from outside loopback");
  });

  test("every KAFFIX_* variable the manifests set or the init container writes is one the CLI reads", () => {
    checkEnvNames(Object.keys(containerEnv(app)), "the app container's env");
    checkEnvNames([...init.command.at(-1).matchAll(/export (\w+)=/g)].map((m: RegExpMatchArray) => m[1]!), "the init container's output");
    assert.ok(/export KAFFIX_REGION=/.test(init.command.at(-1)), "the init container does not set KAFFIX_REGION");
  });

  test("one cluster port and one admin port throughout: flags, container ports, Services, policy, probes and scrape annotations", async () => {
    const options = checkArgv((await appArgv(SAMPLE_TOPOLOGY)).slice(2), { KAFFIX_TOKEN: SAMPLE_TOKEN }, "the app container");
    const cluster = clusterPort(options.port);
    const admin = httpOf(options)!.port;
    assert.equal(cluster, DEFAULT_PORT);
    const ports = Object.fromEntries(app.ports.map((p: any) => [p.name, p.containerPort]));
    assert.deepEqual(ports, { cluster, admin });
    const headless = only(manifests, "Service", sts.spec.serviceName);
    assert.deepEqual(headless.spec.ports.map((p: any) => [p.port, p.targetPort]), [[cluster, "cluster"]]);
    const adminService = manifests.find((m) => m.kind === "Service" && m.name !== sts.spec.serviceName)!.doc;
    assert.deepEqual(adminService.spec.ports.map((p: any) => p.targetPort), ["admin"]);
    const policyPorts = only(manifests, "NetworkPolicy").spec.ingress.flatMap((rule: any) => rule.ports.map((p: any) => p.port)).sort((a: number, b: number) => a - b);
    assert.deepEqual(policyPorts, [admin, cluster].sort((a, b) => a - b));
    const annotations = sts.spec.template.metadata.annotations;
    assert.equal(annotations["prometheus.io/port"], String(admin));
    assert.ok(matchRoute(annotations["prometheus.io/path"])?.route.methods.includes("GET"), "the scrape path is no admin route");
    for (const probe of [app.startupProbe, app.readinessProbe, app.livenessProbe]) {
      assert.match(probeScript(probe), new RegExp(`'http://127\\.0\\.0\\.1:${admin}/`));
    }
  });

  test("each probe fetches /health, an admin route answering GET, with the first token, as the image's HEALTHCHECK does", () => {
    const healthcheck = readDockerfile().find((i) => i.keyword === "HEALTHCHECK")!;
    const imageScript = execForm(healthcheck.args, "HEALTHCHECK")[2];
    for (const probe of [app.startupProbe, app.readinessProbe, app.livenessProbe]) {
      const script = probeScript(probe);
      const path = /'http:\/\/127\.0\.0\.1:\d+(\/[^']*)'/.exec(script)?.[1];
      assert.equal(path, "/health");
      assert.ok(matchRoute(path)?.route.methods.includes("GET"), `${path} is no admin route answering GET`);
      assert.match(script, /process\.env\.KAFFIX_TOKEN/);
      assert.match(script, /'Bearer '/);
      assert.equal(script, imageScript, "the probe and the image's HEALTHCHECK differ");
      assert.ok(probe.timeoutSeconds >= 3, "a probe's timeout is shorter than node's start plus the fetch timeout");
    }
  });

  test("the probe passes against a running node, and fails on a wrong token, a node that is not running or a closed port", async () => {
    const script = probeScript(app.readinessProbe);
    const node = run(["examples/double-number/main.ts", "--token", SAMPLE_TOKEN, "--host", "127.0.0.1", "--port", "0", "--http", "0", "--log-level", "warn"]);
    try {
      const admin = (await node.line(/^Admin endpoint: /)).slice("Admin endpoint: ".length);
      assert.equal(await runProbe(script, admin, `${SAMPLE_TOKEN},old-token`), 0, "the probe failed against a running node");
    } finally {
      node.child.kill("SIGTERM");
      await node.exited();
    }
    // A stand-in for an admin endpoint bound to 0.0.0.0: it wants the token, and can be made to say it stops.
    let status = 200;
    const server = createServer((req, res) => {
      const authorized = req.headers.authorization === `Bearer ${SAMPLE_TOKEN}` && req.url === "/health";
      res.writeHead(authorized ? status : 401, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal(await runProbe(script, url, `${SAMPLE_TOKEN},old-token`), 0);
      assert.equal(await runProbe(script, url, `old-token,${SAMPLE_TOKEN}`), 1, "the probe does not send the first token");
      assert.equal(await runProbe(script, url, undefined), 1);
      status = 503;
      assert.equal(await runProbe(script, url, SAMPLE_TOKEN), 1, "the probe passed on 503 (stopping)");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.equal(await runProbe(script, url, SAMPLE_TOKEN), 1, "the probe passed with nothing listening");
  });

  test("the init container writes the node's zone as KAFFIX_REGION and the weight that makes Kaffix's capacity the CPU request", async (t) => {
    const missing = opensslMissing();
    if (missing !== undefined) return t.skip(missing);
    const cpu = init.env.find((e: any) => e.name === "CPU_REQUEST_MILLICORES").valueFrom.resourceFieldRef;
    assert.deepEqual(cpu, { containerName: app.name, resource: "requests.cpu", divisor: "1m" });
    assert.equal(init.env.find((e: any) => e.name === "NODE_NAME").valueFrom.fieldRef.fieldPath, "spec.nodeName");
    const script: string = init.command.at(-1);
    const account = /const account = "([^"]+)"/.exec(script)![1]!;
    assert.ok(init.volumeMounts.some((m: any) => m.mountPath === account), `nothing is mounted at ${account}`);
    for (const c of [init, app]) assert.ok(c.volumeMounts.some((m: any) => topologyFile().startsWith(`${m.mountPath}/`)), `${c.name} does not mount ${topologyFile()}`);

    const millicores = cpuMillicores(app.resources.requests.cpu);
    const api = await startFakeKubeApi({
      "node-a": { metadata: { name: "node-a", labels: { "topology.kubernetes.io/zone": "eu-west-1b" } } },
      "node-b": { metadata: { name: "node-b", labels: {} } },
      "node-c": 403,
    });
    const dir = mkdtempSync(join(tmpdir(), "kaffix-topology-"));
    try {
      const local = script.replace(`"${account}"`, JSON.stringify(api.serviceAccountDir)).replace(`"${topologyFile()}"`, JSON.stringify(join(dir, "topology.env")));
      const runInit = (nodeName: string) => output(process.execPath, ["-e", local], { ...api.env, NODE_NAME: nodeName, CPU_REQUEST_MILLICORES: String(millicores) });

      const zoned = await runInit("node-a");
      assert.equal(zoned.code, 0, zoned.stderr);
      const written = readFileSync(join(dir, "topology.env"), "utf8");
      const values = parseTopology(written);
      assert.equal(values.KAFFIX_REGION, "eu-west-1b");
      assert.ok(Math.abs(Number(values.POD_CPU_WEIGHT) * cpus().length - millicores / 1000) < 0.01, `weight ${values.POD_CPU_WEIGHT} × ${cpus().length} cores is not the request`);
      const options = checkArgv((await appArgv(written)).slice(2), { KAFFIX_TOKEN: SAMPLE_TOKEN, KAFFIX_REGION: values.KAFFIX_REGION }, "the app container");
      assert.equal(options.weight, Number(values.POD_CPU_WEIGHT));

      assert.equal((await runInit("node-b")).code, 0);
      assert.equal(parseTopology(readFileSync(join(dir, "topology.env"), "utf8")).KAFFIX_REGION, "default");
      rmSync(join(dir, "topology.env"));
      const refused = await runInit("node-c");
      assert.equal(refused.code, 1, "the init container succeeded without reading the node");
      assert.match(refused.stderr, /HTTP 403/);
      assert.equal(existsSync(join(dir, "topology.env")), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await api.close();
    }
  });

  test("a pod has time to leave: the grace period covers the preStop pause, the stop deadline and the leave", () => {
    const [sleep, seconds] = app.lifecycle.preStop.exec.command as string[];
    assert.equal(sleep, "sleep");
    assert.ok(podSpec.terminationGracePeriodSeconds >= Number(seconds) + STOP_DEADLINE_S + 5, `grace ${podSpec.terminationGracePeriodSeconds} s`);
    assert.ok(sts.spec.minReadySeconds > 0, "an update would move on before the new pod has joined");
    assert.equal(sts.spec.podManagementPolicy, "OrderedReady");
  });

  test("the budget, the Services and the policy select the StatefulSet's pods; the token comes from the Secret the guide creates", () => {
    const labels = sts.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(selects(sts.spec.selector.matchLabels));
    assert.ok(selects(only(manifests, "PodDisruptionBudget").spec.selector.matchLabels));
    assert.equal(only(manifests, "PodDisruptionBudget").spec.maxUnavailable, 1);
    for (const service of manifests.filter((m) => m.kind === "Service")) assert.ok(selects(service.doc.spec.selector), service.name);
    const headless = only(manifests, "Service", sts.spec.serviceName);
    assert.equal(headless.spec.clusterIP, "None");
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.ok(selects(only(manifests, "NetworkPolicy").spec.podSelector.matchLabels));
    const secret = app.env.find((e: any) => e.name === "KAFFIX_TOKEN").valueFrom.secretKeyRef;
    const guide = readFileSync(join(ROOT, "docs/deploy/kubernetes.md"), "utf8");
    assert.ok(guide.includes(`kubectl create secret generic ${secret.name} --from-literal=${secret.key}=`), `the guide does not create Secret ${secret.name}`);
    assert.equal(podSpec.serviceAccountName, only(manifests, "ServiceAccount").metadata.name);
    assert.deepEqual(only(manifests, "ClusterRole").rules, [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }]);
    assert.equal(podSpec.automountServiceAccountToken, false, "the app container would get the API token too");
  });

  test("a misspelled flag or variable fails these checks", async () => {
    const argv = (await appArgv(SAMPLE_TOPOLOGY)).slice(2);
    const misspelled = argv.map((arg) => arg.replace("--advertise", "--advertize"));
    assert.throws(() => checkArgv(misspelled, { KAFFIX_TOKEN: SAMPLE_TOKEN }, "test"), /--advertize is not a flag/);
    assert.throws(() => checkArgv(argv, { KAFFIX_TOKEN: SAMPLE_TOKEN, KAFFIX_REGON: "x" }, "test"), /KAFFIX_REGON is not an environment variable/);
    assert.throws(() => checkArgv([...argv, "--weight", "lots"], { KAFFIX_TOKEN: SAMPLE_TOKEN }, "test"), /--weight must be a number/);
    assert.ok(CLI_FLAGS.has("advertise") && CLI_FLAGS.has("token-file") && CLI_FLAGS.size >= 15);
  });
});

describe("Dockerfile", () => {
  const steps = readDockerfile();
  const froms = steps.filter((s) => s.keyword === "FROM");
  const final = froms.length - 1;
  const last = (keyword: string) => steps.filter((s) => s.keyword === keyword && s.stage === final).at(-1);

  test("builds in two stages from one pinned Node LTS base, without ADD or downloads, and runs as a non-root user", () => {
    assert.ok(froms.length >= 2, "not a multi-stage build");
    const args = Object.fromEntries(steps.filter((s) => s.keyword === "ARG" && s.stage === -1).map((s) => s.args.split("=")));
    for (const from of froms) {
      const image = from.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? "");
      const pinned = /^node:(\d+)\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/.exec(image);
      assert.ok(pinned !== null, `${image} is not a pinned node:X.Y.Z-<debian>-slim image`);
      assert.ok(Number(pinned[1]) >= 20 && Number(pinned[1]) % 2 === 0, `${image} is not a Node LTS line`);
    }
    assert.equal(steps.filter((s) => s.keyword === "ADD").length, 0, "ADD fetches URLs and unpacks archives; COPY says what it does");
    assert.equal(steps.filter((s) => s.keyword === "RUN" && /\b(curl|wget)\b/.test(s.args)).length, 0, "a RUN downloads something");
    const user = last("USER");
    assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user.args), "the final stage runs as root");
    assert.ok(/^\d+(:\d+)?$/.test(user.args), "USER is not numeric: Kubernetes' runAsNonRoot cannot verify a name");
    assert.ok(steps.indexOf(user) < steps.indexOf(last("ENTRYPOINT")!), "USER comes after ENTRYPOINT");
  });

  test("its command line is one the CLI accepts, exposes the ports it uses, and its HEALTHCHECK fetches /health", () => {
    const entry = execForm(last("ENTRYPOINT")!.args, "ENTRYPOINT");
    const cmd = execForm(last("CMD")!.args, "CMD");
    assert.equal(entry[0], "node");
    const options = checkArgv([...entry.slice(2), ...cmd], { KAFFIX_TOKEN: SAMPLE_TOKEN }, "the image's ENTRYPOINT + CMD");
    const http = httpOf(options);
    assert.ok(http !== undefined && http.host === "0.0.0.0", "the admin endpoint would be unreachable from outside the container");
    const exposed = last("EXPOSE")!.args.split(/\s+/).map((p) => Number(p.split("/")[0])).sort((a, b) => a - b);
    assert.deepEqual(exposed, [clusterPort(options.port), http.port].sort((a, b) => a - b));
    const check = execForm(last("HEALTHCHECK")!.args, "HEALTHCHECK");
    const url = /'http:\/\/127\.0\.0\.1:(\d+)(\/[^']*)'/.exec(check[2] ?? "");
    assert.ok(url !== null && Number(url[1]) === http.port, "the HEALTHCHECK does not fetch the admin port");
    assert.ok(matchRoute(url[2]!)?.route.methods.includes("GET"));
    checkEnvNames(steps.filter((s) => s.keyword === "ENV").flatMap((s) => [...s.args.matchAll(/(\w+)=/g)].map((m) => m[1]!)), "ENV");
  });

  test("copies only files that exist and that .dockerignore lets through, and compiles the program it runs", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    for (const needed of ["node_modules", ".git", "dist"]) assert.ok(ignored.includes(needed), `.dockerignore does not leave out ${needed}`);
    for (const copy of steps.filter((s) => s.keyword === "COPY" && !s.args.includes("--from"))) {
      for (const source of copy.args.split(/\s+/).filter((a) => !a.startsWith("--")).slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: no such file`);
        assert.ok(!ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `COPY ${source}, which .dockerignore leaves out`);
      }
    }
    const program = execForm(last("ENTRYPOINT")!.args, "ENTRYPOINT")[1]!.replace(/\.js$/, ".ts");
    assert.ok(existsSync(join(ROOT, program)), `the image runs ${program}, which does not exist`);
    assert.ok(steps.some((s) => s.keyword === "RUN" && s.args.includes("tsc") && s.args.includes(program)), `no RUN compiles ${program}`);
    assert.equal(execForm(last("ENTRYPOINT")!.args, "ENTRYPOINT")[1], app.command[2].match(/exec node (\S+)/)[1], "the pod runs another program than the image");
  });
});

describe("systemd unit (deploy/systemd)", () => {
  const unit = readUnit("deploy/systemd/kaffix-app.service");
  const service = unit.get("Service")!;
  const one = (key: string) => service.get(key)?.at(-1);
  const envFile = readEnvFile("deploy/systemd/kaffix-app.env");

  test("ExecStart with the environment file's values is a command line the CLI accepts, with the token read from a file", () => {
    assert.ok(one("EnvironmentFile")!.endsWith("/kaffix-app.env"));
    const argv = one("ExecStart")!.split(/\s+/).map((arg) => arg.replace(/\$\{(\w+)\}/g, (whole, name: string) => envFile[name] ?? whole));
    assert.equal(argv[0], "/usr/bin/node");
    assert.ok(existsSync(join(ROOT, argv[1]!.replace(/\.js$/, ".ts"))), `the unit runs ${argv[1]}, compiled from no source file`);
    const env = Object.fromEntries(Object.entries(envFile).filter(([name]) => name.startsWith("KAFFIX_")));
    const options = checkArgv(argv.slice(2), env, "ExecStart");
    assert.ok(argv.includes("--token-file") && !argv.includes("--token"), "the token must come from a file, never the command line");
    assert.equal(options.host, envFile.PRIVATE_IP);
    assert.ok(options.peers?.includes(`${envFile.PRIVATE_IP}:${clusterPort(options.port)}`), "the peers leave out this server, so the list differs per server");
    checkEnvNames((service.get("Environment") ?? []).map((line) => line.split("=")[0]!), "Environment=");
  });

  test("the unit runs as its own user, stops with SIGTERM in time to drain, and restarts after a failure", () => {
    assert.ok(one("User") !== undefined && one("User") !== "root");
    assert.equal(one("KillSignal") ?? "SIGTERM", "SIGTERM");
    assert.ok(Number(/^(\d+)s?$/.exec(one("TimeoutStopSec") ?? "")?.[1]) >= STOP_DEADLINE_S + 5, "TimeoutStopSec is shorter than a drain");
    assert.equal(one("Restart"), "on-failure");
    assert.equal(one("NoNewPrivileges"), "yes");
    assert.notEqual(one("MemoryDenyWriteExecute"), "yes", "V8's JIT needs writable executable memory");
  });

  test("systemd-analyze verify finds nothing wrong with the unit", async (t) => {
    const verify = await output("systemd-analyze", ["verify", "--man=no", join(ROOT, "deploy/systemd/kaffix-app.service")], {}).catch(() => undefined);
    if (verify === undefined) return t.skip("no systemd-analyze on this machine");
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), "");
  });

  test("the guide's firewall rules open the unit's cluster port and no other", () => {
    const guide = readFileSync(join(ROOT, "docs/deploy/servers.md"), "utf8");
    const port = String(clusterPort(checkArgv(one("ExecStart")!.split(/\s+/).slice(2), { KAFFIX_TOKEN: SAMPLE_TOKEN }, "ExecStart").port));
    const rules = guide.split("\n").filter((line) => /\b(dport|ufw allow|add-rich-rule)\b/.test(line));
    assert.ok(rules.length >= 3, "the guide has no firewall rules");
    for (const rule of rules) assert.ok(rule.includes(port) && !/\b8080\b/.test(rule), `a rule does not open exactly the cluster port: ${rule}`);
  });
});
