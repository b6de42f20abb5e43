// Browser code, part 5: the placement plan and its recent moves, the membership timeline, and the dead letters.

export const CLIENT_PANELS = String.raw`
var MAX_MOVES = 30;
function nodeList(ids, highlight) {
  if (ids.length === 0) return h("span", { class: "empty", text: "none" });
  return h("span", { class: "mono" }, ids.map(function (id, i) {
    return h("span", { class: highlight && highlight.indexOf(id) < 0 ? "add" : null, text: (i ? ", " : "") + id });
  }));
}
function renderPlacement(st) {
  var p = st.now.placement;
  var box = $("placement");
  if (!p.enabled) {
    $("placement-round").textContent = "";
    box.replaceChildren(h("p", { class: "empty", text: "Placement is off on this node (--placement off): every service it may run is active." }));
    return;
  }
  $("placement-round").textContent = p.round
    ? "round at " + fmtTime(Date.parse(p.round.at)) + " · " + p.round.nodes + " nodes · every " + p.intervalMs / 1000 + " s"
    : "no round yet (the first waits one interval)";
  var rows = p.services.map(function (sv) {
    return h("tr", { "data-plan": sv.id }, [
      h("td", { class: "mono", text: sv.id }),
      h("td", null, nodeList(sv.planned, sv.running)),
      h("td", null, nodeList(sv.running)),
      h("td", { text: sv.replicas + " (" + sv.because + (sv.deferred ? "; waiting: " + sv.deferred : "") + ")" }),
    ]);
  });
  var table = h("table", null, [
    h("thead", null, h("tr", null, [h("th", { text: "Service" }), h("th", { text: "Planned on" }), h("th", { text: "Running on" }), h("th", { text: "Replicas (why)" })])),
    h("tbody", null, rows),
  ]);
  var pending = p.pending.length === 0 ? null : h("p", null, "Pending: " + p.pending.map(function (m) {
    return (m.action === "add" ? "+" : "−") + m.service + "@" + m.node + " (" + m.reason + ")";
  }).join(", "));
  var moves = p.history.slice(-MAX_MOVES).reverse().map(function (e) {
    return h("tr", { "data-move": e.service }, [
      h("td", { class: "mono", text: fmtTime(Date.parse(e.at)) }),
      h("td", { class: e.action, text: e.action === "add" ? "+ start" : "− stop" }),
      h("td", { class: "mono", text: e.service }),
      h("td", { class: "mono", text: e.node }),
      h("td", { text: e.reason }),
      h("td", { text: e.outcome }),
    ]);
  });
  var log = moves.length === 0
    ? h("p", { class: "empty", text: "No moves yet." })
    : h("table", { class: "moves" }, [
        h("thead", null, h("tr", null, ["When", "", "Service", "Node", "Reason", "Outcome"].map(function (t) { return h("th", { text: t }); }))),
        h("tbody", null, moves),
      ]);
  box.replaceChildren(table, pending || "", h("h2", { class: "moves", text: "Recent moves" }), log);
}
function renderTimeline(st) {
  var items = st.timeline.slice(-100).reverse().map(function (e) {
    var who = e.kind === "watching" ? "dashboard started watching: " + e.detail : e.node + (e.address ? " (" + e.address + ")" : "");
    return h("li", { "data-event": e.kind, "data-node": e.node || null }, [
      h("span", { class: "when", text: fmtTime(e.at) }),
      h("span", { class: "ev " + e.kind, text: e.kind }),
      h("span", { class: "mono", text: who }),
    ]);
  });
  $("timeline").replaceChildren.apply($("timeline"), items);
}
function renderDead(st) {
  var d = st.now.deadLetters;
  var totals = Object.keys(d.totalByService).filter(function (id) { return d.totalByService[id] > 0; }).sort();
  var box = $("dead");
  if (d.recent.length === 0 && totals.length === 0) {
    box.replaceChildren(h("p", { class: "empty", text: "None: every message on this node was processed or is still in progress." }));
    return;
  }
  var summary = h("p", null, "Since start: " + totals.map(function (id) { return id + " " + d.totalByService[id]; }).join(", "));
  var rows = d.recent.map(function (l) {
    return h("tr", { "data-dead-letter": l.service }, [
      h("td", { class: "mono", text: fmtTime(Date.parse(l.at)) }),
      h("td", { class: "mono", text: l.service }),
      h("td", null, [h("b", { class: "mono", text: l.code }), " " + l.error]),
      h("td", { class: "num", text: String(l.attempts) }),
      h("td", { class: "mono", text: l.message }),
    ]);
  });
  box.replaceChildren(summary, h("table", null, [
    h("thead", null, h("tr", null, ["When", "Service", "Error", "Attempts", "Message"].map(function (t) { return h("th", { text: t }); }))),
    h("tbody", null, rows),
  ]));
}
renderers.push(renderPlacement, renderTimeline, renderDead);
`;
