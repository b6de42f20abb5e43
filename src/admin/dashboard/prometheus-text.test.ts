// Reading /metrics text back: only the wanted metrics, labels with escapes, special values, malformed lines skipped.

import assert from "node:assert/strict";
import { test } from "node:test";
import { readSamples } from "./prometheus-text.js";

const TEXT = [
  "# HELP kaffix_queue_depth Messages waiting.",
  "# TYPE kaffix_queue_depth gauge",
  'kaffix_queue_depth{service="Front",app="My \\"quoted\\" App"} 3',
  'kaffix_handler_duration_seconds_bucket{le="0.001",service="Front",app="a\\\\b"} 12',
  'kaffix_handler_duration_seconds_bucket{le="+Inf",service="Front"} 15',
  "kaffix_delivery_sent_total 7",
  'kaffix_queue_depth{service="Broken} 4',
  "kaffix_queue_depth{} not-a-number",
].join("\n");

test("only samples of the wanted metrics are read, with their labels and values", () => {
  const samples = readSamples(TEXT, new Set(["kaffix_handler_duration_seconds_bucket"]));
  assert.deepEqual(samples, [
    { name: "kaffix_handler_duration_seconds_bucket", labels: { le: "0.001", service: "Front", app: "a\\b" }, value: 12 },
    { name: "kaffix_handler_duration_seconds_bucket", labels: { le: "+Inf", service: "Front" }, value: 15 },
  ]);
});

test("escaped quotes in label values are unescaped and malformed lines are skipped", () => {
  const samples = readSamples(TEXT, new Set(["kaffix_queue_depth"]));
  assert.deepEqual(samples, [{ name: "kaffix_queue_depth", labels: { service: "Front", app: 'My "quoted" App' }, value: 3 }]);
});

test("a sample without labels is read too", () => {
  assert.deepEqual(readSamples(TEXT, new Set(["kaffix_delivery_sent_total"])), [{ name: "kaffix_delivery_sent_total", labels: {}, value: 7 }]);
});
