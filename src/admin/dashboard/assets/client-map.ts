// Browser code, part 2: the cluster map and the header summary: nodes grouped by region, their load and their services.

export const CLIENT_MAP = String.raw`
function stat(label, value, title) {
  return h("span", { title: title || null }, [label + " ", h("b", { text: value })]);
}
function nodeCard(n) {
  var running = {}, retiring = {};
  n.running.forEach(function (id) { running[id] = true; });
  n.retiring.forEach(function (id) { retiring[id] = true; });
  var ids = n.mayRun.slice();
  n.running.concat(n.retiring).forEach(function (id) { if (ids.indexOf(id) < 0) ids.push(id); });
  ids.sort();
  var cap = n.capacity;
  var lag = n.lagMs;
  return h("div", { class: "node " + n.state, "data-node": n.id, "data-state": n.state }, [
    h("div", { class: "node-head" }, [
      h("span", { class: "id mono", text: n.id, title: "incarnation " + n.incarnation }),
      h("span", { class: "badge " + n.state, text: n.state }),
      n.self ? h("span", { class: "badge self", text: "this node" }) : null,
      h("span", { class: "mono", text: n.address }),
    ]),
    h("div", { class: "stats" }, [
      stat("cores", cap ? cap.cores + (cap.weight !== 1 ? " ×" + cap.weight : "") : "–", "cores × --weight"),
      stat("mem", cap ? fmtBytes(cap.memoryBytes) : "–"),
      stat("lag", lag ? fmtMs(lag.mean) + " / " + fmtMs(lag.p99) : "–", "event-loop delay, mean / p99"),
      stat("rtt", n.self ? "—" : fmtMs(n.rttMs), "round trip estimated from network coordinates"),
      stat("busy", (n.busyMeasured ? "" : "≈") + fmtNum(n.busy), n.busyMeasured ? "handlers running now" : "handlers busy on average: arrival × service time, from gossip"),
      stat("queued", fmtNum(n.queued), "messages waiting for a handler"),
    ]),
    h("div", { class: "chips" }, ids.map(function (id) {
      var kind = retiring[id] ? " retiring" : running[id] ? " running" : "";
      var title = retiring[id] ? "draining: placement moved it away" : running[id] ? "active here now" : "may run here, not active now";
      return h("span", { class: "chip" + kind, "data-service": id, "data-running": String(!!running[id]), title: title, text: id });
    })),
  ]);
}
function renderMap(st) {
  var groups = {};
  st.now.nodes.forEach(function (n) { (groups[n.region] = groups[n.region] || []).push(n); });
  var regions = Object.keys(groups).sort();
  var out = regions.map(function (region) {
    var nodes = groups[region].sort(byId);
    var live = nodes.filter(function (n) { return n.state === "alive" || n.state === "suspect"; }).length;
    return h("div", { class: "region", "data-region": region }, [
      h("h3", { text: region + " · " + live + " of " + nodes.length + " live" }),
    ].concat(nodes.map(nodeCard)));
  });
  if (st.now.nodesOmitted > 0) out.push(h("p", { class: "empty", text: st.now.nodesOmitted + " more members not shown" }));
  $("map").replaceChildren.apply($("map"), out);
}
function renderSummary(st) {
  var n = st.now;
  var counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
  n.nodes.forEach(function (m) { counts[m.state] = (counts[m.state] || 0) + 1; });
  var d = n.self.delivery;
  function item(label, value, title) { return h("span", { title: title || null }, [label + " ", h("b", { text: value })]); }
  $("app-name").textContent = n.app.name + " " + n.app.version;
  document.title = n.app.name + " · Kaffix";
  $("summary").replaceChildren(
    item("node", n.self.id + (n.self.state !== "running" ? " (" + n.self.state + ")" : ""), "the node serving this page"),
    item("members", counts.alive + " alive" + (counts.suspect ? ", " + counts.suspect + " suspect" : "") + (counts.dead ? ", " + counts.dead + " dead" : "") + (counts.left ? ", " + counts.left + " left" : "")),
    item("sent", fmtNum(d.sent), "messages this node sent to other nodes"),
    item("received", fmtNum(d.received), "messages from other nodes accepted here"),
    item("rerouted", fmtNum(d.rerouted), "moved to another node because theirs died, left or refused them"),
    item("duplicates", fmtNum(d.duplicates), "redeliveries recognized and not run again"),
    item("outbox", fmtNum(d.outbox), "held for peers until they finish them")
  );
}
renderers.push(renderSummary, renderMap);
`;
