// What `npm start` runs: one local node with a fixed development token and the admin endpoint on port 8080.

import { createApp, saveNumbersFile } from "./app.js";

// Public on purpose, so anyone can try the example; a node started with it is open to anyone who reads this file.
const DEV_TOKEN = "kaffix-dev-token-not-for-production";

process.stdout.write(
  [
    "",
    "  DEVELOPMENT MODE: using the public token " + JSON.stringify(DEV_TOKEN) + ".",
    "  Never use it in production: run `kaffix token` and pass the result with --token or KAFFIX_TOKEN.",
    "",
    "",
  ].join("\n"),
);

const app = createApp();
await app.run(["--token", DEV_TOKEN, "--http", "8080", ...process.argv.slice(2)]);

const admin = app.httpUrl ?? "http://127.0.0.1:8080";
process.stdout.write(
  [
    "",
    "Try it:",
    `  curl -X POST ${admin}/publish/DoubleNumberService -H 'content-type: application/json' -d '{"number": 21}'`,
    `Doubled numbers are appended to ${saveNumbersFile()}`,
    "Press Ctrl-C to stop.",
    "",
    "",
  ].join("\n"),
);
