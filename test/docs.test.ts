import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ErrorCodes } from "../src/index.js";
import { resolvePlacementOptions } from "../src/placement/placement-options.js";

test("docs/errors.md documents every error code with its retryable flag", () => {
  const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
  for (const [code, { retryable }] of Object.entries(ErrorCodes)) {
    const row = doc.split("\n").find((line) => line.startsWith(`| \`${code}\` |`));
    assert.ok(row, `docs/errors.md has no row for ${code}`);
    assert.match(row, new RegExp(`^\\| \`${code}\` \\| ${retryable ? "yes" : "no"} \\|`), `retryable of ${code} differs`);
  }
});

test("docs/placement.md has a row for every placement option", () => {
  const doc = readFileSync(new URL("../docs/placement.md", import.meta.url), "utf8");
  const { movesFollowSize: _internal, ...options } = resolvePlacementOptions({});
  for (const option of Object.keys(options)) {
    assert.ok(doc.includes(`| \`${option}\` |`), `docs/placement.md has no row for ${option}`);
  }
});
