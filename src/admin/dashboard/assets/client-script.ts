// The dashboard's browser script: its parts joined into one strict-mode function, so none of its names leak into the page.

import { CLIENT_CHARTS } from "./client-charts.js";
import { CLIENT_CORE } from "./client-core.js";
import { CLIENT_FLOW } from "./client-flow.js";
import { CLIENT_MAP } from "./client-map.js";
import { CLIENT_PANELS } from "./client-panels.js";

export const CLIENT_SCRIPT = ['"use strict";', "(function () {", CLIENT_CORE, CLIENT_MAP, CLIENT_FLOW, CLIENT_CHARTS, CLIENT_PANELS, "start();", "})();", ""].join(
  "\n",
);
