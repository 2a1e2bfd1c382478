/**
 * Issue 14, the backend HTTP API against the real server: every method, every refusal with its
 * status, NDJSON streaming ordered by a gate the test opens, and /openapi.json from the schemas.
 */
import assert from "node:assert/strict";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { until, within } from "./_helpers.ts";
import { signJwt } from "../lib/session/jwt.ts";
import { createLogger } from "../lib/log.ts";
import type { ServerOptions } from "../lib/create_server.ts";
import type { Switchboard } from "../lib/server.ts";

const KEY = "api-key-for-the-tests-7f3a";
const SECRET = "jwt-secret-for-the-api-tests";

/** Runs `fn` with a real server with the API on, always shut down after. */
async function serving(fn: (server: Switchboard) => Promise<void>, options: ServerOptions = {}) {
  const server = await startServer({ apiKey: KEY, ...options });
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

/** Calls an API method; returns the status and the parsed body. */
async function api(
  server: Switchboard,
  method: string,
  body: unknown = {},
  init: RequestInit & { key?: string | null } = {},
): Promise<{ status: number; body: Msg }> {
  const key = init.key === undefined ? KEY : init.key;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== null) headers.authorization = `apikey ${key}`;
  const res = await fetch(`http://127.0.0.1:${server.port}/api/${method}`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
  const parsed = await res.json();
  assert.equal(parsed.code, res.status, "the status equals the code");
  return { status: res.status, body: parsed };
}

Deno.test("api - off without API_KEY: every /api/ path is a 404", async () => {
  const server = await startServer();
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/publish`, {
      method: "POST",
      headers: { authorization: `apikey ${KEY}` },
      body: JSON.stringify({ topic: "a" }),
    });
    assert.equal(res.status, 404);
    assert.match((await res.json()).msg, /API_KEY is not set/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("api - a wrong key, no key, a GET, an unknown method, bad JSON, a bad body, an oversized body", async () => {
  const lines: string[] = [];
  const logger = createLogger("debug", "json", (line) => lines.push(line));
  await serving(async (server) => {
    const base = `http://127.0.0.1:${server.port}/api`;
    const wrong = await api(server, "publish", { topic: "a" }, { key: "not-the-key-at-all-9" });
    assert.equal(wrong.status, 401);
    assert.equal((await api(server, "publish", { topic: "a" }, { key: null })).status, 401);
    const get = await fetch(`${base}/publish`, { headers: { authorization: `apikey ${KEY}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    assert.equal((await get.json()).code, 405);
    const unknown = await api(server, "pubish", { topic: "a" });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.msg, /Unknown API method: "pubish"/);
    const badJson = await api(server, "publish", "{not json");
    assert.equal(badJson.status, 400);
    assert.match(badJson.body.msg, /^Invalid JSON/);
    const badBody = await api(server, "publish", { topic: 7, extra: true });
    assert.equal(badBody.status, 400);
    assert.deepEqual(badBody.body.data.map((i: Msg) => i.path).sort(), ["", "topic"]);
    const proto = await api(
      server,
      "send",
      '{"to":{"src":"a"},"message":{"data":{"__proto__":{}}}}',
    );
    assert.equal(proto.status, 400);
    assert.match(proto.body.msg, /__proto__/);
    const deep = await api(server, "broadcast", {
      data: JSON.parse("[".repeat(40) + "]".repeat(40)),
    });
    assert.equal(deep.status, 400);
    assert.match(deep.body.msg, /nesting deeper than 32 levels/);
    const big = await api(server, "publish", { topic: "a", data: "x".repeat(2000) });
    assert.equal(big.status, 413);
    // Without a content-length (a chunked stream), the limit holds while reading.
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode("x".repeat(600)));
        c.close();
      },
    });
    const streamed = await fetch(`${base}/publish`, {
      method: "POST",
      headers: { authorization: `apikey ${KEY}` },
      body: chunks,
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
  }, { maxMessageBytes: 1024, logger });
  assert.ok(lines.some((l) => l.includes("missing or wrong API key")));
  for (const line of lines) assert.ok(!line.includes(KEY) && !line.includes("not-the-key-at-all"));
});

Deno.test("api - the rate limit of one WebSocket connection: 429 past the burst", async () => {
  await serving(async (server) => {
    const codes: number[] = [];
    // A burst of 2 and 1 more a second: 10 calls take far less than the 8 s they would need.
    for (let i = 0; i < 10; i++) codes.push((await api(server, "clients")).status);
    assert.ok(codes.includes(429), `codes ${codes}`);
    assert.equal(codes[0], 200);
  }, { rateLimit: 1, rateBurst: 2 });
});

Deno.test("api - publish, broadcast and send reach WebSocket clients", async () => {
  await serving(async (server) => {
    const token = await signJwt({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
    const c = await Client.connect(wsUrl(server, `?src=front&token=${token}`));
    try {
      c.send({ mode: "pub_sub", action: "sub", topic: "line/1" });
      await c.next((m) => m.action === "ack");
      const pub = await api(server, "publish", { topic: "line/1", data: { v: 1 }, msg: "hi" });
      assert.deepEqual(pub, { status: 200, body: { code: 200, msg: "published" } });
      const delivery = await c.next((m) => m.action === "pub");
      assert.deepEqual([delivery.src, delivery.topic, delivery.data], ["api", "line/1", { v: 1 }]);
      assert.equal((await api(server, "publish", { topic: "line/+" })).status, 400);

      assert.equal((await api(server, "broadcast", { msg: "all", data: 1 })).status, 200);
      const all = await c.next((m) => m.msg === "all");
      assert.deepEqual([all.action, all.src, all.id], ["res", "control", undefined]);

      for (
        const to of [{ src: "front" }, { user: "alice" }, {
          client: server.hub.connections().next().value!.id,
        }]
      ) {
        const sent = await api(server, "send", { to, message: { msg: "direct", data: to } });
        assert.deepEqual(sent.body, { code: 200, msg: "sent", count: 1 });
        assert.deepEqual((await c.next((m) => m.msg === "direct")).data, to);
      }
      const none = await api(server, "send", { to: { user: "bob" }, message: {} });
      assert.equal(none.body.count, 0);
    } finally {
      await c.close();
    }
  }, { jwtSecret: SECRET });
});

Deno.test("api - clients lists who is connected; disconnect closes with 4000", async () => {
  await serving(async (server) => {
    const token = await signJwt({ sub: "bob", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
    const a = await Client.connect(wsUrl(server, `?src=panel&token=${token}`));
    const b = await Client.connect(wsUrl(server, `?src=panel&token=${token}`));
    a.send({ mode: "pub_sub", action: "sub", topic: "x/#" });
    await a.next((m) => m.action === "ack");
    const { body } = await api(server, "clients");
    assert.equal(body.data.length, 2);
    const entry = body.data.find((e: Msg) => e.topics.length === 1);
    assert.deepEqual([entry.user, entry.src, entry.node, entry.topics], [
      "bob",
      "panel",
      server.nodeId,
      ["x/#"],
    ]);
    const one = await api(server, "disconnect", { client: entry.client });
    assert.equal(one.body.count, 1);
    assert.equal((await a.closed).code, 4000);
    const rest = await api(server, "disconnect", { user: "bob" });
    assert.equal(rest.body.count, 1);
    assert.equal((await b.closed).code, 4000);
    await until(() => server.hub.size === 0, "the server to forget both");
    assert.deepEqual((await api(server, "clients")).body.data, []);
  }, { jwtSecret: SECRET });
});

Deno.test("api - command answers with its final reply and that reply's code", async () => {
  await serving(async (server) => {
    server.command(
      "api_echo",
      (ctx: { args: unknown[]; client: { src?: string } }) => ({
        args: ctx.args,
        src: ctx.client.src,
      }),
    );
    server.command("api_dialogue", async (ctx: { recv(): Promise<unknown> }) => await ctx.recv());
    const ok = await api(server, "command", { command: "API_ECHO", args: [1, 2] });
    assert.deepEqual(ok, {
      status: 200,
      body: { command: "API_ECHO", code: 200, msg: "success", data: { args: [1, 2], src: "api" } },
    });
    const unknown = await api(server, "command", { command: "nope" });
    assert.equal(unknown.status, 404);
    const bad = await api(server, "command", { command: "add_user", kwargs: { name: 5 } });
    assert.equal(bad.status, 400);
    const dialogue = await within(api(server, "command", { command: "api_dialogue" }), "no hang");
    assert.equal(dialogue.status, 400);
    assert.match(dialogue.body.msg, /cannot run over HTTP/);
    assert.equal(server.running, 0);
  });
});

Deno.test("api - NDJSON streams every reply as it happens", async () => {
  await serving(async (server) => {
    const gate = Promise.withResolvers<void>();
    server.command("api_steps", async (ctx: { progress(p: number, msg?: string): void }) => {
      ctx.progress(10, "started");
      await gate.promise; // opened by the test only after it read the first line
      ctx.progress(90, "almost");
      return "done";
    });
    const res = await fetch(`http://127.0.0.1:${server.port}/api/command`, {
      method: "POST",
      headers: { authorization: `apikey ${KEY}`, accept: "application/x-ndjson" },
      body: JSON.stringify({ command: "api_steps" }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines: Msg[] = [];
    let buffered = "";
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    while (true) {
      const { value, done } = await within(reader.read(), "the next line");
      if (done) break;
      buffered += value;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
        if (lines.length === 1) gate.resolve();
      }
    }
    assert.deepEqual(lines.map((l) => [l.process, l.more, l.data]), [
      [10, true, undefined],
      [90, true, undefined],
      [undefined, undefined, "done"],
    ]);
  });
});

Deno.test("api - an NDJSON client that goes away cancels the command", async () => {
  await serving(async (server) => {
    const aborted = Promise.withResolvers<void>();
    server.command(
      "api_forever",
      async (ctx: { progress(p: number): void; signal: AbortSignal }) => {
        ctx.progress(1);
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        aborted.resolve();
      },
    );
    const res = await fetch(`http://127.0.0.1:${server.port}/api/command`, {
      method: "POST",
      headers: { authorization: `apikey ${KEY}`, accept: "application/x-ndjson" },
      body: JSON.stringify({ command: "api_forever" }),
    });
    const reader = res.body!.getReader();
    const first = await within(reader.read(), "the first line");
    assert.match(new TextDecoder().decode(first.value), /"process":1/);
    await reader.cancel();
    await within(aborted.promise, "the command's signal to abort");
    await until(() => server.running === 0, "the command to end");
  });
});

Deno.test("api - presence and presence_stats answer like the WebSocket actions; a topic without presence is a 404", async () => {
  await serving(async (server) => {
    const ws = await Client.connect(wsUrl(server));
    try {
      ws.send({ mode: "pub_sub", action: "sub", id: 1, topic: "panels/7" });
      assert.equal((await ws.next((m) => m.action === "ack")).code, 200);
      const present = await api(server, "presence", { topic: "panels/7" });
      assert.equal(present.status, 200);
      assert.deepEqual(present.body.data.map((e: { client: string }) => e.client).length, 1);
      const stats = await api(server, "presence_stats", { topic: "panels/7" });
      assert.deepEqual(stats.body.data, { clients: 1, users: 0 });
      for (const method of ["presence", "presence_stats"]) {
        const res = await api(server, method, { topic: "a/b" });
        assert.equal(res.status, 404, method);
        assert.match(res.body.msg, /^No presence on topic/);
      }
    } finally {
      await ws.close();
    }
  }, { PRESENCE: "panels/+" });
});

Deno.test("api - history answers like the WebSocket action; a topic without history is a 404", async () => {
  await serving(async (server) => {
    for (const n of [1, 2, 3]) {
      const res = await api(server, "publish", { topic: "line/1", data: n });
      assert.equal(res.status, 200);
      assert.equal(res.body.offset, n);
    }
    const read = await api(server, "history", { topic: "line/1", limit: 2 });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data.map((e: { data: number }) => e.data), [2, 3]);
    const none = await api(server, "history", { topic: "a/b" });
    assert.equal(none.status, 404);
    assert.match(none.body.msg, /^No history for topic/);
  }, { HISTORY: "line/+=10" });
});

Deno.test("api - /openapi.json lists every method and every command with its arguments", async () => {
  await serving(async (server) => {
    const doc = await (await fetch(`http://127.0.0.1:${server.port}/openapi.json`)).json();
    assert.equal(doc.openapi, "3.1.0");
    for (
      const method of [
        "publish",
        "broadcast",
        "send",
        "disconnect",
        "clients",
        "command",
        "history",
        "presence",
        "presence_stats",
      ]
    ) {
      assert.ok(doc.paths[`/api/${method}`]?.post, method);
    }
    const topic = doc.paths["/api/publish"].post.requestBody.content["application/json"].schema;
    assert.deepEqual(topic.required, ["topic"]);
    for (const name of server.commands.keys()) {
      const command = server.commands.get(name)!;
      assert.ok(doc["x-commands"][command.name], command.name);
      assert.ok(doc.components.schemas[`command.${command.name}`], command.name);
    }
    assert.equal(doc["x-commands"].add_user.kwargs.properties.name.type, "string");
    const asyncapi = await (await fetch(`http://127.0.0.1:${server.port}/asyncapi.json`)).json();
    assert.deepEqual(
      Object.keys(asyncapi["x-commands"]).sort(),
      Object.keys(doc["x-commands"]).sort(),
    );
  });
});
