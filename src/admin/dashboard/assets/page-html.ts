// The dashboard page: a skeleton of empty panels that the script fills; it holds no cluster data, so it is served without a token.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Kaffix dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/style.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header class="top">
  <div class="brand"><strong>Kaffix</strong> <span id="app-name">dashboard</span></div>
  <div id="summary" class="summary"></div>
  <div class="conn"><span id="conn-dot" class="dot"></span><span id="conn-text">connecting…</span></div>
</header>
<div id="auth" class="auth" hidden>
  <div class="auth-box">
    <h2>This node asks for the cluster token</h2>
    <p>Its admin endpoint is not on loopback, so every request needs <code>Authorization: Bearer &lt;token&gt;</code>.
    The token is kept in this tab only (sessionStorage) and sent in that header, never in a URL.</p>
    <p id="auth-error" class="error"></p>
    <input id="auth-token" type="password" autocomplete="off" spellcheck="false" placeholder="cluster token" aria-label="cluster token">
    <button id="auth-go" type="button">Connect</button>
  </div>
</div>
<main class="grid">
  <section class="panel wide" id="panel-map">
    <h2>Cluster <small>nodes by region: capacity, load, services running now (filled) and allowed (outlined)</small></h2>
    <div id="map" class="map"></div>
  </section>
  <section class="panel" id="panel-timeline">
    <h2>Membership <small>as this node saw it</small></h2>
    <ol id="timeline" class="timeline"></ol>
  </section>
  <section class="panel wide" id="panel-flow">
    <h2>Message flow <small>msg/s between services; <span class="key local">local</span> <span class="key cross">cross-node</span></small></h2>
    <div id="flow" class="flow"></div>
  </section>
  <section class="panel" id="panel-placement">
    <h2>Placement <small id="placement-round"></small></h2>
    <div id="placement"></div>
  </section>
  <section class="panel full" id="panel-services">
    <h2>Services <small>throughput and queue over the cluster; handler latency on this node</small></h2>
    <div id="services" class="services"></div>
  </section>
  <section class="panel full" id="panel-dead">
    <h2>Dead letters <small>on this node, newest first</small></h2>
    <div id="dead"></div>
  </section>
</main>
</body>
</html>
`;
