// The App a user builds: it wires the registry, the node runtime, metrics, the cluster port and the admin endpoint.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { startAdminServer, type AdminServer } from "./admin/admin-server.js";
import { runApp } from "./cli/run-app.js";
import { systemClock } from "./clock.js";
import type { PublishOptions, RequestOptions } from "./core/context.js";
import type { DeadLetter } from "./core/dead-letters.js";
import { createLogger } from "./core/logger.js";
import { NodeMetrics } from "./core/node-metrics.js";
import { NodeRuntime } from "./core/node-runtime.js";
import { ServiceRegistry } from "./core/service-registry.js";
import type { MessageOf, ReplyOf, ServiceClass, ServiceOptions } from "./core/service.js";
import { estimateTokenBits, resolveStartOptions, type ResolvedStartOptions, type StartOptions } from "./core/start-options.js";
import { KaffixError } from "./errors.js";
import { ClusterNode, type MemberView, type PeerLink } from "./cluster/cluster-node.js";
import { Messaging, type MessagingStats } from "./messaging/messaging.js";
import { createPlacement } from "./app-placement.js";
import type { PlacementLoop, PlacementView } from "./placement/placement-loop.js";

export interface AppOptions {
  /** Shown in logs and in the `Running <name> on port <port>` line; nodes of one cluster share it. */
  name: string;
  /** The application's version, shown on /cluster. Default "0.0.0". */
  version?: string;
}

export type AppState = "idle" | "starting" | "running" | "stopping" | "stopped";

export interface ServiceStatus {
  id: string;
  queued: number;
  inFlight: number;
  received: number;
  processed: number;
  failed: number;
}

export interface NodeStatus {
  id: string;
  app: string;
  version: string;
  state: AppState;
  /** Where peers reach the cluster port. */
  /** host:port where peers reach this node's cluster port (its advertised address). */
  address: string;
  region: string;
  startedAt: string | undefined;
  /** Cross-node delivery counters: what this node sent, holds for peers, rerouted and deduplicated. */
  delivery: MessagingStats;
  services: {
    /** Compiled in and allowed on this node by --services. */
    available: string[];
    /** Running here now. */
    active: ServiceStatus[];
    /** Being moved away by placement: taking no new messages, finishing what they hold. */
    retiring: string[];
  };
}

export interface ClusterView {
  /** The node that answered. */
  self: NodeStatus;
  /** Every member this node knows of, itself included, as membership gossip reports them. */
  members: MemberView[];
  /** Nodes this one holds an authenticated link to. */
  peers: PeerLink[];
}

export interface StopOptions {
  /** How long queued and in-flight work may take to finish. Default 10 000. */
  timeoutMs?: number;
}

const EMPTY_DELIVERY_STATS: MessagingStats = Object.freeze({
  sent: 0, resent: 0, rerouted: 0, received: 0, duplicates: 0, refused: 0, outbox: 0, parked: 0, heldCopies: 0, malformed: 0,
});

