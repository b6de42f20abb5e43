// The dashboard's admin routes: the page and its two assets (no cluster data, so no token), and the live event stream (token rule applies).

import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Route, RouteContext } from "../routes.js";
import { CLIENT_SCRIPT } from "./assets/client-script.js";
import { PAGE_CSS } from "./assets/page-css.js";
import { PAGE_HTML } from "./assets/page-html.js";

export const EVENTS_PATH = "/dashboard/events";

/**
 * Scripts and styles only from this node, no inline code, no frames, no form posts: a node name
 * or an error message that slipped past escaping still could not run anything, and the token
 * input can never be submitted into a URL.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  readonly body: Buffer;
  readonly etag: string;
  readonly headers: Readonly<Record<string, string>>;
}

function asset(text: string, contentType: string, extra: Record<string, string> = {}): Asset {
  const body = Buffer.from(text);
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  return {
    body,
    etag,
    headers: {
      "content-type": contentType,
      // Revalidated on every load (answered 304 when unchanged): a node upgraded in place serves its new page at once.
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      etag,
      ...extra,
    },
  };
}

function serve(res: ServerResponse, a: Asset, ifNoneMatch: string | undefined): void {
  if (ifNoneMatch !== undefined && ifNoneMatch.split(",").some((tag) => tag.trim() === a.etag)) {
    res.writeHead(304, a.headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...a.headers, "content-length": String(a.body.length) });
  res.end(a.body);
}

function staticRoute(a: Asset): Route {
  return {
    methods: ["GET", "HEAD"],
    public: true,
    async handle({ req, res }: RouteContext) {
      serve(res, a, req.headers["if-none-match"]);
    },
  };
}

const PAGE = asset(PAGE_HTML, "text/html; charset=utf-8", {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-frame-options": "DENY",
});

export const dashboardRoutes: ReadonlyMap<string, Route> = new Map([
  ["/", staticRoute(PAGE)],
  ["/dashboard/app.js", staticRoute(asset(CLIENT_SCRIPT, "text/javascript; charset=utf-8"))],
  ["/dashboard/style.css", staticRoute(asset(PAGE_CSS, "text/css; charset=utf-8"))],
  [
    EVENTS_PATH,
    {
      methods: ["GET"],
      async handle({ dashboard, res }: RouteContext) {
        dashboard.open(res);
      },
    },
  ],
]);
