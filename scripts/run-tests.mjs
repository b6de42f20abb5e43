// Finds every *.test.ts under src/, sim/ and test/ and runs them with node's test runner through tsx
// (Node 20's --test does not expand globs itself).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = collect("src", collect("sim", collect("test", []))).filter(
  (f) => filter.length === 0 || filter.some((part) => f.includes(part)),
);
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
// Each file is one test to the runner, so the timeout bounds a whole file: the real-process suites
// (kill -9, regions, benchmarks' quick runs) need up to a minute on a busy two-core machine.
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=120000", "--test-reporter=spec", ...files.sort()],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
