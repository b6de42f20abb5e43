// The program: every node of a Double Number cluster runs this file with its own flags.

import { createApp } from "./app.js";

await createApp().run();
