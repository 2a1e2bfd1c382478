/**
 * Browser code of the console's presence card: who is on a topic (a `presence` request over the
 * page's WebSocket, with the clients and distinct users counted from it), refreshed on demand and
 * every few seconds while a topic is shown. Runs after APP_JS in the same module script: it uses its `$` and `call`.
 *
 * Written as plain JavaScript in a raw string: the page has no build step.
 */
export const PRESENCE_JS = String.raw`
const PRESENCE_REFRESH_MS = 3000;
let presenceTopic = "";
let presenceTimer = 0;

function showPresence(list, stats) {
  const body = $("presence").tBodies[0];
  body.replaceChildren();
  for (const e of list) {
    const row = document.createElement("tr");
    for (const value of [e.client, e.user ?? "–", e.src ?? "–", e.info === null ? "–" : JSON.stringify(e.info)]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    body.append(row);
  }
  $("presence-note").textContent = stats.clients + (stats.clients === 1 ? " client, " : " clients, ") +
    stats.users + (stats.users === 1 ? " user" : " users") + " on " + presenceTopic;
}

function loadPresence() {
  if (!presenceTopic) return;
  const topic = presenceTopic;
  call({ mode: "pub_sub", action: "presence", src: "console", topic }, (reply) => {
    if (topic !== presenceTopic) return;
    if (reply.code !== 200) {
      $("presence").tBodies[0].replaceChildren();
      $("presence-note").textContent = reply.code + " " + reply.msg;
      return;
    }
    const users = new Set(reply.data.map((e) => e.user).filter((u) => u !== null));
    showPresence(reply.data, { clients: reply.data.length, users: users.size });
  });
}

$("presence-form").onsubmit = (e) => {
  e.preventDefault();
  presenceTopic = $("presence-topic").value.trim();
  clearInterval(presenceTimer);
  loadPresence();
  presenceTimer = setInterval(loadPresence, PRESENCE_REFRESH_MS);
};
`;
