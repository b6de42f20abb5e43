// Every benchmark still runs: `--quick` mode of each, exit code only (timings belong in the benchmarks).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { ROOT } from "./support/processes.js";

describe("npm run bench", () => {
  for (const script of ["local", "codec", "transport", "control-lane", "membership-scale", "cross-node", "compare"]) {
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
