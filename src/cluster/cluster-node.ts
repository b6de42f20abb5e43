// A node's place in the cluster: the TLS transport on the cluster port, and the membership protocol
// that joins through --peer, detects failures and gossips each node's state.

import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../clock.js";
import { Membership } from "./membership.js";
import type { MembershipOptions } from "./membership-options.js";
import type { Member } from "./member-table.js";
import { readNodeState, type NodeState, type ServiceLoad } from "./node-state.js";
import { StateReporter, type PlacementReport, type ReportedService, type UsageSample } from "./state-reporter.js";
import { mismatchedServices, PROTOCOL_VERSION } from "../transport/hello.js";
import { formatAddress } from "../transport/host-port.js";
import { TlsTransport } from "../transport/tls-transport.js";
import type { Link } from "../transport/transport.js";

export interface ClusterNodeOptions {
  app: string;
  nodeId: string;
  incarnation: number;
  /** Service id → contract fingerprint, for the hello. */
  services: Record<string, string>;
  /** Ids of the services this node may run (gossiped). */
  runnable: readonly string[];
  region: string;
  /** Relative capacity the operator declares (`--weight`), on top of cores and memory. */
  weight: number;
  /** Operator labels (`--label`), gossiped for placement's `near` hints. */
  labels?: readonly string[];
  /** Reads the active services' counters for the gossiped load summary. */
  load: () => Iterable<ReportedService>;
  /** Messages sent and dependency calls per service since the previous call, for placement. */
  usage?: () => ReadonlyMap<string, UsageSample>;
  /** What placement on this node announces (recent changes, services about to stop). */
  placement?: () => PlacementReport;
  /** How often the load summary is refreshed and gossiped. Default 5000. */
  stateRefreshMs?: number;
  /** Membership protocol settings; memberlist's LAN defaults when left out. */
  membership?: Partial<MembershipOptions>;
  tokens: readonly string[];
  host: string;
  port: number;
  /** host:port peers should dial, when it differs from what the bind address suggests. */
  advertise: string | undefined;
  peers: readonly string[];
  /** Largest payload in one frame, both ways. */
  maxFrameBytes: number;
  logger: Logger;
  clock: Clock;
  random: () => number;
}

/** What /cluster shows of one linked peer. */
export interface PeerLink {
  id: string;
  address: string;
  incarnation: number;
  /** True when this node dialed. */
  outbound: boolean;
  /** The peer's services. */
  services: string[];
  /** Services both nodes have whose contracts differ: messages for them never go to this peer. */
  mismatched: string[];
}

/** What /cluster shows of one member, as this node's membership sees it. */
export interface MemberView {
  id: string;
  address: string;
  state: Member["state"];
  incarnation: number;
  /** Round trip estimated from network coordinates; undefined until known. */
  rttMs: number | undefined;
  /** The state the member gossips about itself; undefined until its first news arrived. */
  region: string | undefined;
  /** Services the member may run. */
  services: string[];
  capacity: NodeState["capacity"] | undefined;
  /** Services active on the member, with their load. */
  running: Record<string, ServiceLoad>;
  /** Services placement is about to stop there. */
  leaving: string[];
  /** Operator labels (`--label`). */
  labels: string[];
  eventLoopLagMs: NodeState["eventLoopLagMs"] | undefined;
  /** When this node saw the member's state last change (ISO time). */
  stateSince: string;
}

const MAX_JOIN_RETRY_MS = 30_000;
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(["0.0.0.0", "::", ""]);

export class ClusterNode {
  readonly transport: TlsTransport;
  readonly membership: Membership;
  readonly #options: ClusterNodeOptions;
  #joinTimer: TimerHandle | undefined;
  #reseedTimer: TimerHandle | undefined;
  #stateTimer: TimerHandle | undefined;
  readonly #reporter: StateReporter;
  #closed = false;

