// PLACEHOLDER being replaced by the admin helper.
import type { Logger } from "pino";
import type { App } from "../app.js";
import type { HttpOptions } from "../core/start-options.js";
export interface AdminServer { readonly url: string; close(): Promise<void> }
export async function startAdminServer(app: App, http: Required<HttpOptions>, logger: Logger): Promise<AdminServer> {
  void app; void http; void logger;
  throw new Error("admin server not written yet");
}
