// Holds the node's cluster port from start, so a port clash fails at once and `Running … on port N` is true.
// Until the secure transport lands every connection to it is closed straight away; the transport takes
// over this listener rather than opening another one.

import { createServer, type Server } from "node:net";

export class ReservedPort {
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static listen(host: string, port: number): Promise<ReservedPort> {
    const server = createServer();
    const reserved = new ReservedPort(server);
    server.on("connection", (socket) => socket.destroy());
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off("error", reject);
        resolve(reserved);
      });
    });
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
