import assert from "node:assert/strict";
import { test } from "node:test";
import { type Coordinate, estimateRttMs, isValidCoordinate, VivaldiClient } from "./vivaldi.js";
import { seededRandom } from "../testing/seeded-random.js";

const seeded = seededRandom;

/** The value below which `fraction` of `values` lie. */
function quantile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * fraction)]!;
}

/**
 * N nodes at random points of a 70 × 70 ms plane, each with an access-link height of 0.5–5 ms, so
 * true RTTs span about 1–100 ms. Every round each node probes `probesPerRound` random peers and
 * learns from the RTT with ±`noise` relative jitter.
 */
function simulate(options: { nodes: number; rounds: number; probesPerRound: number; noise: number; seed: number }) {
  const random = seeded(options.seed);
  const points = Array.from({ length: options.nodes }, () => [random() * 70, random() * 70] as const);
  const heights = points.map(() => 0.5 + random() * 4.5);
  const trueRttMs = (i: number, j: number) =>
    Math.hypot(points[i]![0] - points[j]![0], points[i]![1] - points[j]![1]) + heights[i]! + heights[j]!;
  const clients = points.map(() => new VivaldiClient({}, random));
  const relativeErrors = () => {
    const errors: number[] = [];
    for (let i = 0; i < clients.length; i++) {
      for (let j = i + 1; j < clients.length; j++) {
        const truth = trueRttMs(i, j);
        errors.push(Math.abs(estimateRttMs(clients[i]!.coordinate, clients[j]!.coordinate) - truth) / truth);
      }
    }
    return { median: quantile(errors, 0.5), p90: quantile(errors, 0.9) };
  };
  const history: { median: number; p90: number }[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (let i = 0; i < clients.length; i++) {
      for (let p = 0; p < options.probesPerRound; p++) {
        let j = Math.floor(random() * (clients.length - 1));
        if (j >= i) j++;
        const jitter = 1 + (random() * 2 - 1) * options.noise;
        clients[i]!.update(`node-${j}`, clients[j]!.coordinate, trueRttMs(i, j) * jitter);
      }
    }
    history.push(relativeErrors());
  }
  return { clients, history };
}

const peer: Coordinate = { vec: [5, 0, 0, 0, 0, 0, 0, 0], height: 1, error: 0.5, adjustment: 0 };

test("coordinates of 50 nodes converge until RTT estimates are off by a few percent", (t) => {
  const { clients, history } = simulate({ nodes: 50, rounds: 300, probesPerRound: 3, noise: 0.02, seed: 42 });
  const at = (round: number) => history[round - 1]!;
  const rounds = [1, 10, 50, 100, 300];
  t.diagnostic(`median relative error, rounds ${rounds.join("/")}: ${rounds.map((r) => at(r).median.toFixed(4)).join(" / ")}`);
  t.diagnostic(`90th percentile, rounds ${rounds.join("/")}: ${rounds.map((r) => at(r).p90.toFixed(4)).join(" / ")}`);
  t.diagnostic(`median error estimate of the nodes: ${quantile(clients.map((c) => c.coordinate.error), 0.5).toFixed(4)}`);
  // Seeds 1, 2, 3, 42 and 99 all end near a median of 0.5–0.75 % and a 90th percentile of 2–3.5 %.
  assert.ok(at(300).median < 0.05, `median relative error ${at(300).median}`);
  assert.ok(at(300).p90 < 0.15, `90th percentile relative error ${at(300).p90}`);
  for (const client of clients) {
    assert.equal(isValidCoordinate(client.coordinate), true);
    assert.equal(client.stats.resets, 0);
    assert.ok(client.trackedPeers <= 49);
  }
});