  private constructor(options: ClusterNodeOptions, transport: TlsTransport) {
    this.#options = options;
    this.transport = transport;
    let membership: Membership | undefined;
    this.#reporter = new StateReporter({
      region: options.region,
      runnable: options.runnable,
      weight: options.weight,
      labels: options.labels ?? [],
      clock: options.clock,
      load: options.load,
      ...(options.usage === undefined ? {} : { usage: options.usage }),
      ...(options.placement === undefined ? {} : { placement: options.placement }),
      coordinate: () => membership?.coordinate,
    });
    this.membership = new Membership({
      transport,
      self: { nodeId: options.nodeId, address: transport.hello.address, incarnation: options.incarnation, meta: { version: 1, data: { ...this.#reporter.measure() } } },
      clock: options.clock,
      random: options.random,
      logger: options.logger.child({ layer: "membership" }),
      options: options.membership ?? {},
    });
    membership = this.membership;
    // Bound to a wildcard and told nothing: the address a seed sees us come from beats a guessed interface.
    if (options.advertise === undefined && WILDCARD_HOSTS.has(options.host)) {
      this.membership.onObservedAddress((ip, seed) => this.#adoptObserved(ip, seed));
    }
    this.#scheduleRefresh();
  }

  /** Binds the cluster port, then joins the cluster through the peers in the background. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const transport = new TlsTransport({
      hello: {
        protocol: PROTOCOL_VERSION,
        app: options.app,
        nodeId: options.nodeId,
        incarnation: options.incarnation,
        address: options.advertise ?? "",
        services: options.services,
      },
      tokens: options.tokens,
      host: options.host,
      port: options.port,
      // The send queue holds at least two of the largest frames.
      limits: { maxFrameBytes: options.maxFrameBytes, maxQueuedBytes: Math.max(16 * 1024 * 1024, 2 * options.maxFrameBytes) },
      logger: options.logger,
      clock: options.clock,
    });
    await transport.listen();
    const links = new ClusterNode(options, transport);
    links.#join(0);
    links.#scheduleReseed();
    return links;
  }

  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(":") + 1));
  }

  /** host:port this node tells peers to dial (never a wildcard). */
  get address(): string {
    return this.transport.hello.address;
  }

  peers(): PeerLink[] {
    return [...this.transport.links.values()].map((link) => ({
      id: link.remote.nodeId,
      address: link.remote.address,
      incarnation: link.remote.incarnation,
      outbound: link.outbound,
      services: Object.keys(link.remote.services),
      mismatched: mismatchedServices({ services: this.#options.services }, link.remote),
    }));
  }

  /** Every member this node knows, itself included, sorted by id. */
  members(): MemberView[] {
    return this.membership.snapshot().members.map((member) => {
      const state = readNodeState(member.meta.data);
      return {
        id: member.nodeId,
        address: member.address,
        state: member.state,
        incarnation: member.incarnation,
        rttMs: this.membership.estimateRttMs(member.nodeId),
        region: state?.region,
        services: state?.services ?? [],
        capacity: state?.capacity,
        running: state?.running ?? {},
        leaving: state?.leaving ?? [],
        labels: state?.labels ?? [],
        eventLoopLagMs: state?.eventLoopLagMs,
        stateSince: new Date(member.stateChangedAtMs).toISOString(),
      };
    });
  }

  /**
   * Linked peers that run `serviceId` under the same contract as this node: the only ones a message
   * for it may be routed to (a node with another contract is mid-upgrade, not a valid target).
   */
  linksServing(serviceId: string): Link[] {
    const mine = this.#options.services[serviceId];
    if (mine === undefined) return [];
    return [...this.transport.links.values()].filter(
      (link) => Object.hasOwn(link.remote.services, serviceId) && link.remote.services[serviceId] === mine,
    );
  }

  /** Leaves the cluster gracefully (peers drop this node at once), then closes every link. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#joinTimer !== undefined) this.#options.clock.clearTimeout(this.#joinTimer);
    if (this.#reseedTimer !== undefined) this.#options.clock.clearTimeout(this.#reseedTimer);
    if (this.#stateTimer !== undefined) this.#options.clock.clearTimeout(this.#stateTimer);
    this.#reporter.stop();
    await this.membership.leave();
    await this.transport.close();
  }

  /** Advertises `ip` with our cluster port from now on: new links say it, and membership gossips it. */
  #adoptObserved(ip: string, seed: string): void {
    const previous = this.address;
    const address = formatAddress(ip, this.port);
    if (address === previous) return;
    this.transport.setAddress(address);
    this.membership.setAddress(address);
    this.#options.logger.info({ address, previous, seed }, `advertising ${address}, the address seed ${seed} sees this node at`);
  }

  /**
   * Every reconnect interval, exchanges state with each `--peer` that is not a live member (by
   * address): nodes started together can form separate clusters (each joined through a peer that was
   * alone then), and nothing else would ever introduce them. A peer given by host name never matches
   * a member's address, so it is synced with each time: one push-pull per seed and interval.
   */
  #scheduleReseed(): void {
    const { clock, peers } = this.#options;
    if (peers.length === 0) return;
    this.#reseedTimer = clock.setTimeout(() => {
      if (this.#closed) return;
      const known = new Set(this.membership.snapshot().live().map((member) => member.address));
      for (const seed of peers) if (!known.has(seed)) this.membership.syncWith(seed).catch(() => {});
      this.#scheduleReseed();
    }, this.membership.options.reconnectIntervalMs);
  }

  /** Joins through the peers, the nearest first; when none answers, says so and tries again later. */
  #join(attempt: number): void {
    const { peers, logger, clock, random } = this.#options;
    this.#orderByRtt(peers)
      .then((ordered) => this.membership.join(ordered))
      .catch((error: unknown) => {
        if (this.#closed) return;
        const ceilingMs = Math.min(MAX_JOIN_RETRY_MS, 500 * 2 ** attempt);
        const delayMs = Math.round(ceilingMs * (0.5 + random() / 2));
        const reason = error instanceof Error ? error.message : String(error);
        logger.warn({ peers, retryInMs: delayMs }, `could not join the cluster: ${reason}; retrying`);
        this.#joinTimer = clock.setTimeout(() => this.#join(attempt + 1), delayMs);
      });
  }

  /**
   * Dials every peer at once and orders them by how fast each link came up (a TLS handshake is a few
   * round trips): joining through the nearest peer is this project's oldest wish. Unreachable peers
   * go last, so the join still tries them.
   */
  async #orderByRtt(peers: readonly string[]): Promise<string[]> {
    if (peers.length <= 1) return [...peers];
    const started = this.#options.clock.now();
    const timed = await Promise.all(
      peers.map((address) =>
        this.transport.connect(address).then(
          () => ({ address, ms: this.#options.clock.now() - started }),
          () => ({ address, ms: Infinity }),
        ),
      ),
    );
    return timed.sort((a, b) => a.ms - b.ms).map((entry) => entry.address);
  }

  /**
   * Gossips this node's state now, with the load rates of the last refresh: for a change that peers
   * should see before the next refresh, such as a service started or stopped here.
   */
  announce(): void {
    if (this.#closed) return;
    this.membership.updateMeta({ ...this.#reporter.current() });
  }

  /**
   * Tells peers this node is stopping: from now on it gossips no running service, so they route new
   * messages elsewhere and placement replaces its replicas while it drains what it holds.
   */
  announceStopping(): void {
    this.#reporter.stopping = true;
    this.announce();
  }

  #scheduleRefresh(): void {
    this.#stateTimer = this.#options.clock.setTimeout(() => {
      if (this.#closed) return;
      this.membership.updateMeta({ ...this.#reporter.measure() });
      this.#scheduleRefresh();
    }, this.#options.stateRefreshMs ?? 5000);
  }
}

