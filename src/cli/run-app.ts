// PLACEHOLDER being replaced by the CLI helper.
import type { App } from "../app.js";
export async function runApp(app: App, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  void app; void argv; void env;
  throw new Error("run not written yet");
}
