// One node of the dashboard browser test as its own process, so that the test can kill -9 it.
// Usage: dashboard-node.ts <peer host:port> <region> <services,comma,separated>; the token comes in KAFFIX_TOKEN.

import { buildDashboardApp, DASHBOARD_NODE_OPTIONS } from "./dashboard-app.js";

const [peer, region, services] = process.argv.slice(2);
if (peer === undefined || region === undefined || services === undefined || process.env.KAFFIX_TOKEN === undefined) {
  throw new Error("usage: dashboard-node.ts <peer> <region> <services>, with KAFFIX_TOKEN set");
}
const app = buildDashboardApp();
await app.start({ ...DASHBOARD_NODE_OPTIONS, token: process.env.KAFFIX_TOKEN, peers: [peer], region, services: services.split(",") });
console.log(`dashboard node ready ${app.nodeId}`);
