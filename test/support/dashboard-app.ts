// The app the dashboard browser test runs on every node: Front → Back traffic, and Flaky, which dead-letters what it is told to.

import { App, KaffixError, Service, type Context, type StartOptions } from "../../src/index.js";
import { FAST_MEMBERSHIP } from "../../src/testing/fast-membership.js";

export class Back extends Service<{ n: number }> {
  onMessage(): void {}
}

export class Front extends Service<{ n: number }> {
  async onMessage(message: { n: number }, ctx: Context): Promise<void> {
    await ctx.publish(Back, message);
  }
}

export class Flaky extends Service<{ sku: string }> {
  onMessage(message: { sku: string }): void {
    throw new KaffixError("OUT_OF_STOCK", `no stock left for ${message.sku}`);
  }
}

export function buildDashboardApp(): App {
  return new App({ name: "Dashboard Demo", version: "1.0.0" })
    // Front everywhere, so a node that may not run Back always sends it across the network.
    .addService(Front, { minReplicas: 3 })
    .addService(Back, { minReplicas: 2 })
    .addService(Flaky, { retries: 0 });
}

/**
 * What every node of the test shares: a kill is seen in 1–3 s, and placement plans (and so gossips
 * its rates) every half second, so the page shows traffic within a few seconds.
 */
export const DASHBOARD_NODE_OPTIONS: StartOptions = {
  host: "127.0.0.1",
  port: 0,
  logLevel: "silent",
  membership: FAST_MEMBERSHIP,
  placement: { intervalMs: 500 },
};
