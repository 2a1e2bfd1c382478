import assert from "node:assert/strict";
import { Client, req, startServer, wsUrl } from "./_client.ts";

Deno.test("GET /asyncapi.json - lists every command with its kwargs schema", async () => {
  const server = await startServer();
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/asyncapi.json`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.asyncapi, "3.0.0");
    assert.deepEqual(
      Object.keys(doc["x-commands"]).sort(),
      [...server.commands.values()].map((c) => c.name).sort(),
    );
    const addUser = doc["x-commands"].add_user;
    assert.deepEqual(addUser.kwargs.required, ["name"]);
    assert.equal(addUser.kwargs.properties.name.type, "string");
    assert.ok("user" in doc["x-topics"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("GET /metrics - counts requests by command and code in Prometheus text", async () => {
  const server = await startServer();
  const c = await Client.connect(wsUrl(server));
  try {
    await c.request(req("web"));
    await c.request(req("web"));
    await c.request(req("nope"));
    c.send("not json");
    await c.next((m) => m.code === 400);
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.match(text, /^switchboard_requests_total\{command="web",code="200"\} 2$/m);
    assert.match(text, /^switchboard_requests_total\{command="\(unknown\)",code="404"\} 1$/m);
    assert.match(text, /^switchboard_frames_rejected_total 1$/m);
    assert.match(text, /^switchboard_connections 1$/m);
    assert.match(text, /^# TYPE switchboard_messages_sent_total counter$/m);
  } finally {
    await c.close();
    await server.shutdown();
  }
});

Deno.test("GET / - serves the console page that connects back to the server", async () => {
  const server = await startServer();
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    const html = await res.text();
    assert.match(html, /new WebSocket\(/);
    assert.match(html, /\/healthz/);
    assert.match(html, /\/asyncapi.json/); // the command list comes from the contract
    const post = await fetch(`http://127.0.0.1:${server.port}/healthz`, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
