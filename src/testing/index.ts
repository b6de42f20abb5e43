// kaffix/testing: helpers for testing Kaffix services without a real cluster.

export { ManualClock, settle } from "./manual-clock.js";
export { seededRandom } from "./seeded-random.js";
export { startTestCluster } from "./test-cluster.js";
export type { TestCluster, TestClusterOptions } from "./test-cluster.js";
