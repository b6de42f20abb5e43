// Browser code, part 1: DOM helpers, formatting, the token prompt, and the event stream read with fetch (so it can carry the token).

export const CLIENT_CORE = String.raw`
var EVENTS_URL = "/dashboard/events";
var TOKEN_KEY = "kaffix.dashboard.token";
var MAX_BUFFER_CHARS = 16 * 1024 * 1024;
var MAX_TIMELINE = 200;
var state = { now: null, series: { t: [], services: {} }, timeline: [], windowMs: 300000, tickMs: 1000 };
var renderers = [];
var retryMs = 1000;

function $(id) { return document.getElementById(id); }
var SVG_NS = "http://www.w3.org/2000/svg";
function setAttrs(el, attrs) {
  if (!attrs) return;
  Object.keys(attrs).forEach(function (k) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) return;
    if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, String(v));
  });
}
function append(el, children) {
  if (children === undefined || children === null) return;
  if (!Array.isArray(children)) children = [children];
  children.forEach(function (c) {
    if (c === null || c === undefined || c === false) return;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  });
}
/** Every text goes through textContent: names and error messages from the cluster are never parsed as HTML. */
function h(tag, attrs, children) { var el = document.createElement(tag); setAttrs(el, attrs); append(el, children); return el; }
function s(tag, attrs, children) { var el = document.createElementNS(SVG_NS, tag); setAttrs(el, attrs); append(el, children); return el; }

function fmtNum(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  var a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  if (a === 0 || a >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(2)));
}
function fmtMs(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (v < 1) return Number((v * 1000).toPrecision(2)) + " µs";
  if (v < 1000) return Number(v.toPrecision(3)) + " ms";
  return Number((v / 1000).toPrecision(3)) + " s";
}
function fmtBytes(b) {
  if (!b) return "–";
  var gib = b / 1073741824;
  return gib >= 1 ? Number(gib.toPrecision(3)) + " GiB" : Math.round(b / 1048576) + " MiB";
}
function pad(n) { return n < 10 ? "0" + n : String(n); }
function fmtTime(ms) {
  var d = new Date(ms);
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}
function byId(a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; }

function setConn(kind, text) {
  $("conn-dot").className = "dot " + kind;
  $("conn-text").textContent = text;
}
function storedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
}
function askToken(message) {
  setConn("down", "needs the cluster token");
  $("auth-error").textContent = message || "";
  $("auth").hidden = false;
  $("auth-token").focus();
}
function submitToken() {
  var value = $("auth-token").value.trim();
  if (!value) return;
  try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: this page load only */ memoryToken = value; }
  $("auth-token").value = "";
  $("auth").hidden = true;
  connect();
}
var memoryToken = null;

async function errorText(res) {
  try { var body = await res.json(); return body && body.message ? String(body.message) : res.statusText; } catch (e) { return res.statusText; }
}

async function connect() {
  var token = storedToken() || memoryToken;
  var headers = { accept: "text/event-stream" };
  if (token) headers.authorization = "Bearer " + token;
  setConn("", "connecting…");
  try {
    var res = await fetch(EVENTS_URL, { headers: headers, cache: "no-store", credentials: "omit" });
    if (res.status === 401) {
      var why = await errorText(res);
      askToken(token ? "The node refused this token: " + why : "");
      return;
    }
    if (!res.ok || !res.body) throw new Error("HTTP " + res.status + ": " + (await errorText(res)));
    retryMs = 1000;
    await readEvents(res.body);
    lost("the node closed the stream");
  } catch (e) {
    lost(e && e.message ? e.message : String(e));
  }
}
function lost(why) {
  setConn("down", "disconnected (" + why + "); retrying in " + Math.round(retryMs / 1000) + " s");
  setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 10000);
}
async function readEvents(body) {
  var reader = body.getReader();
  var decoder = new TextDecoder();
  var buffer = "";
  for (;;) {
    var part = await reader.read();
    if (part.done) return;
    buffer += decoder.decode(part.value, { stream: true });
    var at;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      var block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      onEvent(block);
    }
    if (buffer.length > MAX_BUFFER_CHARS) { reader.cancel(); throw new Error("an event was too large"); }
  }
}
function onEvent(block) {
  var name = "message";
  var data = [];
  block.split("\n").forEach(function (line) {
    if (line.indexOf("event:") === 0) name = line.slice(6).trim();
    else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
  });
  if (data.length === 0) return;
  var message = JSON.parse(data.join("\n"));
  if (name === "full") applyFull(message);
  else if (name === "tick") applyTick(message);
  else return;
  setConn("live", "live · " + fmtTime(state.now.at));
  // A hidden tab keeps its state current but draws nothing until it is shown again.
  if (!document.hidden) render();
}
function applyFull(m) {
  state.now = m.now;
  state.series = m.series;
  state.timeline = m.timeline.slice();
  state.windowMs = m.windowMs;
  state.tickMs = m.tickMs;
}
function applyTick(m) {
  var series = state.series;
  var fields = ["perSec", "queued", "p50Ms", "p99Ms"];
  Object.keys(m.point.services).forEach(function (id) {
    if (series.services[id]) return;
    var cols = {};
    fields.forEach(function (f) { cols[f] = series.t.map(function () { return null; }); });
    series.services[id] = cols;
  });
  series.t.push(m.point.t);
  Object.keys(series.services).forEach(function (id) {
    var p = m.point.services[id];
    fields.forEach(function (f) { series.services[id][f].push(p ? p[f] : null); });
  });
  var drop = 0;
  while (drop < series.t.length && series.t[drop] < m.point.t - state.windowMs) drop++;
  if (drop > 0) {
    series.t.splice(0, drop);
    Object.keys(series.services).forEach(function (id) { fields.forEach(function (f) { series.services[id][f].splice(0, drop); }); });
  }
  state.now = m.now;
  state.timeline = state.timeline.concat(m.timeline).slice(-MAX_TIMELINE);
}
function render() {
  renderers.forEach(function (fn) {
    try { fn(state); } catch (e) { console.error("dashboard: a panel failed to draw", e); }
  });
}
function start() {
  $("auth-go").addEventListener("click", submitToken);
  $("auth-token").addEventListener("keydown", function (e) { if (e.key === "Enter") submitToken(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden && state.now) render(); });
  connect();
}
`;
