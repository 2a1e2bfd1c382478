/**
 * The web console served at `GET /`: a single page, no build step, that connects to this server,
 * shows /healthz, and lets an operator send any message and watch what comes back.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchboard console</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  #health { font-family: monospace; background: #f4f4f4; padding: .5rem; white-space: pre; }
  textarea { width: 100%; height: 6rem; font-family: monospace; }
  #log { font-family: monospace; height: 22rem; overflow: auto; border: 1px solid #ccc; padding: .5rem; }
  .in { color: #064; } .out { color: #036; } .err { color: #a00; }
  button { margin: .3rem .3rem .3rem 0; }
</style>
</head>
<body>
<h1>Switchboard console</h1>
<div>Status: <span id="state">connecting…</span></div>
<div id="health"></div>
<p>
  <button data-msg='{"mode":"req_res","action":"req","src":"front","command":"web"}'>Heartbeat</button>
  <button data-msg='{"mode":"pub_sub","action":"sub","src":"front","topic":["#"]}'>Subscribe to everything</button>
  <button data-msg='{"mode":"req_res","action":"req","src":"front","id":1,"command":"echo","args":[1,2],"kwargs":{"name":"jw"}}'>Echo</button>
</p>
<p>
  <label>Commands: <select id="commands"><option value="">(loading…)</option></select></label>
  <span id="desc"></span>
</p>
<textarea id="msg">{"mode":"req_res","action":"req","src":"front","command":"web"}</textarea>
<button id="send">Send</button>
<div id="log"></div>
<script type="module">
  const log = document.getElementById("log");
  const state = document.getElementById("state");
  const line = (cls, text) => {
    const div = document.createElement("div");
    div.className = cls;
    div.textContent = (cls === "out" ? "→ " : cls === "in" ? "← " : "! ") + text;
    log.append(div);
    log.scrollTop = log.scrollHeight;
  };
  // A ?token= on the page URL is passed on, for servers that require one.
  const page = new URL(location.href);
  const wsUrl = new URL("/", page);
  wsUrl.protocol = page.protocol === "https:" ? "wss:" : "ws:";
  wsUrl.searchParams.set("src", "console");
  if (page.searchParams.get("token")) wsUrl.searchParams.set("token", page.searchParams.get("token"));
  const ws = new WebSocket(wsUrl);
  ws.onopen = () => (state.textContent = "connected");
  ws.onclose = (e) => (state.textContent = "closed (" + e.code + ")");
  ws.onmessage = (e) => line("in", e.data);
  const send = (text) => {
    try { JSON.parse(text); } catch (err) { return line("err", "Not JSON: " + err.message); }
    ws.send(text);
    line("out", text);
  };
  document.getElementById("send").onclick = () => send(document.getElementById("msg").value);
  for (const b of document.querySelectorAll("button[data-msg]")) b.onclick = () => send(b.dataset.msg);
  const health = async () => {
    const res = await fetch("/healthz");
    document.getElementById("health").textContent = JSON.stringify(await res.json(), null, 2);
  };
  health();
  setInterval(health, 2000);
  // The command list comes from the API contract, so it always matches the routes file.
  const select = document.getElementById("commands");
  const contract = await (await fetch("/asyncapi.json")).json();
  const commands = contract["x-commands"];
  select.replaceChildren(new Option("(choose a command)", ""));
  for (const name of Object.keys(commands)) select.append(new Option(name, name));
  select.onchange = () => {
    const name = select.value;
    if (!name) return;
    document.getElementById("desc").textContent = commands[name].description;
    const msg = { mode: "req_res", action: "req", src: "console", id: Date.now(), command: name, args: [], kwargs: {} };
    document.getElementById("msg").value = JSON.stringify(msg);
  };
</script>
</body>
</html>
`;
