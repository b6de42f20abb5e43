// The columns and number formats of `kaffix status`: aligned without escape codes, short and unit-bearing.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatAgo, formatBytes, formatMs, formatRate, table } from "./status-table.js";

describe("table", () => {
  test("pads columns to their widest cell, right-aligns the numeric ones (headers too) and leaves no trailing blanks", () => {
    const lines = table(["NAME", "N", "NOTE"], [["a", "5", ""], ["longer", "120", "x"]], { color: false, right: [1] });
    assert.deepEqual(lines, ["  NAME      N  NOTE", "  a         5", "  longer  120  x"]);
  });

  test("colours wrap the text only, so coloured and plain tables line up alike", () => {
    const plain = table(["S"], [[{ text: "alive", style: "green" }], ["dead"]], { color: false });
    const coloured = table(["S"], [[{ text: "alive", style: "green" }], ["dead"]], { color: true });
    assert.deepEqual(coloured.map((line) => line.replace(/\x1b\[\d+m/g, "")), plain);
    assert.equal(coloured[1], "  \x1b[32malive\x1b[0m");
  });
});

describe("formats", () => {
  test("rates keep one decimal below 10 per second and none above", () => {
    assert.deepEqual([0, 0.04, 2.345, 9.96, 12.4, 1234].map(formatRate), ["0", "<0.1", "2.3", "10.0", "12", "1234"]);
  });

  test("milliseconds keep two significant digits below 10", () => {
    assert.deepEqual([0, 0.004, 0.368, 4.25, 21.6].map(formatMs), ["0", "<0.01", "0.37", "4.3", "22"]);
  });

  test("memory is shown in GiB, or MiB below one", () => {
    assert.deepEqual([512 * 2 ** 20, 1.5 * 2 ** 30, 24.6 * 2 ** 30].map(formatBytes), ["512 MiB", "1.5 GiB", "25 GiB"]);
  });

  test("times are told relative to the snapshot, and a time ahead of it (clock skew) as just now", () => {
    const now = Date.parse("2026-03-01T12:00:00Z");
    assert.equal(formatAgo("2026-03-01T11:59:55Z", now), "5 s ago");
    assert.equal(formatAgo("2026-03-01T11:50:00Z", now), "10 min ago");
    assert.equal(formatAgo("2026-03-01T09:00:00Z", now), "3 h ago");
    assert.equal(formatAgo("2026-03-01T12:00:02Z", now), "just now");
    assert.equal(formatAgo("not a time", now), "?");
  });
});
