/**
 * Browser code of the console: the live part. Polls /stats.json every second for the charts,
 * tiles and topic table (rates are differences of the counters), and /healthz every two seconds.
 *
 * Written as plain JavaScript in a raw string: the page has no build step.
 */
export const DASHBOARD_JS = String.raw`
const charts = {
  connections: new LiveChart(document.getElementById("chart-connections"), [
    { name: "connections", color: "#2563eb" },
  ]),
  messages: new LiveChart(document.getElementById("chart-messages"), [
    { name: "in/s", color: "#059669" },
    { name: "out/s", color: "#d97706" },
  ]),
  pubsub: new LiveChart(document.getElementById("chart-pubsub"), [
    { name: "published/s", color: "#7c3aed" },
    { name: "delivered/s", color: "#db2777" },
  ]),
};

const setText = (id, text) => (document.getElementById(id).textContent = text);

function duration(s) {
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

let previous = null;
async function pollStats() {
  let stats;
  try {
    const res = await fetch("/stats.json", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    stats = await res.json();
  } catch {
    setText("stats-state", "stats unavailable");
    previous = null;
    return;
  }
  setText("stats-state", "");
  const c = stats.counters;
  const rate = (name) => {
    if (!previous) return 0;
    const dt = (stats.time - previous.time) / 1000;
    const d = c[name] - previous.counters[name];
    return dt > 0 && d > 0 ? d / dt : 0; // a restarted server starts its counters again
  };
  const inRate = rate("frames_received_total"), outRate = rate("messages_sent_total");
  charts.connections.push([c.connections]);
  charts.messages.push([inRate, outRate]);
  charts.pubsub.push([rate("published_total"), rate("delivered_total")]);
  previous = stats;
  setText("t-connections", formatValue(c.connections));
  setText("t-in", formatValue(Math.round(inRate * 10) / 10));
  setText("t-out", formatValue(Math.round(outRate * 10) / 10));
  setText("t-subs", formatValue(c.subscriptions));
  setText("t-running", formatValue(c.running_commands));
  setText("t-workers", c.workers_busy + " / " + c.workers_size);
  setText("t-requests", formatValue(c.requests_total));
  setText("t-uptime", duration(c.uptime_seconds));
  const body = document.querySelector("#topics tbody");
  body.replaceChildren();
  for (const t of stats.topics) {
    const row = body.insertRow();
    row.insertCell().textContent = t.filter;
    row.insertCell().textContent = String(t.subscribers);
  }
  setText("topics-note", stats.topicCount === 0 ? "No subscriptions on this node"
    : stats.topicCount > stats.topics.length ? "The busiest " + stats.topics.length + " of " + stats.topicCount
    : stats.topicCount + (stats.topicCount === 1 ? " filter" : " filters") + " subscribed on this node");
}

async function pollHealth() {
  const badge = document.getElementById("health-badge");
  let h;
  try {
    h = await (await fetch("/healthz", { cache: "no-store" })).json();
  } catch {
    badge.textContent = "server unreachable";
    badge.className = "badge bad";
    return;
  }
  badge.textContent = h.status;
  badge.className = "badge " + (h.status === "ok" ? "good" : h.status === "degraded" ? "warn" : "bad");
  const rows = [
    ["status", h.status],
    ["uptime", duration(h.uptime)],
    ["connections", String(h.connections)],
    ["broker", h.broker.kind + (h.broker.healthy ? ", healthy" : ", unreachable")],
    ["workers", h.workers.size + " (busy " + h.workers.busy + ", queued " + h.workers.queued + ", stuck " + h.workers.stuck + ")"],
  ];
  const dl = document.getElementById("health");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    dl.append(dt, dd);
  }
  setText("t-broker", h.broker.kind + (h.broker.healthy ? "" : " ✗"));
  setText("health-time", "updated " + new Date().toLocaleTimeString());
}

pollStats();
pollHealth();
setInterval(pollStats, 1000);
setInterval(pollHealth, 2000);
`;
