// The dashboard's stylesheet: system fonts only, one light theme, laid out for a laptop screen.

export const PAGE_CSS = `
:root {
  --bg: #f4f5f7; --panel: #fff; --ink: #1d2330; --muted: #667085; --line: #d9dde5;
  --alive: #1f9d55; --suspect: #d97706; --dead: #c53030; --left: #8a94a6;
  --local: #2b6cb0; --cross: #dd6b20; --p99: #9f3a9f;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
h2 { font-size: 14px; margin: 0 0 8px; }
h2 small { font-weight: normal; color: var(--muted); margin-left: 6px; }
.top { display: flex; align-items: center; gap: 16px; padding: 8px 16px; background: #1d2330; color: #fff; position: sticky; top: 0; z-index: 2; }
.brand strong { font-size: 15px; }
.summary { flex: 1; display: flex; gap: 14px; flex-wrap: wrap; color: #cfd6e4; }
.summary b { color: #fff; }
.conn { display: flex; align-items: center; gap: 6px; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: var(--left); display: inline-block; }
.dot.live { background: var(--alive); }
.dot.down { background: var(--dead); }
.grid { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 12px; padding: 12px 16px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
.panel.full { grid-column: 1 / -1; }
#panel-timeline, #panel-placement { max-height: 460px; overflow: auto; }
@media (max-width: 1000px) { .grid { grid-template-columns: minmax(0, 1fr); } }
.empty { color: var(--muted); font-style: italic; }
.error { color: var(--dead); }

.map { display: flex; gap: 10px; flex-wrap: wrap; align-items: flex-start; }
.region { border: 1px dashed var(--line); border-radius: 6px; padding: 6px; flex: 1 1 260px; min-width: 240px; }
.region > h3 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.node { border: 2px solid var(--alive); border-radius: 6px; padding: 6px 8px; margin-bottom: 6px; background: #fff; }
.node.suspect { border-color: var(--suspect); background: #fff8eb; }
.node.dead { border-color: var(--dead); background: repeating-linear-gradient(135deg, #fff5f5, #fff5f5 8px, #fde8e8 8px, #fde8e8 16px); }
.node.left { border-color: var(--left); border-style: dashed; background: #f2f3f5; }
.node.dead .stats, .node.left .stats, .node.dead .chips, .node.left .chips { opacity: .45; }
.node-head { display: flex; gap: 6px; align-items: baseline; flex-wrap: wrap; }
.node-head .id { font-weight: 600; }
.badge { font-size: 11px; border-radius: 3px; padding: 0 5px; color: #fff; background: var(--alive); text-transform: uppercase; }
.badge.suspect { background: var(--suspect); }
.badge.dead { background: var(--dead); }
.badge.left { background: var(--left); }
.badge.self { background: #44506a; }
.stats { display: grid; grid-template-columns: repeat(3, auto); gap: 2px 10px; margin: 4px 0; color: var(--muted); }
.stats b { color: var(--ink); font-weight: 600; white-space: nowrap; }
.chips { display: flex; gap: 4px; flex-wrap: wrap; }
.chip { font-size: 11px; padding: 1px 6px; border-radius: 10px; border: 1px solid var(--local); color: var(--local); }
.chip.running { background: var(--local); color: #fff; }
.chip.retiring { background: repeating-linear-gradient(135deg, #fdebd3, #fdebd3 4px, #fff 4px, #fff 8px); border-color: var(--cross); color: var(--cross); }

.flow svg { width: 100%; height: auto; display: block; }
.flow .svc rect { fill: #eef3fb; stroke: var(--local); }
.flow .svc text { font-size: 12px; fill: var(--ink); }
.flow .svc .sub { fill: var(--muted); font-size: 11px; }
.flow path.local { stroke: var(--local); fill: none; opacity: .8; }
.flow path.cross { stroke: var(--cross); fill: none; opacity: .85; stroke-dasharray: 6 3; }
.flow .edge-label { font-size: 11px; fill: var(--ink); paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.key { padding: 0 6px; border-radius: 3px; color: #fff; }
.key.local { background: var(--local); }
.key.cross { background: var(--cross); }

table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.moves { margin-top: 8px; }
.add { color: var(--alive); font-weight: 600; }
.remove { color: var(--dead); font-weight: 600; }

.timeline { list-style: none; margin: 0; padding: 0; }
.timeline li { display: grid; grid-template-columns: 64px 84px 1fr; gap: 6px; padding: 2px 0; border-bottom: 1px solid #eef0f3; }
.timeline .when { color: var(--muted); font-variant-numeric: tabular-nums; }
.ev { font-weight: 600; }
.ev.joined, .ev.recovered, .ev.rejoined { color: var(--alive); }
.ev.suspected { color: var(--suspect); }
.ev.died { color: var(--dead); }
.ev.left, .ev.forgotten, .ev.watching { color: var(--left); }

.services { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; }
.card h3 { margin: 0 0 4px; font-size: 13px; display: flex; justify-content: space-between; gap: 8px; }
.card h3 small { color: var(--muted); font-weight: normal; }
.charts { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.4fr) minmax(0, 1fr); gap: 6px; }
.chart .label { font-size: 11px; color: var(--muted); display: flex; justify-content: space-between; gap: 4px; white-space: nowrap; }
.chart .label span { overflow: hidden; text-overflow: ellipsis; }
.chart .label b { color: var(--ink); }
.chart svg { width: 100%; height: 44px; display: block; background: #fafbfc; border: 1px solid #eef0f3; }
.chart polyline { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.chart .s0 { stroke: var(--local); }
.chart .s1 { stroke: var(--p99); }
.counters { color: var(--muted); font-size: 11px; margin-top: 4px; }
.counters b { color: var(--ink); }

.auth { position: fixed; inset: 0; background: rgba(29, 35, 48, .55); display: flex; align-items: center; justify-content: center; z-index: 5; }
.auth[hidden] { display: none; }
.auth-box { background: #fff; padding: 18px 20px; border-radius: 8px; max-width: 460px; }
.auth-box input { width: 100%; padding: 6px 8px; margin: 6px 0 10px; font: inherit; }
.auth-box button { padding: 6px 14px; font: inherit; }
`;
