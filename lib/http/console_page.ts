/**
 * The web console served at `GET /`: an operator's dashboard in one static page with no build
 * step and nothing fetched from elsewhere (its Content-Security-Policy forbids it). Live charts of
 * connections and message rates from /stats.json, the topics in use, health refreshed live, the
 * WebSocket's reconnects, a form per command generated from /asyncapi.json, subscribe and
 * publish, who is present on a topic, and a message log. The browser code is in ./console/.
 */
import { CHART_JS } from "./console/chart.ts";
import { FORMS_JS } from "./console/forms.ts";
import { DASHBOARD_JS } from "./console/dashboard.ts";
import { APP_JS } from "./console/app.ts";
import { API_JS } from "./console/api_panel.ts";
import { PRESENCE_JS } from "./console/presence.ts";

const CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  "connect-src 'self' ws: wss:",
  "img-src data:",
].join("; ");

const STYLE = `
  :root { --bg: #f4f6f9; --card: #fff; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
    --good: #059669; --warn: #d97706; --bad: #dc2626; --accent: #2563eb; }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: var(--bg); color: var(--ink); }
  header { display: flex; gap: .8rem; align-items: center; padding: .7rem 1.2rem; background: #111827;
    color: #f9fafb; position: sticky; top: 0; z-index: 1; }
  header h1 { font-size: 1.1rem; margin: 0 auto 0 0; letter-spacing: .02em; }
  header .muted { color: #9ca3af; }
  main { padding: 1rem 1.2rem; display: grid; gap: 1rem; max-width: 1400px; margin: 0 auto; }
  h2 { font-size: .95rem; margin: 0 0 .6rem; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem;
    box-shadow: 0 1px 2px rgb(0 0 0 / .04); min-width: 0; }
  .badge { padding: .15rem .6rem; border-radius: 999px; font-size: .8rem; background: #374151; }
  .badge.good { background: var(--good); } .badge.warn { background: var(--warn); }
  .badge.bad { background: var(--bad); } .badge.connecting { background: #4b5563; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: .6rem; }
  .tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .8rem; }
  .tile span { display: block; color: var(--muted); font-size: .75rem; text-transform: uppercase; }
  .tile b { font-size: 1.35rem; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1rem; }
  figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .3rem; }
  canvas { width: 100%; height: 170px; display: block; }
  .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .4rem;
    border-bottom: 1px solid var(--line); } td:last-child, th:last-child { text-align: right; width: 7rem; }
  td:first-child { font-family: ui-monospace, monospace; }
  .scroll { max-height: 16rem; overflow: auto; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
  dt { color: var(--muted); } dd { margin: 0; }
  .muted { color: var(--muted); font-size: .85rem; } p:empty { display: none; }
  details.command { border: 1px solid var(--line); border-radius: 6px; margin-bottom: .4rem; padding: .3rem .6rem; }
  details.command summary { cursor: pointer; }
  form label { display: grid; grid-template-columns: 8rem 1fr; gap: .1rem .6rem; margin: .4rem 0; }
  form label small { grid-column: 2; color: var(--muted); }
  input, select, textarea { font: inherit; padding: .25rem .4rem; border: 1px solid #cbd5e1; border-radius: 4px; }
  textarea { width: 100%; height: 4.5rem; font-family: ui-monospace, monospace; font-size: .85rem; }
  button { font: inherit; padding: .3rem .8rem; border-radius: 4px; border: 1px solid var(--accent);
    background: var(--accent); color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: var(--accent); }
  .result { margin-top: .4rem; font-size: .9rem; } .result pre { max-height: 10rem; overflow: auto; }
  .code { font-weight: 700; padding: 0 .35rem; border-radius: 3px; color: #fff; background: var(--muted); }
  .code.c2 { background: var(--good); } .code.c4 { background: var(--bad); } .code.c5 { background: var(--warn); }
  .issues { margin: .3rem 0 0; padding-left: 1.2rem; color: var(--bad); }
  .chip { display: inline-block; font-family: ui-monospace, monospace; background: #eef2ff; color: #3730a3;
    border-radius: 4px; padding: 0 .4rem; margin: 0 .3rem .3rem 0; }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin: .4rem 0; }
  #log { font: 12px/1.45 ui-monospace, monospace; height: 18rem; overflow: auto; background: #0f172a;
    color: #cbd5e1; border-radius: 6px; padding: .5rem; white-space: pre-wrap; word-break: break-all; }
  #log .in { color: #86efac; } #log .out { color: #93c5fd; } #log .err { color: #fca5a5; } #log .sys { color: #fcd34d; }
`;

const SEED = '{"mode":"req_res","action":"req","src":"front","command":"web"}';

