// The node-to-node benchmark still runs: `--quick` mode, exit code only.

import { smokeTest } from "./support/bench-smoke.js";

smokeTest(["cross-node"]);