export class App {
  // Fixed at construction.
  readonly name: string;
  readonly version: string;
  readonly #registry = new ServiceRegistry();
  // Set by start(), cleared by stop().
  #state: AppState = "idle";
  #config: ResolvedStartOptions | undefined;
  #nodeId = "";
  #logger: Logger | undefined;
  #runtime: NodeRuntime | undefined;
  #metrics: NodeMetrics | undefined;
  #links: ClusterNode | undefined;
  #messaging: Messaging | undefined;
  #placement: PlacementLoop | undefined;
  #admin: AdminServer | undefined;
  #startedAt: string | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: AppOptions) {
    if (options === null || typeof options !== "object" || typeof options.name !== "string" || options.name.trim() === "") {
      throw new KaffixError("INVALID_ARGUMENT", 'new App(options) needs a non-empty name, e.g. new App({ name: "My App" })');
    }
    this.name = options.name;
    this.version = options.version ?? "0.0.0";
  }

  /** Adds a service to the program. Every node carries it; `--services` and placement decide where it runs. */
  addService<C extends ServiceClass>(service: C, options?: ServiceOptions<MessageOf<C>>): this {
    if (this.#state !== "idle") throw new KaffixError("ALREADY_STARTED", "addService must be called before start()");
    this.#registry.add(service, options as ServiceOptions);
    return this;
  }

  /** Ids of every service added, in the order they were added. */
  get serviceIds(): string[] {
    return this.#registry.ids;
  }

  get state(): AppState {
    return this.#state;
  }

  /** This node's id; empty before start. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** The cluster port actually bound (useful with port 0); 0 before start. */
  get port(): number {
    return this.#links?.port ?? 0;
  }

  /** The admin endpoint's base URL, when it is on. */
  get httpUrl(): string | undefined {
    return this.#admin?.url;
  }

  get logger(): Logger {
    return this.#require().logger;
  }

  /** Starts the node: binds the cluster port, starts the services it may run, then the admin endpoint. */
  start(options: StartOptions = {}): Promise<void> {
    if (this.#state !== "idle") {
      return Promise.reject(new KaffixError("ALREADY_STARTED", `start() called on an app that is ${this.#state}`));
    }
    this.#starting = this.#start(options);
    return this.#starting;
  }

  async #start(options: StartOptions): Promise<void> {
    const config = resolveStartOptions(options, this.#registry.ids, () => randomBytes(32).toString("base64url"));
    this.#state = "starting";
    this.#config = config;
    this.#nodeId = randomBytes(5).toString("hex");
    const bindings = { app: this.name, node: this.#nodeId };
    const logger = options.logger?.child(bindings) ?? createLogger(config.logLevel, bindings);
    this.#logger = logger;
    try {
      if (config.tokenGenerated) logger.debug("no token given: using a random one, so this node cannot join a cluster");
      for (const token of config.tokens) {
        if (!config.tokenGenerated && estimateTokenBits(token) < 128) {
          logger.warn("the token looks shorter than 128 bits of entropy; `kaffix token` prints a strong one");
          break;
        }
      }
      const metrics = new NodeMetrics(() => this.#runtime?.mailboxes.values() ?? [], { app: this.name, node: this.#nodeId }, () => {
        const stats = this.#messaging?.stats;
        return stats === undefined ? undefined : { ...stats };
      });
      this.#metrics = metrics;
      const runtime = new NodeRuntime({
        nodeId: this.#nodeId,
        registry: this.#registry,
        clock: options.clock ?? systemClock,
        logger,
        deadLetterLimit: config.deadLetterLimit,
        random: options.random ?? Math.random,
        observeDuration: (service, seconds) => metrics.observeDuration(service, seconds),
      });
      this.#runtime = runtime;
      runtime.tracing.start();
      this.#links = await ClusterNode.start({
        app: this.name,
        nodeId: this.#nodeId,
        incarnation: Date.now(),
        services: this.#registry.catalog(),
        runnable: config.services ?? this.#registry.ids,
        region: config.region,
        weight: config.weight,
        labels: config.labels,
        load: () => runtime.mailboxes.values(),
        usage: () => runtime.usage.take(),
        // Load is measured at least as often as placement plans from it.
        stateRefreshMs: Math.min(5000, config.placement?.intervalMs ?? 5000),
        placement: () => this.#placement?.report() ?? { changed: {}, leaving: [] },
        tokens: config.tokens,
        host: config.host,
        port: config.port,
        advertise: config.advertise,
        peers: config.peers,
        maxFrameBytes: config.maxFrameBytes,
        membership: config.membership,
        logger,
        clock: options.clock ?? systemClock,
        random: options.random ?? Math.random,
      });
      const messaging = new Messaging({
        runtime,
        transport: this.#links.transport,
        membership: this.#links.membership,
        contracts: this.#registry.catalog(),
        weight: config.weight,
        maxFrameBytes: config.maxFrameBytes,
        clock: options.clock ?? systemClock,
        random: options.random ?? Math.random,
        logger: logger.child({ layer: "messaging" }),
      });
      this.#messaging = messaging;
      runtime.attach(messaging);
      const runnable = config.services ?? this.#registry.ids;
      // Every service this node may run starts here; placement then trims and moves replicas.
      await runtime.activateAll(runnable);
      this.#links.announce();
      if (config.placement !== undefined) {
        const clock = options.clock ?? systemClock;
        const log = logger.child({ layer: "placement" });
        this.#placement = createPlacement({ runtime, links: this.#links, registry: this.#registry, runnable, options: config.placement, clock, logger: log });
        this.#placement.start();
        const placement = this.#placement;
        metrics.addPlacement(() => placement.sample());
      }
      // Running before the admin endpoint opens, so its first /health already says "ok".
      this.#state = "running";
      this.#startedAt = new Date().toISOString();
      if (config.http !== undefined) this.#admin = await startAdminServer(this, config.http, logger);
      logger.info({ port: this.port, http: this.httpUrl, services: [...runtime.mailboxes.keys()] }, "node started");
    } catch (error) {
      // Undo what started: services whose onStart ran get their onStop, ports are released.
      const runtime = this.#runtime;
      if (runtime !== undefined) await runtime.deactivateAll(runtime.clock.now());
      await this.#release();
      this.#state = "stopped";
      throw error;
    }
  }

  /**
   * Reads the command line (`--token`, `--port`, `--http`, … ; see `--help`), starts the node, prints
   * `Running <name> on port <port>`, and stops cleanly on SIGINT/SIGTERM. Bad arguments exit with code 2.
   */
  run(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<void> {
    return runApp(this, argv, env);
  }

  /** Stops accepting new messages, lets queued and in-flight work finish (up to the deadline), calls onStop hooks. */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopping !== undefined) return this.#stopping;
    if (this.#state === "idle" || this.#state === "stopped") {
      this.#state = "stopped";
      return Promise.resolve();
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
      return Promise.reject(new KaffixError("INVALID_ARGUMENT", `stop timeoutMs must be a number ≥ 0, got ${String(timeoutMs)}`));
    }
    this.#stopping = this.#stop(timeoutMs);
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<void> {
    if (this.#state === "starting") {
      // A stop during start waits for the start to finish (or fail) and then undoes it.
      await this.#starting?.catch(() => {});
      if (this.state !== "running") return; // the getter: TypeScript would keep the narrowing from before the await
    }
    this.#state = "stopping";
    this.#placement?.stop();
    const runtime = this.#runtime!;
    this.#logger?.info("stopping: draining queued and in-flight messages");
    // The admin endpoint stays up while draining: /health answers "stopping" and publishes get STOPPING.
    // Peers' new messages are refused (they reroute them); what this node sent elsewhere must finish
    // before it leaves, so that no message is left with a single holder.
    const deadline = runtime.clock.now() + timeoutMs;
    this.#messaging?.refuseNew();
    this.#links?.announceStopping();
    await runtime.deactivateAll(deadline);
    if (this.#messaging !== undefined && !(await this.#messaging.drained(deadline))) {
      this.#logger?.warn(this.#messaging.stats, "stop deadline passed with messages still held for peers; they leave with this node");
    }
    await this.#release();
    this.#state = "stopped";
    this.#logger?.info("node stopped");
  }

  async #release(): Promise<void> {
    this.#placement?.stop();
    this.#runtime?.tracing.stop();
    this.#messaging?.stop();
    this.#messaging = undefined;
    await this.#admin?.close();
    this.#admin = undefined;
    await this.#links?.close();
    this.#links = undefined;
  }

  /** Sends a message from outside any handler. Resolves once it is accepted; the schema, if any, applies. */
  publish<C extends ServiceClass>(service: C, message: MessageOf<C>, options?: PublishOptions): Promise<void>;
  /** Sends to a service by id, for callers that only have data (HTTP, scripts); the schema, if any, applies. */
  publish(serviceId: string, message: unknown, options?: PublishOptions): Promise<void>;
  publish(service: ServiceClass | string, message: unknown, options?: PublishOptions): Promise<void> {
    const runtime = this.#accepting();
    if (runtime instanceof KaffixError) return Promise.reject(runtime);
    return runtime.publish(service, message, options);
  }

  /** Sends a message from outside any handler and resolves with the handler's return value. */
  request<C extends ServiceClass>(service: C, message: MessageOf<C>, options?: RequestOptions): Promise<ReplyOf<C>>;
  request(serviceId: string, message: unknown, options?: RequestOptions): Promise<unknown>;
  request(service: ServiceClass | string, message: unknown, options?: RequestOptions): Promise<unknown> {
    const runtime = this.#accepting();
    if (runtime instanceof KaffixError) return Promise.reject(runtime);
    return runtime.request(service, message, options);
  }

  /** Resolves once no service on this node has queued or in-flight work. */
  whenIdle(): Promise<void> {
    return this.#require().whenIdle();
  }

  /** Messages that failed for good on this node, oldest first (bounded by `deadLetterLimit`). */
  deadLetters(): DeadLetter[] {
    return this.#runtime?.deadLetters.list() ?? [];
  }

  /** This node and the members it knows. */
  cluster(): ClusterView {
    const self = this.#status();
    return { self, members: this.#links?.members() ?? [], peers: this.#links?.peers() ?? [] };
  }

  /** What placement decided and why, as this node sees it (GET /placement); `enabled: false` when it is off. */
  placement(): PlacementView | { enabled: false; node: string } {
    return this.#placement?.view() ?? { enabled: false, node: this.#nodeId };
  }

  /** Prometheus text exposition of this node's metrics. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    const metrics = this.#metrics;
    if (metrics === undefined) throw new KaffixError("NOT_RUNNING", "the app has not been started");
    return { contentType: metrics.contentType, body: await metrics.text() };
  }

  /** True when `candidate` is one of the node's tokens; compares digests in constant time, so not even the length leaks. */
  acceptsToken(candidate: string): boolean {
    const given = createHash("sha256").update(candidate).digest();
    let match = false;
    for (const token of this.#config?.tokens ?? []) {
      if (timingSafeEqual(createHash("sha256").update(token).digest(), given)) match = true;
    }
    return match;
  }

  #status(): NodeStatus {
    const config = this.#config;
    const active: ServiceStatus[] = [];
    for (const m of this.#runtime?.mailboxes.values() ?? []) {
      active.push({ id: m.id, queued: m.queued, inFlight: m.inFlight, received: m.received, processed: m.processed, failed: m.failed });
    }
    return {
      id: this.#nodeId,
      app: this.name,
      version: this.version,
      state: this.#state,
      address: this.#links?.address ?? "",
      region: config?.region ?? "default",
      startedAt: this.#startedAt,
      delivery: this.#messaging?.stats ?? EMPTY_DELIVERY_STATS,
      services: { available: config?.services ?? this.#registry.ids, active, retiring: this.#runtime?.retiring ?? [] },
    };
  }

  #require(): NodeRuntime {
    if (this.#runtime === undefined) throw new KaffixError("NOT_RUNNING", "the app has not been started; call start() or run() first");
    return this.#runtime;
  }

  #accepting(): NodeRuntime | KaffixError {
    if (this.#state === "running") return this.#runtime!;
    if (this.#state === "stopping") return new KaffixError("STOPPING", "the node is stopping and accepts no new messages");
    return new KaffixError("NOT_RUNNING", `the app is ${this.#state}; call start() or run() first`);
  }
}
