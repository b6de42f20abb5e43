// A rolling upgrade in real processes on 127.0.0.1: the three nodes of a cluster are replaced one by one by a new
// build (SIGTERM, then the new build at the same address) while a client publishes through the admin endpoints,
// and every id the client published is processed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { HttpPublisher } from "./support/http-publisher.js";
import { UpgradeCluster, type SinkRecords } from "./support/upgrade-cluster.js";

const NODES = 3;
const OLD_BUILD = "1.0.0";
const NEW_BUILD = "2.0.0";
/** About 300 ids a second for the whole upgrade: a few thousand in all. */
const RATE_PER_SEC = 300;
/** Traffic that flows before the first replacement and after each one, with the cluster whole. */
const SETTLE_MS = 1_000;
/** How long the cluster may take to be whole again after a node joins (a join takes milliseconds on loopback). */
const WHOLE_BOUND_MS = 15_000;
/** After the client stops, how long the sinks may take to record every accepted id. */
const DRAIN_BOUND_MS = 20_000;

test("replacing every node of a 3-node cluster by a new build, one at a time with SIGTERM, loses no published message", { timeout: 60_000 }, async (t) => {
  const cluster = await UpgradeCluster.start(NODES, OLD_BUILD);
  t.after(() => cluster.close());
  await cluster.whole(WHOLE_BOUND_MS);

  const publisher = new HttpPublisher({
    targets: cluster.adminUrls,
    service: "Ingest",
    ratePerSec: RATE_PER_SEC,
    window: 32,
    maxAttempts: 50,
    retryDelayMs: 100,
    timeoutMs: 5_000,
  });
  publisher.start();
  await sleep(SETTLE_MS);

  // The order a StatefulSet updates in: highest ordinal first.
  const replaced: string[] = [];
  for (const slot of [2, 1, 0]) {
    const old = cluster.node(slot);
    const acceptedBefore = publisher.acceptedCount;
    const code = await cluster.stopSlot(slot);
    assert.equal(code, 0, `node ${old.id} (slot ${slot}) did not exit cleanly on SIGTERM:\n${old.process.stderr()}`);
    const fresh = await cluster.startSlot(slot, NEW_BUILD);
    await cluster.whole(WHOLE_BOUND_MS);
    assert.ok(publisher.acceptedCount > acceptedBefore, `no id was accepted while slot ${slot} was replaced: the client was not publishing`);
    replaced.push(`slot ${slot}: ${old.id} (${old.build}) → ${fresh.id} (${fresh.build})`);
    await sleep(SETTLE_MS);
  }
  const sent = await publisher.stop();

  let records: SinkRecords = cluster.sinks();
  let missing: string[] = [];
  const drainStart = performance.now();
  while (performance.now() - drainStart < DRAIN_BOUND_MS) {
    records = cluster.sinks();
    missing = [...sent.accepted].filter((id) => !records.byId.has(id));
    if (missing.length === 0) break;
    await sleep(250);
  }

  const duplicates = records.total - records.byId.size;
  const builds = [...records.byBuild].map(([build, n]) => `${build}=${n}`).join(", ");
  t.diagnostic(`replaced ${replaced.join("; ")}`);
  t.diagnostic(
    `${sent.published} ids published, ${sent.accepted.size} accepted, ${sent.gaveUp.length} given up; failed attempts (retried on another node): ` +
      `${JSON.stringify(sent.failures)}; ${records.total} sink records, ${duplicates} duplicates; records by build: ${builds}`,
  );
  assert.deepEqual(sent.gaveUp.slice(0, 10), [], `${sent.gaveUp.length} ids were never accepted by any node`);
  assert.equal(missing.length, 0, `${missing.length} of ${sent.accepted.size} accepted ids were never processed, e.g. ${missing.slice(0, 10).join(", ")}`);
  assert.ok((records.byBuild.get(NEW_BUILD) ?? 0) > 0, "the new build processed nothing");
  for (const slot of [0, 1, 2]) assert.equal(cluster.node(slot).build, NEW_BUILD);
});
