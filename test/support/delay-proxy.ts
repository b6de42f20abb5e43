// A TCP proxy on 127.0.0.1 that delays every chunk by a fixed one-way delay in each direction: a WAN link for tests, since tc netem is unavailable.

import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface DelayProxyOptions {
  /** host:port every accepted connection is forwarded to. */
  readonly target: string;
  /** Delay added to every chunk in each direction, ms (10 each way is a 20 ms round trip). */
  readonly delayMs: number;
  /** Bytes one direction of one connection may hold (delayed, or written but not yet flushed) before its source is paused. Default 256 KiB. */
  readonly maxBufferedBytes?: number;
  /** Listening port; 0 (the default) picks a free one. */
  readonly port?: number;
}

export interface DelayProxyStats {
  /** Connections open now. */
  readonly connections: number;
  /** Timers armed now (one at most per direction with data waiting). */
  readonly timers: number;
  /** Directions whose source is paused now because too many bytes wait. */
  readonly paused: number;
  /** The most bytes one direction of one connection ever held. */
  readonly maxBufferedBytes: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
}

const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024;

/** One direction of one connection: chunks from `from` wait `delayMs`, in order, then go to `to`. */
class DelayedPipe {
  readonly #from: Socket;
  readonly #to: Socket;
  readonly #delayMs: number;
  readonly #limit: number;
  readonly #observe: (bufferedBytes: number) => void;
  /** Chunks in arrival order; null is the source's FIN, delivered after the data like any chunk. */
  readonly #queue: { chunk: Buffer | null; dueAt: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #queuedBytes = 0;
  #paused = false;

  constructor(from: Socket, to: Socket, delayMs: number, limit: number, observe: (bufferedBytes: number) => void) {
    this.#from = from;
    this.#to = to;
    this.#delayMs = delayMs;
    this.#limit = limit;
    this.#observe = observe;
    from.on("data", (chunk: Buffer) => this.#push(chunk));
    from.on("end", () => this.#push(null));
    to.on("drain", () => this.#flush());
  }

  /** Bytes held: delayed, plus written to `to` but not yet taken by the kernel. */
  get buffered(): number {
    return this.#queuedBytes + this.#to.writableLength;
  }

  get timerArmed(): boolean {
    return this.#timer !== undefined;
  }

  get paused(): boolean {
    return this.#paused;
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  #push(chunk: Buffer | null): void {
    this.#queue.push({ chunk, dueAt: performance.now() + this.#delayMs });
    if (chunk !== null) this.#queuedBytes += chunk.length;
    this.#observe(this.buffered);
    if (this.buffered > this.#limit && !this.#paused) {
      this.#paused = true;
      this.#from.pause();
    }
    this.#arm();
  }

  #arm(): void {
    const head = this.#queue[0];
    if (head === undefined || this.#timer !== undefined || this.#to.writableNeedDrain) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, Math.max(0, head.dueAt - performance.now()));
  }

  /** Writes every chunk that is due until `to` asks for a drain; the rest waits for its "drain" or its time. */
  #flush(): void {
    if (this.#to.destroyed) return;
    // Timers may fire up to a millisecond early on some platforms; a chunk is never sent before its time.
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.dueAt <= now && !this.#to.writableNeedDrain) {
      const { chunk } = this.#queue.shift()!;
      if (chunk === null) {
        this.#to.end();
        continue;
      }
      this.#queuedBytes -= chunk.length;
      this.#to.write(chunk);
    }
    this.#observe(this.buffered);
    if (this.#paused && this.buffered <= this.#limit / 2) {
      this.#paused = false;
      this.#from.resume();
    }
    this.#arm();
  }
}

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: readonly DelayedPipe[];
}

/** A running proxy. Every connection it accepts dials `target` and is delayed both ways; `close()` ends them all. */
export class DelayProxy {
  readonly #options: Required<DelayProxyOptions>;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  #port = 0;
  #maxBuffered = 0;
  #accepted = 0;
  #closing: Promise<void> | undefined;

  private constructor(options: Required<DelayProxyOptions>) {
    this.#options = options;
    // Half-open sockets: a FIN from one side must reach the other after the delay, behind the data still delayed.
    this.#server = createServer({ allowHalfOpen: true }, (client) => this.#accept(client));
  }

  /** Starts listening on 127.0.0.1; resolves once the port is bound. */
  static async start(options: DelayProxyOptions): Promise<DelayProxy> {
    if (!(options.delayMs >= 0)) throw new Error(`delayMs must be ≥ 0, got ${options.delayMs}`);
    const proxy = new DelayProxy({ maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES, port: 0, ...options });
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once("error", reject);
      proxy.#server.listen({ host: "127.0.0.1", port: proxy.#options.port }, () => {
        proxy.#server.off("error", reject);
        proxy.#port = (proxy.#server.address() as AddressInfo).port;
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** host:port to dial instead of the target. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get target(): string {
    return this.#options.target;
  }

  stats(): DelayProxyStats {
    let timers = 0;
    let paused = 0;
    for (const connection of this.#connections) {
      for (const pipe of connection.pipes) {
        if (pipe.timerArmed) timers++;
        if (pipe.paused) paused++;
      }
    }
    return { connections: this.#connections.size, timers, paused, maxBufferedBytes: this.#maxBuffered, accepted: this.#accepted };
  }

  /** Stops accepting, destroys every connection and clears every timer; resolves once the listener is closed. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const connection of [...this.#connections]) this.#drop(connection);
    });
    return this.#closing;
  }

  #accept(client: Socket): void {
    if (this.#closing !== undefined) {
      client.destroy();
      return;
    }
    this.#accepted++;
    const { target, delayMs, maxBufferedBytes } = this.#options;
    const colon = target.lastIndexOf(":");
    const upstream = connect({ host: target.slice(0, colon), port: Number(target.slice(colon + 1)), allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const observe = (bytes: number) => {
      if (bytes > this.#maxBuffered) this.#maxBuffered = bytes;
    };
    // Data from the client waits in its pipe (then in the socket) while the upstream connects: it is delayed anyway.
    const pipes = [new DelayedPipe(client, upstream, delayMs, maxBufferedBytes, observe), new DelayedPipe(upstream, client, delayMs, maxBufferedBytes, observe)];
    const connection: Connection = { client, upstream, pipes };
    this.#connections.add(connection);
    // A clean close (FIN both ways) was forwarded by the pipes; an error, a reset or a refused upstream drops both
    // sides at once, as a broken link would.
    let closed = 0;
    for (const socket of [client, upstream]) {
      socket.on("error", () => this.#drop(connection));
      socket.on("close", () => {
        if (!socket.readableEnded || ++closed === 2) this.#drop(connection);
      });
    }
  }

  #drop(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    for (const pipe of connection.pipes) pipe.stop();
    connection.client.destroy();
    connection.upstream.destroy();
  }
}

/** Starts a proxy to `target` with `delayMs` each way; shorthand for DelayProxy.start. */
export function startDelayProxy(target: string, delayMs: number, maxBufferedBytes?: number): Promise<DelayProxy> {
  return DelayProxy.start({ target, delayMs, ...(maxBufferedBytes === undefined ? {} : { maxBufferedBytes }) });
}
