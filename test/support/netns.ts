// Private network namespaces for partition tests: one per host, joined by a bridge in a hub namespace, so nothing touches the root namespace.
//
//   root namespace: untouched (no links, no routes, no iptables rules)
//   kfx-<pid>-<rand>-hub    br0 10.213.7.1/24 ── veth-a ── veth-b ── veth-c ...
//   kfx-<pid>-<rand>-a      lo, eth0 10.213.7.2/24 (the other end of veth-a)
//   kfx-<pid>-<rand>-b      lo, eth0 10.213.7.3/24
//
// The subnet exists only inside these namespaces. The bridge lives in the hub, not in the root
// namespace, because a root bridge would pass through the host's own FORWARD chain (Docker sets it to
// DROP). The pid in the names lets a later run remove what a killed run left behind.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { ROOT } from "./processes.js";

const SUBNET = "10.213.7";
const COMMAND_BOUND_MS = 10_000;
const EXIT_BOUND_MS = 5_000;
const OUR_NAMESPACE = /^kfx-(\d+)-[0-9a-f]{6}-[a-z]+$/;

export interface Host {
  /** Short name: the last part of the namespace's name. */
  readonly label: string;
  readonly netns: string;
  readonly ip: string;
}

export interface HostProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
}

/** Why this machine cannot run namespace tests, or undefined when it can. */
export function whyNoNetns(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "creating network namespaces and iptables rules needs root (CI runs as root)";
  const tools = [
    ["ip", ["-V"], "iproute2"],
    ["iptables", ["--version"], "iptables"],
  ] as const;
  for (const [tool, args, pkg] of tools) {
    try {
      sh(tool, args);
    } catch {
      return `\`${tool}\` is not installed (package ${pkg})`;
    }
  }
  return undefined;
}

export class TestNetwork {
  // Fixed after construction.
  readonly hub: Host;
  readonly hosts: readonly Host[];

  // Mutable state.
  readonly #processes = new Set<ChildProcess>();
  #destroyed = false;

  private constructor(hub: Host, hosts: Host[]) {
    this.hub = hub;
    this.hosts = hosts;
  }

  /** Creates the hub and one namespace per label; throws (having removed what it made) if any step fails. */
  static create(labels: readonly string[]): TestNetwork {
    removeLeftovers();
    const prefix = `kfx-${process.pid}-${randomBytes(3).toString("hex")}`;
    const hub: Host = { label: "hub", netns: `${prefix}-hub`, ip: `${SUBNET}.1` };
    const hosts = labels.map((label, i): Host => ({ label, netns: `${prefix}-${label}`, ip: `${SUBNET}.${i + 2}` }));
    const network = new TestNetwork(hub, hosts);
    try {
      sh("ip", ["netns", "add", hub.netns]);
      sh("ip", ["-n", hub.netns, "link", "set", "lo", "up"]);
      sh("ip", ["-n", hub.netns, "link", "add", "br0", "type", "bridge"]);
      sh("ip", ["-n", hub.netns, "addr", "add", `${hub.ip}/24`, "dev", "br0"]);
      sh("ip", ["-n", hub.netns, "link", "set", "br0", "up"]);
      for (const host of hosts) {
        sh("ip", ["netns", "add", host.netns]);
        // Both ends are born in their namespaces: no link ever appears in the root namespace.
        sh("ip", ["link", "add", "eth0", "netns", host.netns, "type", "veth", "peer", "name", `veth-${host.label}`, "netns", hub.netns]);
        sh("ip", ["-n", hub.netns, "link", "set", `veth-${host.label}`, "master", "br0", "up"]);
        sh("ip", ["-n", host.netns, "link", "set", "lo", "up"]);
        sh("ip", ["-n", host.netns, "addr", "add", `${host.ip}/24`, "dev", "eth0"]);
        sh("ip", ["-n", host.netns, "link", "set", "eth0", "up"]);
      }
      // iptables can be installed yet unusable (no nf_tables in the kernel): find out now, not mid-test.
      sh("ip", ["netns", "exec", hosts[0]!.netns, "iptables", "-w", "-S"]);
    } catch (error) {
      network.#deleteNamespaces();
      throw error;
    }
    return network;
  }

  /** Runs `node <args>` inside the host's namespace, from the repository root. */
  spawnNode(host: Host, args: readonly string[], env: NodeJS.ProcessEnv = {}): HostProcess {
    if (this.#destroyed) throw new Error("the test network is destroyed");
    // `ip netns exec` execs the command in place: the child's pid is node's own.
    const child = spawn("ip", ["netns", "exec", host.netns, process.execPath, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#processes.add(child);
    child.on("exit", () => this.#processes.delete(child));
    let output = "";
    child.on("error", (error) => (output += `\n[could not run: ${error.message}]\n`));
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    return { child, output: () => output };
  }

  /** Drops every packet between `host` and each of `others`, both ways, with iptables in host's namespace. */
  cut(host: Host, others: readonly Host[]): void {
    for (const other of others) {
      sh("ip", ["netns", "exec", host.netns, "iptables", "-w", "-I", "INPUT", "-s", other.ip, "-j", "DROP"]);
      sh("ip", ["netns", "exec", host.netns, "iptables", "-w", "-I", "OUTPUT", "-d", other.ip, "-j", "DROP"]);
    }
  }

  /** Removes every rule `cut` added in host's namespace (the namespace is ours: it holds no others). */
  heal(host: Host): void {
    sh("ip", ["netns", "exec", host.netns, "iptables", "-w", "-F", "INPUT"]);
    sh("ip", ["netns", "exec", host.netns, "iptables", "-w", "-F", "OUTPUT"]);
  }

  /** Kills every process in the namespaces, waits for ours to exit, deletes the namespaces (and so the links). Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const exited = [...this.#processes].map(
      (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()))),
    );
    for (const child of this.#processes) child.kill("SIGKILL");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exited), new Promise((resolve) => (timer = setTimeout(resolve, EXIT_BOUND_MS)))]);
    clearTimeout(timer);
    this.#deleteNamespaces();
  }

  #deleteNamespaces(): void {
    for (const netns of [...this.hosts.map((h) => h.netns), this.hub.netns]) deleteNamespace(netns);
  }
}

/** Kills whatever runs in `netns` (children of ours, or orphans of a killed run), then deletes it. */
function deleteNamespace(netns: string): void {
  try {
    for (const pid of sh("ip", ["netns", "pids", netns]).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  } catch {
    return; // No such namespace: never created, or already deleted.
  }
  try {
    sh("ip", ["netns", "del", netns]);
  } catch {
    // Deleted meanwhile.
  }
}

/** Namespaces named by a test process that no longer runs: a run killed before its cleanup. */
function removeLeftovers(): void {
  const names = sh("ip", ["netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter((name) => OUR_NAMESPACE.test(name));
  for (const name of names) {
    const pid = Number(OUR_NAMESPACE.exec(name)![1]);
    if (!isRunning(pid)) deleteNamespace(name);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sh(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", timeout: COMMAND_BOUND_MS, stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`\`${command} ${args.join(" ")}\` failed${stderr ? `: ${stderr}` : ""}`, { cause: error });
  }
}
