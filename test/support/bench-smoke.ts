// Runs benchmarks in `--quick` mode and checks only that each reaches its end (timings belong in the benchmarks).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { ROOT } from "./processes.js";

/** One test per script; split over several files so that each file stays within the runner's per-file timeout. */
export function smokeTest(scripts: readonly string[]): void {
  describe("npm run bench", () => {
    for (const script of scripts) {
      test(`bench/${script}.ts --quick runs to the end`, { timeout: 120_000 }, () => {
        const result = spawnSync(process.execPath, ["--import", "tsx", `bench/${script}.ts`, "--quick"], {
          cwd: ROOT,
          encoding: "utf8",
          timeout: 110_000,
        });
        assert.equal(result.status, 0, `exit ${result.status}\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
      });
    }
  });
}
