// The program: every node of a Shop cluster runs this file with its own flags (the region comes from KAFFIX_REGION).

import { createShopApp } from "./app.js";

await createShopApp().run();
