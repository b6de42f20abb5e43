// The placement simulation: the real planner against a simulated cluster, next to round-robin and a hand-made placement.
//
//   node --import tsx sim/placement/main.ts [--quick]
//
// Three clusters (10, 100 and 1,000 nodes in three regions 20 ms apart; 5, 50 and 50 services), each
// run for simulated hours in planning rounds of 5 s with load shifts, crashes, joins and leaves
// (scenarios.ts). Every round builds the PlanInput the runtime would gossip (measure.ts), calls
// planPlacement, and applies the moves as the runtime will (apply-plan.ts). Every few rounds the
// latency model (routing-model.ts) evaluates four placements on the same cluster: Kaffix's, a
// hand-made one, every service everywhere with Kaffix's router, and every service everywhere with
// round-robin. Prints tables; writes sim/results/placement.json and placement.md (the snippet for
// docs/benchmarks.md), or placement-quick.* with --quick (a smoke run never overwrites a real one).

import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exitWhenHung, machine, measuredBy, runMain, writeResults } from "../../bench/harness.js";
import { aims, markdownReport, printReport } from "./report.js";
import { runScenario } from "./run-scenario.js";
import { ROUND_MS, scenarios } from "./scenarios.js";
import { summarize } from "./summary.js";

const QUICK = process.argv.includes("--quick");
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

await runMain(async () => {
  exitWhenHung(QUICK ? 120_000 : 300_000);
  const started = performance.now();
  const summaries = scenarios(QUICK).map((scenario) => {
    const t0 = performance.now();
    console.error(`sim: ${scenario.name}, ${scenario.minutes / 60} h simulated in rounds of ${ROUND_MS / 1000} s …`);
    const summary = summarize(runScenario(scenario, (line) => console.error(line)));
    console.error(`sim: ${scenario.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return summary;
  });
  const wallSeconds = Math.round((performance.now() - started) / 1000);
  printReport(summaries);

  const info = machine();
  const command = QUICK ? "node --import tsx sim/placement/main.ts --quick" : "npm run sim:placement";
  const hours = summaries.reduce((sum, s) => sum + s.simulatedHours, 0);
  const opening = `${measuredBy(command, info)}: ${Math.round(hours * 10) / 10} h of simulated time in ${wallSeconds} s of wall time.`;
  const name = QUICK ? "placement-quick" : "placement";
  writeResults(join(RESULTS, `${name}.json`), { machine: info, quick: QUICK, wallSeconds, aims: aims(summaries), scenarios: summaries });
  writeFileSync(join(RESULTS, `${name}.md`), markdownReport(summaries, opening));
  console.log(`\nwrote sim/results/${name}.json and sim/results/${name}.md (${wallSeconds} s)`);
});
