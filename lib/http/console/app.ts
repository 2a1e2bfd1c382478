/**
 * Browser code of the console: the WebSocket (reconnecting with backoff, the count shown), the
 * message log, the heartbeat, subscribe and publish, the raw message box, and the command forms
 * loaded from /asyncapi.json.
 *
 * Written as plain JavaScript in a raw string: the page has no build step.
 */
export const APP_JS = String.raw`
const $ = (id) => document.getElementById(id);
const page = new URL(location.href);
const MAX_LOG_LINES = 500;

/** Appends a line to the message log: "out" (sent), "in" (received), "sys" or "err". */
function logLine(cls, text) {
  const log = $("log");
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = (cls === "out" ? "→ " : cls === "in" ? "← " : "• ") + text;
  const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(div);
  while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
  if (follow) log.scrollTop = log.scrollHeight;
}

let ws = null;
let attempt = 0;
let reconnects = 0;
let everOpen = false;
let nextId = 1;
const pending = new Map(); // request id → callback for each reply
let subscribed = []; // the filters the server last acknowledged for this page

function setConn(state, text) {
  const badge = $("conn");
  badge.textContent = text;
  badge.className = "badge " + state;
  badge.dataset.state = state;
}

function connect() {
  const url = new URL("/", page);
  url.protocol = page.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.searchParams.set("src", "console");
  // A ?token= on the page URL is passed on, for servers that require one.
  if (page.searchParams.get("token")) url.searchParams.set("token", page.searchParams.get("token"));
  setConn("connecting", attempt ? "reconnecting…" : "connecting…");
  const socket = new WebSocket(url);
  ws = socket;
  socket.onopen = () => {
    if (everOpen) {
      reconnects++;
      $("reconnects").textContent = String(reconnects);
      logLine("sys", "Reconnected (" + reconnects + (reconnects === 1 ? " reconnect)" : " reconnects)"));
    }
    everOpen = true;
    attempt = 0;
    setConn("good", "connected");
    // The server forgets a closed socket's subscriptions: take them up again.
    if (subscribed.length) send({ mode: "pub_sub", action: "sub", src: "console", id: "c" + nextId++, topic: subscribed });
  };
  socket.onmessage = (e) => {
    for (const line of String(e.data).split("\n")) {
      if (line) receive(line);
    }
  };
  socket.onclose = (e) => {
    if (ws !== socket) return;
    ws = null;
    const delay = Math.min(10000, 500 * 2 ** attempt++);
    setConn("bad", "closed (" + e.code + "), retry in " + Math.round(delay / 100) / 10 + " s");
    logLine("sys", "Connection closed (" + e.code + (e.reason ? ": " + e.reason : "") + ")");
    for (const done of pending.values()) done({ code: 503, msg: "Connection closed before the reply" });
    pending.clear();
    setTimeout(connect, delay);
  };
}

function receive(text) {
  logLine("in", text);
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return;
  }
  if (msg.action === "ack" && msg.code === 200 && Array.isArray(msg.data)) {
    subscribed = msg.data;
    showSubscriptions();
  }
  const done = msg.id !== undefined ? pending.get(msg.id) : undefined;
  if (done && msg.action !== "pub") {
    done(msg);
    if (!msg.more) pending.delete(msg.id);
  }
}

/** Sends a message; false when not connected. */
function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    logLine("err", "Not connected");
    return false;
  }
  const text = typeof msg === "string" ? msg : JSON.stringify(msg);
  ws.send(text);
  logLine("out", text);
  return true;
}

/** Sends a message with a fresh id; its replies go to onReply. */
function call(msg, onReply) {
  const id = "c" + nextId++;
  pending.set(id, onReply);
  if (send({ ...msg, id })) return true;
  pending.delete(id);
  return false;
}

function showSubscriptions() {
  const box = $("my-subs");
  box.replaceChildren();
  for (const filter of subscribed) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = filter;
    box.append(chip);
  }
  if (!subscribed.length) box.textContent = "none";
}

$("heartbeat").onclick = () => {
  const started = performance.now();
  const ok = call({ mode: "req_res", action: "req", src: "console", command: "web" }, (reply) => {
    const ms = Math.round(performance.now() - started);
    $("hb-result").textContent = reply.code + " " + reply.msg + " in " + ms + " ms";
  });
  if (!ok) $("hb-result").textContent = "not connected";
};

const filters = () => $("sub-filter").value.split(",").map((s) => s.trim()).filter(Boolean);
$("sub-form").onsubmit = (e) => {
  e.preventDefault();
  const action = e.submitter && e.submitter.value === "unsub" ? "unsub" : "sub";
  call({ mode: "pub_sub", action, src: "console", topic: filters() }, (ack) => {
    $("sub-result").textContent = ack.code + " " + ack.msg;
  });
};

$("pub-form").onsubmit = (e) => {
  e.preventDefault();
  let data;
  const text = $("pub-data").value.trim();
  try {
    data = text === "" ? undefined : JSON.parse(text);
  } catch (err) {
    $("pub-result").textContent = "data is not JSON: " + err.message;
    return;
  }
  const msg = { mode: "pub_sub", action: "pub", src: "console", topic: $("pub-topic").value.trim(), code: 200, msg: $("pub-msg").value, data };
  if ($("pub-retain").checked) msg.retain = true;
  call(msg, (ack) => ($("pub-result").textContent = ack.code + " " + ack.msg));
};

$("raw-form").onsubmit = (e) => {
  e.preventDefault();
  const text = $("raw").value;
  try {
    JSON.parse(text);
  } catch (err) {
    logLine("err", "Not JSON: " + err.message);
    return;
  }
  send(text);
};

$("clear-log").onclick = () => $("log").replaceChildren();

async function loadForms() {
  const box = $("forms");
  try {
    const contract = await (await fetch("/asyncapi.json")).json();
    box.replaceChildren();
    for (const [name, spec] of Object.entries(contract["x-commands"])) {
      box.append(commandForm(name, spec, call));
    }
  } catch (err) {
    box.textContent = "Cannot load /asyncapi.json: " + err.message;
  }
}

showSubscriptions();
connect();
loadForms();
`;
