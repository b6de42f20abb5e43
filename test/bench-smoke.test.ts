// Every in-process benchmark still runs: `--quick` mode of each, exit code only.

import { smokeTest } from "./support/bench-smoke.js";

smokeTest(["local", "codec", "transport", "control-lane", "membership-scale"]);
