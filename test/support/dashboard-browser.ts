// Finds headless Chromium for the dashboard tests: Debian's `chromium` driven by playwright-core, or a reason to skip.

import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.KAFFIX_CHROMIUM ?? "/usr/bin/chromium";

/**
 * A launched browser, or why there is none (the test then skips with that message). A browser that
 * is there but fails to start is an error, not a skip.
 */
export async function launchChromium(): Promise<Browser | string> {
  if (!existsSync(CHROMIUM_PATH)) return `no browser at ${CHROMIUM_PATH} (apt-get install chromium, or set KAFFIX_CHROMIUM)`;
  let playwright: typeof import("playwright-core");
  try {
    playwright = await import("playwright-core");
  } catch {
    return "playwright-core is not installed (npm install)";
  }
  // Root in a container has no user namespace for Chromium's sandbox.
  return await playwright.chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ["--no-sandbox"] });
}
