// The Kaffix-next-to-Moleculer benchmark still runs: `--quick` mode, exit code only.

import { smokeTest } from "./support/bench-smoke.js";

smokeTest(["compare"]);
