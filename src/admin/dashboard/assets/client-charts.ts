// Browser code, part 4: one card per service with small inline-SVG charts of the last minutes.

export const CLIENT_CHARTS = String.raw`
var CHART = { w: 300, h: 44 };
/** Polylines of one column; a missing value or a gap of several ticks (nobody was watching) breaks the line. */
function linesOf(t, values, start, end, max, cls) {
  var out = [], points = [], last = null;
  function flush() {
    if (points.length === 1) points.push((Number(points[0].split(",")[0]) + 1.5) + "," + points[0].split(",")[1]);
    if (points.length > 1) out.push(s("polyline", { class: cls, points: points.join(" ") }));
    points = [];
  }
  for (var i = 0; i < t.length; i++) {
    var v = values[i];
    if (v === null || v === undefined || (last !== null && t[i] - last > 3 * state.tickMs)) flush();
    if (v === null || v === undefined) { last = null; continue; }
    var x = ((t[i] - start) / (end - start)) * CHART.w;
    var y = CHART.h - 2 - (v / max) * (CHART.h - 4);
    points.push(x.toFixed(1) + "," + y.toFixed(1));
    last = t[i];
  }
  flush();
  return out;
}
function chart(st, label, columns, current, fmt) {
  // The axis spans the history there is (at least a minute), up to the whole window: a fresh page is not a sliver at the right.
  var t = st.series.t, end = st.now.at;
  var start = Math.max(end - st.windowMs, Math.min(t.length ? t[0] : end, end - 60000));
  var max = 0;
  columns.forEach(function (c) { (c || []).forEach(function (v) { if (v !== null && v > max) max = v; }); });
  if (!(max > 0)) max = 1;
  var svg = s("svg", { viewBox: "0 0 " + CHART.w + " " + CHART.h, preserveAspectRatio: "none" });
  columns.forEach(function (c, i) { linesOf(t, c || [], start, end, max, "s" + i).forEach(function (l) { svg.appendChild(l); }); });
  svg.appendChild(s("title", { text: label + ": since " + fmtTime(start) + ", top of the scale " + fmt(max) }));
  return h("div", { class: "chart" }, [h("div", { class: "label" }, [h("span", { text: label }), h("b", { text: current })]), svg]);
}
function serviceCard(st, sv) {
  var cols = st.series.services[sv.id] || {};
  var here = sv.here;
  var dead = st.now.deadLetters.totalByService[sv.id] || 0;
  return h("div", { class: "card", "data-service-card": sv.id }, [
    h("h3", null, [h("span", { class: "mono", text: sv.id }), h("small", { text: sv.replicas + (sv.replicas === 1 ? " replica" : " replicas") })]),
    h("div", { class: "charts" }, [
      chart(st, "msg/s", [cols.perSec], fmtNum(sv.perSec), fmtNum),
      chart(st, "p50 / p99", [cols.p50Ms, cols.p99Ms], sv.p50Ms === null ? "–" : fmtMs(sv.p50Ms) + " / " + fmtMs(sv.p99Ms), fmtMs),
      chart(st, "queued", [cols.queued], fmtNum(sv.queued), fmtNum),
    ]),
    h("div", { class: "counters" }, here
      ? ["on this node: processed ", h("b", { "data-counter": "processed", text: String(here.processed) }),
         " · failed ", h("b", { text: String(here.failed) }),
         " · in flight ", h("b", { text: String(here.inFlight) }),
         " · dead letters ", h("b", { text: String(dead) })]
      : ["not active on this node" + (dead ? " · dead letters here " + dead : "")]),
  ]);
}
function renderServices(st) {
  var cards = st.now.services.slice().sort(byId).map(function (sv) { return serviceCard(st, sv); });
  if (cards.length === 0) cards = [h("p", { class: "empty", text: "No services." })];
  $("services").replaceChildren.apply($("services"), cards);
}
renderers.push(renderServices);
`;
