// Browser code, part 3: the message-flow graph, services in columns by depth and edges sized by messages per second.

export const CLIENT_FLOW = String.raw`
var FLOW = { width: 900, boxW: 170, boxH: 44, rowH: 70, pad: 24 };
/** Column per service: the longest chain of senders before it, ignoring edges that close a cycle. */
function flowColumns(ids, edges) {
  var out = {};
  ids.forEach(function (id) { out[id] = []; });
  edges.forEach(function (e) { if (e.from !== e.to) out[e.from].push(e.to); });
  var mark = {}, back = {};
  function visit(u) {
    mark[u] = 1;
    out[u].forEach(function (v) {
      if (mark[v] === 1) back[u + "\u0000" + v] = true;
      else if (!mark[v]) visit(v);
    });
    mark[u] = 2;
  }
  ids.forEach(function (id) { if (!mark[id]) visit(id); });
  var depth = {};
  ids.forEach(function (id) { depth[id] = 0; });
  for (var round = 0; round < ids.length; round++) {
    var changed = false;
    ids.forEach(function (u) {
      out[u].forEach(function (v) {
        if (!back[u + "\u0000" + v] && depth[v] < depth[u] + 1) { depth[v] = depth[u] + 1; changed = true; }
      });
    });
    if (!changed) break;
  }
  return depth;
}
function edgeWidth(rate) { return rate > 0 ? Math.min(14, 1.5 + 2.5 * Math.log10(1 + rate)) : 0; }
function renderFlow(st) {
  var services = st.now.services.slice().sort(byId);
  var info = {};
  services.forEach(function (sv) { info[sv.id] = sv; });
  var edges = st.now.edges.filter(function (e) { return e.perSec > 0; });
  edges.forEach(function (e) {
    [e.from, e.to].forEach(function (id) { if (!info[id]) { info[id] = { id: id, perSec: 0, replicas: 0, serviceTimeMs: 0 }; services.push(info[id]); } });
  });
  var ids = services.map(function (sv) { return sv.id; });
  var depth = flowColumns(ids, edges);
  var columns = [];
  ids.forEach(function (id) { (columns[depth[id]] = columns[depth[id]] || []).push(id); });
  var maxRows = Math.max.apply(null, columns.map(function (c) { return c ? c.length : 0; }).concat([1]));
  var colStep = columns.length > 1 ? (FLOW.width - 2 * FLOW.pad - FLOW.boxW) / (columns.length - 1) : 0;
  var height = 2 * FLOW.pad + maxRows * FLOW.rowH + 30;
  var pos = {};
  columns.forEach(function (col, c) {
    (col || []).forEach(function (id, r) {
      var offset = (maxRows - col.length) * FLOW.rowH / 2;
      pos[id] = { x: FLOW.pad + c * colStep, y: FLOW.pad + offset + r * FLOW.rowH };
    });
  });
  var svg = s("svg", { viewBox: "0 0 " + FLOW.width + " " + height, role: "img", "aria-label": "message flow between services" });
  svg.appendChild(s("defs", null, [arrow("arrow-local", "#2b6cb0"), arrow("arrow-cross", "#dd6b20")]));
  edges.forEach(function (e) { svg.appendChild(edgeGroup(e, pos[e.from], pos[e.to])); });
  services.forEach(function (sv) { svg.appendChild(serviceBox(sv, pos[sv.id])); });
  var children = [svg];
  if (edges.length === 0) children.push(h("p", { class: "empty", text: "No messages between services yet. Rates are gossiped every few seconds." }));
  $("flow").replaceChildren.apply($("flow"), children);
}
function arrow(id, color) {
  return s("marker", { id: id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto" },
    [s("path", { d: "M0,0 L10,5 L0,10 z", fill: color })]);
}
function edgePath(a, b, shift) {
  var y1 = a.y + FLOW.boxH / 2 + shift, y2 = b.y + FLOW.boxH / 2 + shift;
  if (b.x > a.x) {
    var x1 = a.x + FLOW.boxW, x2 = b.x - 2, dx = (x2 - x1) / 2;
    return { d: "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2, mx: (x1 + x2) / 2, my: (y1 + y2) / 2 };
  }
  // Same column or backwards (a cycle, or a reply path): arc below both boxes.
  var sx = a.x + FLOW.boxW * 0.65, tx = b.x + FLOW.boxW * 0.35, sy = a.y + FLOW.boxH, ty = b.y + FLOW.boxH + 2;
  var dip = Math.max(sy, ty) + 34 + Math.abs(shift);
  if (a === b) { sx = a.x + FLOW.boxW * 0.8; tx = a.x + FLOW.boxW * 0.6; }
  return { d: "M" + sx + "," + sy + " C" + sx + "," + dip + " " + tx + "," + dip + " " + tx + "," + ty, mx: (sx + tx) / 2, my: dip - 6 };
}
function edgeGroup(e, a, b) {
  var wl = edgeWidth(e.localPerSec), wc = edgeWidth(e.crossPerSec);
  var g = s("g", { class: "edge", "data-edge": e.from + "->" + e.to, "data-per-sec": e.perSec, "data-local-per-sec": e.localPerSec, "data-cross-per-sec": e.crossPerSec });
  var mid = null;
  if (wl > 0) {
    var pl = edgePath(a, b, wc > 0 ? -wc / 2 - 1 : 0);
    g.appendChild(s("path", { class: "local", d: pl.d, "stroke-width": wl, "marker-end": "url(#arrow-local)" }));
    mid = pl;
  }
  if (wc > 0) {
    var pc = edgePath(a, b, wl > 0 ? wl / 2 + 1 : 0);
    g.appendChild(s("path", { class: "cross", d: pc.d, "stroke-width": wc, "marker-end": "url(#arrow-cross)" }));
    mid = mid || pc;
  }
  var share = e.perSec > 0 ? Math.round((100 * e.crossPerSec) / e.perSec) : 0;
  var text = fmtNum(e.perSec) + "/s" + (share > 0 ? " · " + share + "% cross" : "");
  g.appendChild(s("text", { class: "edge-label", x: mid.mx, y: mid.my - Math.max(wl, wc) - 4, "text-anchor": "middle", text: text }));
  g.appendChild(s("title", { text: e.from + " → " + e.to + ": " + fmtNum(e.localPerSec) + "/s local, " + fmtNum(e.crossPerSec) + "/s cross-node" }));
  return g;
}
function serviceBox(sv, p) {
  var sub = fmtNum(sv.perSec) + " msg/s · " + sv.replicas + (sv.replicas === 1 ? " replica" : " replicas") + (sv.serviceTimeMs ? " · " + fmtMs(sv.serviceTimeMs) : "");
  return s("g", { class: "svc", "data-flow-service": sv.id, transform: "translate(" + p.x + "," + p.y + ")" }, [
    s("rect", { width: FLOW.boxW, height: FLOW.boxH, rx: 6 }),
    s("text", { x: 8, y: 17, text: clip(sv.id, 22) }),
    s("text", { class: "sub", x: 8, y: 34, text: sub }),
    s("title", { text: sv.id }),
  ]);
}
function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
renderers.push(renderFlow);
`;
