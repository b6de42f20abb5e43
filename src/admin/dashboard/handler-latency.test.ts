// Latency percentiles from cumulative histogram buckets: interpolation, the +Inf bucket, and a sliding window of scrapes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketsByService, LatencyWindow, quantileMs, type Buckets } from "./handler-latency.js";
import { readSamples } from "./prometheus-text.js";

const LE = [0.001, 0.01, 0.1, Infinity];
const buckets = (counts: number[]): Buckets => ({ le: LE, counts });

function near(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `expected ${expected}, got ${actual}`);
}

test("a percentile is interpolated inside the bucket that holds its rank", () => {
  // 100 observations: 50 under 1 ms, 40 from 1 to 10 ms, 10 from 10 to 100 ms.
  const b = buckets([50, 90, 100, 100]);
  near(quantileMs(b, 0.5), 1);
  near(quantileMs(b, 0.7), 1 + (9 * 20) / 40);
  near(quantileMs(b, 0.99), 10 + (90 * 9) / 10);
});

test("a rank in the +Inf bucket answers the largest finite bound, and an empty histogram answers nothing", () => {
  assert.equal(quantileMs(buckets([0, 0, 1, 10]), 0.99), 100);
  assert.equal(quantileMs(buckets([0, 0, 0, 0]), 0.5), undefined);
});

test("the window counts only what finished since its oldest scrape", () => {
  const window = new LatencyWindow(10_000);
  window.add(0, new Map([["Front", buckets([1000, 1000, 1000, 1000])]]));
  assert.equal(window.percentiles("Front"), undefined, "one scrape cannot tell old from new");
  // Since then, 100 slower ones (between 10 and 100 ms).
  window.add(5_000, new Map([["Front", buckets([1000, 1000, 1100, 1100])]]));
  near(window.percentiles("Front")?.p50Ms, 55);
  // Once the first scrape is out of the window, the baseline moves and nothing new means nothing to show.
  window.add(16_000, new Map([["Front", buckets([1000, 1000, 1100, 1100])]]));
  assert.equal(window.percentiles("Front"), undefined);
});

test("a service first seen inside the window counts everything it has observed", () => {
  const window = new LatencyWindow(10_000);
  window.add(0, new Map());
  window.add(1_000, new Map([["Late", buckets([10, 10, 10, 10])]]));
  near(window.percentiles("Late")?.p99Ms, 0.99);
  assert.equal(window.percentiles("Unknown"), undefined);
});

test("buckets are read per service from the metrics text, in bound order", () => {
  const text = [
    'kaffix_handler_duration_seconds_bucket{le="+Inf",service="A"} 4',
    'kaffix_handler_duration_seconds_bucket{le="0.01",service="A"} 3',
    'kaffix_handler_duration_seconds_bucket{le="0.001",service="A"} 1',
    'kaffix_handler_duration_seconds_bucket{le="0.001",service="B"} 2',
  ].join("\n");
  const byService = bucketsByService(readSamples(text, new Set(["kaffix_handler_duration_seconds_bucket"])));
  assert.deepEqual(byService.get("A"), { le: [0.001, 0.01, Infinity], counts: [1, 3, 4] });
  assert.deepEqual(byService.get("B"), { le: [0.001], counts: [2] });
});
