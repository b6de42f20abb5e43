// Finds TCP ports free on 127.0.0.1, for tests whose nodes need fixed addresses (a replaced node keeps its address).

import { createServer, type AddressInfo, type Server } from "node:net";

/** `count` distinct ports that were free a moment ago; another process could take one before it is bound. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: "127.0.0.1", port: 0 }, resolve);
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
