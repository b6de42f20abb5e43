// The charts' history: a sliding window of points in columns, services that appear late padded with nulls.

import assert from "node:assert/strict";
import { test } from "node:test";
import { SeriesHistory } from "./series-history.js";

const point = (perSec: number) => ({ perSec, queued: 0, p50Ms: null, p99Ms: null });

test("points older than the window are dropped from every column", () => {
  const history = new SeriesHistory(2_000);
  for (let t = 0; t <= 5_000; t += 1_000) history.add(t, { A: point(t / 1000) });
  assert.deepEqual(history.series.t, [3_000, 4_000, 5_000]);
  assert.deepEqual(history.series.services.A!.perSec, [3, 4, 5]);
});

test("a service seen late has nulls before it, and one that vanished gets nulls after", () => {
  const history = new SeriesHistory(60_000);
  history.add(0, { A: point(1) });
  history.add(1_000, { A: point(2), B: point(7) });
  history.add(2_000, { B: point(8) });
  assert.deepEqual(history.series.services.A!.perSec, [1, 2, null]);
  assert.deepEqual(history.series.services.B!.perSec, [null, 7, 8]);
});

test("the number of services charted is bounded", () => {
  const history = new SeriesHistory(60_000, 2);
  history.add(0, { A: point(1), B: point(1), C: point(1) });
  assert.deepEqual(Object.keys(history.series.services), ["A", "B"]);
});

test("the series handed out is a copy", () => {
  const history = new SeriesHistory(60_000);
  history.add(0, { A: point(1) });
  history.series.services.A!.perSec.push(99);
  assert.deepEqual(history.series.services.A!.perSec, [1]);
});
