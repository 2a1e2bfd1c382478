/**
 * Browser code of the console's "Backend API" card: calls `POST /api/<method>` with a key the
 * operator types in. The key lives in this page's memory and, so that a reload of the tab keeps
 * it, in sessionStorage (gone when the tab closes); it is never written to localStorage, a
 * cookie or the URL. The methods and an example body come from /openapi.json.
 *
 * Written as plain JavaScript in a raw string: the page has no build step.
 */
export const API_JS = String.raw`
(() => {
  const KEY_ITEM = "switchboard.apiKey";
  const examples = {
    publish: { topic: "user", msg: "from the console", data: {} },
    broadcast: { msg: "hello everyone" },
    send: { to: { src: "front" }, message: { msg: "hello" } },
    disconnect: { client: "" },
    clients: {},
    command: { command: "web" },
    history: { topic: "user", limit: 10 },
    presence: { topic: "user" },
    presence_stats: { topic: "user" },
  };
  const key = $("api-key");
  const method = $("api-method");
  const body = $("api-body");
  const out = $("api-result");
  key.value = sessionStorage.getItem(KEY_ITEM) || "";
  key.addEventListener("change", () => {
    if (key.value) sessionStorage.setItem(KEY_ITEM, key.value);
    else sessionStorage.removeItem(KEY_ITEM);
  });
  $("api-forget").addEventListener("click", (e) => {
    e.preventDefault();
    key.value = "";
    sessionStorage.removeItem(KEY_ITEM);
  });
  method.addEventListener("change", () => {
    body.value = JSON.stringify(examples[method.value] || {}, null, 2);
  });
  fetch("/openapi.json").then((r) => r.json()).then((doc) => {
    const names = Object.keys(doc.paths || {}).map((p) => p.replace("/api/", ""));
    method.replaceChildren(...names.map((name) => {
      const option = document.createElement("option");
      option.value = option.textContent = name;
      return option;
    }));
    method.dispatchEvent(new Event("change"));
    $("api-state").textContent = doc.info && doc.info.description && doc.info.description.startsWith("Off")
      ? "The API is off on this server (API_KEY is not set)."
      : "";
  }).catch((err) => { $("api-state").textContent = "Cannot load /openapi.json: " + err.message; });
  $("api-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    out.textContent = "…";
    try {
      const res = await fetch("/api/" + encodeURIComponent(method.value), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "apikey " + key.value },
        body: body.value,
      });
      out.textContent = res.status + " " + JSON.stringify(await res.json(), null, 2);
      out.dataset.status = String(res.status);
    } catch (err) {
      out.textContent = "Request failed: " + err.message;
    }
  });
})();
`;