test("an invalid RTT or peer coordinate is ignored and leaves the coordinate untouched", () => {
  const client = new VivaldiClient({}, seeded(1));
  const twin = new VivaldiClient({}, seeded(1));
  for (const c of [client, twin]) {
    c.update("peer", peer, 10);
    c.update("peer", peer, 11);
  }
  const before = client.coordinate;
  const badRtts = [Number.NaN, Number.POSITIVE_INFINITY, -1, 1e9, 10_001];
  for (const rttMs of badRtts) assert.equal(client.update("peer", peer, rttMs), before);
  const badCoordinates: unknown[] = [
    null,
    "coordinate",
    { ...peer, vec: [...peer.vec, 0] },
    { ...peer, vec: [Number.NaN, 0, 0, 0, 0, 0, 0, 0] },
    { ...peer, vec: [1e300, 0, 0, 0, 0, 0, 0, 0] },
    { ...peer, vec: ["1", 0, 0, 0, 0, 0, 0, 0] },
    { ...peer, vec: new Array(8) },
    { ...peer, height: -1 },
    { ...peer, height: Number.POSITIVE_INFINITY },
    { ...peer, error: -0.5 },
    { ...peer, error: Number.NaN },
    { ...peer, adjustment: -1e12 },
    { vec: peer.vec, height: 1, error: 0.5 },
  ];
  for (const bad of badCoordinates) assert.equal(client.update("peer", bad as Coordinate, 10), before);
  assert.deepEqual(client.stats, { rejectedSamples: badRtts.length + badCoordinates.length, resets: 0 });
  // The rejected samples did not enter the peer's RTT filter either: the next sample acts as on the twin.
  assert.deepEqual(client.update("peer", peer, 12), twin.update("peer", peer, 12));
});

test("the median filter smooths out one slow probe", () => {
  const filtered = new VivaldiClient({}, seeded(2));
  const steady = new VivaldiClient({}, seeded(2));
  const unfiltered = new VivaldiClient({ latencyFilterSize: 1 }, seeded(2));
  for (const c of [filtered, steady, unfiltered]) {
    c.update("peer", peer, 10);
    c.update("peer", peer, 10);
  }
  filtered.update("peer", peer, 5_000);
  steady.update("peer", peer, 10);
  unfiltered.update("peer", peer, 5_000);
  assert.deepEqual(filtered.coordinate, steady.coordinate);
  assert.ok(estimateRttMs(filtered.coordinate, peer) < 20);
  assert.ok(estimateRttMs(unfiltered.coordinate, peer) > 100, "without the filter the outlier moves us far");
});

test("RTT estimates are symmetric and never negative", () => {
  const random = seeded(3);
  const randomCoordinate = (): Coordinate => ({
    vec: Array.from({ length: 8 }, () => (random() - 0.5) * 200),
    height: random() * 10,
    error: random() * 1.5,
    adjustment: (random() - 0.5) * 400, // large negative adjustments must not make an estimate negative
  });
  for (let i = 0; i < 1_000; i++) {
    const a = randomCoordinate();
    const b = randomCoordinate();
    assert.equal(estimateRttMs(a, b), estimateRttMs(b, a));
    assert.ok(estimateRttMs(a, b) >= 0);
  }
  const origin = new VivaldiClient().coordinate;
  assert.equal(estimateRttMs(origin, origin), 2 * origin.height);
});

test("the tracked peers stay bounded, forgetting the least recently probed first", () => {
  const capped = new VivaldiClient({ maxTrackedPeers: 2 }, seeded(4));
  const unbounded = new VivaldiClient({}, seeded(4));
  const both = (peerId: string, rttMs: number) => {
    const coordinate = capped.update(peerId, peer, rttMs);
    assert.deepEqual(coordinate, unbounded.update(peerId, peer, rttMs));
  };
  both("a", 10);
  both("a", 10);
  both("b", 10);
  both("b", 10);
  both("a", 10); // a is now the most recently probed, b the least
  both("c", 10); // evicts b
  assert.equal(capped.trackedPeers, 2);
  both("a", 5_000); // a kept its samples, so its outlier is still smoothed on both clients
  // b lost its samples on the capped client, so there its outlier is taken at face value.
  assert.notDeepEqual(capped.update("b", peer, 5_000), unbounded.update("b", peer, 5_000));

  for (let i = 0; i < 100; i++) capped.update(`peer-${i}`, peer, 10);
  assert.equal(capped.trackedPeers, 2);
  capped.forgetPeer("peer-99");
  assert.equal(capped.trackedPeers, 1);
});

test("a fresh client sits at the origin with the maximum error", () => {
  const coordinate = new VivaldiClient().coordinate;
  assert.deepEqual(coordinate, { vec: [0, 0, 0, 0, 0, 0, 0, 0], height: 0.01, error: 1.5, adjustment: 0 });
  assert.equal(Object.isFrozen(coordinate) && Object.isFrozen(coordinate.vec), true);
  assert.throws(() => new VivaldiClient({ dimensionality: 0 }), RangeError);
  assert.throws(() => new VivaldiClient({ vivaldiCC: 2 }), RangeError);
});