/** The console page. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,">
<title>Switchboard console</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>Switchboard</h1>
  <span class="muted">socket</span><span id="conn" class="badge connecting">connecting…</span>
  <span class="muted">reconnects <b id="reconnects">0</b></span>
  <span class="muted">health</span><span id="health-badge" class="badge">…</span>
</header>
<main>
  <section class="tiles">
    <div class="tile"><span>Connections</span><b id="t-connections">–</b></div>
    <div class="tile"><span>Messages in/s</span><b id="t-in">–</b></div>
    <div class="tile"><span>Messages out/s</span><b id="t-out">–</b></div>
    <div class="tile"><span>Subscriptions</span><b id="t-subs">–</b></div>
    <div class="tile"><span>Requests</span><b id="t-requests">–</b></div>
    <div class="tile"><span>Running</span><b id="t-running">–</b></div>
    <div class="tile"><span>Workers busy</span><b id="t-workers">–</b></div>
    <div class="tile"><span>Broker</span><b id="t-broker">–</b></div>
    <div class="tile"><span>Uptime</span><b id="t-uptime">–</b></div>
  </section>
  <section class="charts">
    <figure class="card"><figcaption>Connections</figcaption><canvas id="chart-connections"></canvas></figure>
    <figure class="card"><figcaption>Messages per second</figcaption><canvas id="chart-messages"></canvas></figure>
    <figure class="card"><figcaption>Pub/sub per second</figcaption><canvas id="chart-pubsub"></canvas></figure>
  </section>
  <p class="muted" id="stats-state"></p>
  <section class="grid2">
    <div class="card"><h2>Topics in use</h2>
      <div class="scroll"><table id="topics"><thead><tr><th>Filter</th><th>Subscribers</th></tr></thead><tbody></tbody></table></div>
      <p class="muted" id="topics-note"></p></div>
    <div class="card"><h2>Health</h2><dl id="health"></dl><p class="muted" id="health-time"></p></div>
  </section>
  <section class="grid2">
    <div class="card"><h2>Commands</h2><div id="forms" class="muted">loading /asyncapi.json…</div></div>
    <div class="card"><h2>Subscribe and publish</h2>
      <form id="sub-form" class="row">
        <input id="sub-filter" value="#" size="24" aria-label="Topic filters, comma-separated">
        <button value="sub">Subscribe</button><button value="unsub" class="secondary">Unsubscribe</button>
        <span id="sub-result" class="muted"></span>
      </form>
      <div class="row"><span class="muted">This page subscribes to</span><span id="my-subs"></span></div>
      <form id="pub-form">
        <div class="row"><input id="pub-topic" placeholder="topic" size="18" aria-label="Topic">
          <input id="pub-msg" placeholder="msg" size="18" aria-label="Message text">
          <label class="muted" style="display:inline"><input type="checkbox" id="pub-retain"> retain</label></div>
        <textarea id="pub-data" placeholder="data (JSON)" aria-label="Data as JSON"></textarea>
        <div class="row"><button>Publish</button><span id="pub-result" class="muted"></span></div>
      </form>
    </div>
  </section>
  <section class="card"><h2>Backend API</h2>
    <form id="api-form">
      <div class="row"><input id="api-key" type="password" autocomplete="off" placeholder="API key" size="28" aria-label="API key">
        <button id="api-forget" class="secondary">Forget key</button>
        <select id="api-method" aria-label="API method"></select><span id="api-state" class="muted"></span></div>
      <textarea id="api-body" aria-label="Request body as JSON">{}</textarea>
      <div class="row"><button>Call</button><span class="muted">the key stays in this tab only</span></div>
    </form>
    <pre id="api-result" class="result"></pre>
  </section>
  <section class="card"><h2>Presence</h2>
    <form id="presence-form" class="row"><input id="presence-topic" placeholder="topic, e.g. panels/7" size="24"
      aria-label="Topic to show who is present on"><button>Who is here</button></form>
    <div class="scroll"><table id="presence"><thead><tr><th>Client</th><th>User</th><th>Src</th><th>Info</th></tr></thead>
      <tbody></tbody></table></div>
    <p class="muted" id="presence-note"></p>
  </section>
  <section class="card"><h2>Messages</h2>
    <div class="row"><button id="heartbeat">Heartbeat</button><span id="hb-result" class="muted"></span>
      <button id="clear-log" class="secondary">Clear log</button></div>
    <form id="raw-form"><textarea id="raw" aria-label="Any message as JSON">${SEED}</textarea>
      <div class="row"><button>Send</button></div></form>
    <div id="log" aria-live="polite"></div>
  </section>
</main>
<script type="module">${CHART_JS}${FORMS_JS}${DASHBOARD_JS}${APP_JS}${API_JS}${PRESENCE_JS}</script>
</body>
</html>
`;
