/**
 * The server-side API over real sockets: `server.broadcast`, `server.sendTo`, `server.publish`,
 * and `ctx.publish` / `ctx.broadcast` from handlers (add_user among them).
 * "Nothing arrived" is always proven with a later message on the same socket, never a sleep.
 */
import assert from "node:assert/strict";
import { Client, type Msg, req, startServer, wsUrl } from "./_client.ts";
import { defineCommand } from "../lib/mod.ts";
import type { Switchboard } from "../lib/server.ts";
import routes from "../routes.gen.ts";

const manifest = {
  ...routes,
  commands: {
    ...routes.commands,
    whoami: { default: defineCommand({ handle: (ctx) => ctx.client.id }) },
    announce: {
      default: defineCommand({
        handle(ctx) {
          ctx.publish("news", { msg: "hi", data: [1] });
          ctx.broadcast({ msg: "hello all", data: { n: 1 } });
          return "done";
        },
      }),
    },
  },
};

let nextId = 0;

async function sub(c: Client, topic: string | string[]): Promise<Msg> {
  const id = `s${++nextId}`;
  c.send({ mode: "pub_sub", action: "sub", src: "front", topic, id });
  const ack = await c.next((m) => m.action === "ack" && m.id === id);
  assert.equal(ack.code, 200, ack.msg);
  return ack;
}

/** A reply-shaped server message without id, as broadcast and sendTo send it. */
function pushed(fields: Msg): Msg {
  return { mode: "req_res", action: "res", src: "control", code: 200, msg: "success", ...fields };
}

/**
 * Broadcasts a sentinel and returns what `c` got before it (removing it all from the inbox):
 * one socket delivers in order, so what was sent to `c` before the sentinel has arrived.
 */
async function before(server: Switchboard, clients: Client[]): Promise<Msg[][]> {
  const mark = crypto.randomUUID();
  server.broadcast({ msg: "sentinel", data: mark });
  return await Promise.all(clients.map(async (c) => {
    await c.waitFor(1, (m) => m.data === mark);
    const i = c.inbox.findIndex((m) => m.data === mark);
    return c.inbox.splice(0, i + 1).slice(0, i);
  }));
}

Deno.test("server.broadcast - reaches every client, reply-shaped and without id", async () => {
  const server = await startServer();
  const url = wsUrl(server);
  const clients = await Promise.all([
    Client.connect(url),
    Client.connect(wsUrl(server, "?src=front")),
    Client.connect(wsUrl(server, "?batch=1")),
  ]);
  await sub(clients[0], "user"); // a subscriber gets it too, not as a delivery
  server.broadcast({ data: { name: "jw", num: 1 } });
  for (const c of clients) {
    const m = await c.next((m) => m.action === "res");
    assert.deepEqual(m, pushed({ data: { name: "jw", num: 1 } }));
    assert.equal("id" in m, false);
    assert.equal("command" in m, false);
  }
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("server.sendTo - by src reaches only the clients with that role", async () => {
  const server = await startServer({ routes: manifest });
  const url = wsUrl(server);
  const byUrl = await Client.connect(wsUrl(server, "?src=front"));
  const byMessage = await Client.connect(url);
  const agent = await Client.connect(url);
  const silent = await Client.connect(url);
  // `src` is set once: from `?src=` on the URL, else from the first message that names one.
  assert.equal((await byMessage.request(req("web", { src: "front" }))).code, 200);
  assert.equal((await agent.request(req("web", { src: "agent" }))).code, 200);
  assert.equal((await agent.request(req("web", { src: "front" }))).code, 200);
  assert.equal((await byUrl.request(req("web", { src: "agent" }))).code, 200);
  server.sendTo({ src: "front" }, { msg: "to front", data: [1] });
  server.sendTo({ src: "nobody" }, { msg: "to nobody" });
  const [a, b, c, d] = await before(server, [byUrl, byMessage, agent, silent]);
  assert.deepEqual(a, [pushed({ msg: "to front", data: [1] })]);
  assert.deepEqual(b, [pushed({ msg: "to front", data: [1] })]);
  assert.deepEqual(c, []);
  assert.deepEqual(d, []);
  await Promise.all([byUrl, byMessage, agent, silent].map((c) => c.close()));
  await server.shutdown();
});

Deno.test("server.sendTo - by id reaches only that connection", async () => {
  const server = await startServer({ routes: manifest });
  const clients = await Promise.all([1, 2, 3].map(() => Client.connect(wsUrl(server))));
  const ids = [];
  for (const c of clients) ids.push((await c.request(req("whoami"))).data);
  assert.equal(new Set(ids).size, 3);
  server.sendTo({ id: ids[1] }, { msg: "just you" });
  server.sendTo({ id: "no-such-connection" }, { msg: "lost" });
  const got = await before(server, clients);
  assert.deepEqual(got, [[], [pushed({ msg: "just you" })], []]);
  await Promise.all(clients.map((c) => c.close()));
  await server.shutdown();
});

Deno.test("server.publish - reaches subscribers with the server's src and runs no callback", async () => {
  const server = await startServer();
  const [subscriber, late] = await Promise.all([1, 2].map(() => Client.connect(wsUrl(server))));
  await sub(subscriber, ["user", "status/#"]);
  server.publish("user", { data: [1] }); // "user" has a callback: server publishes skip it
  server.publish("status/a", { src: "agent", code: 201, msg: "up", data: { ok: true } });
  server.publish("status/b", { msg: "kept", data: 2, retain: true });
  assert.throws(() => server.publish("status/+", { data: 0 }), TypeError);
  assert.throws(() => server.publish("", { data: 0 }), TypeError);
  const [got] = await before(server, [subscriber]);
  assert.deepEqual(got, [
    {
      mode: "pub_sub",
      action: "pub",
      src: "control",
      topic: "user",
      code: 200,
      msg: "",
      data: [1],
    },
    {
      mode: "pub_sub",
      action: "pub",
      src: "agent",
      topic: "status/a",
      code: 201,
      msg: "up",
      data: { ok: true },
    },
    {
      mode: "pub_sub",
      action: "pub",
      src: "control",
      topic: "status/b",
      code: 200,
      msg: "kept",
      data: 2,
    },
  ]);
  await sub(late, "status/+");
  const replay = await late.next((m) => m.action === "pub");
  assert.deepEqual([replay.topic, replay.data, replay.retained], ["status/b", 2, true]);
  await Promise.all([subscriber, late].map((c) => c.close()));
  await server.shutdown();
});

Deno.test("ctx.publish and ctx.broadcast - a handler publishes and broadcasts", async () => {
  const server = await startServer({ routes: manifest });
  const [caller, subscriber, other] = await Promise.all(
    [1, 2, 3].map(() => Client.connect(wsUrl(server))),
  );
  await sub(subscriber, "news");
  const reply = await caller.request(req("announce", { id: 5 }));
  assert.equal(reply.data, "done");
  // The broadcast was sent while the handler ran: it is ahead of the reply on the caller's socket.
  assert.deepEqual(caller.inbox, [pushed({ msg: "hello all", data: { n: 1 } })]);
  assert.deepEqual(caller.raw.map((r) => [JSON.parse(r).msg, JSON.parse(r).id]), [
    ["hello all", undefined],
    ["success", 5],
  ]);
  const [s, o] = await before(server, [subscriber, other]);
  assert.deepEqual(s, [
    {
      mode: "pub_sub",
      action: "pub",
      src: "control",
      topic: "news",
      code: 200,
      msg: "hi",
      data: [1],
    },
    pushed({ msg: "hello all", data: { n: 1 } }),
  ]);
  assert.deepEqual(o, [pushed({ msg: "hello all", data: { n: 1 } })]);
  await Promise.all([caller, subscriber, other].map((c) => c.close()));
  await server.shutdown();
});

Deno.test("add_user - publishes the new user on the user topic", async () => {
  const server = await startServer();
  const [caller, subscriber] = await Promise.all([1, 2].map(() => Client.connect(wsUrl(server))));
  await sub(subscriber, "user");
  const reply = await caller.request(req("add_user", { id: 1, kwargs: { name: "jw", age: 110 } }));
  assert.equal(reply.code, 200);
  const [user] = reply.data;
  assert.equal(user.name, "jw");
  assert.equal(user.age, 110);
  assert.equal(typeof user.id, "number");
  const [got] = await before(server, [subscriber]);
  // SPEC §2: what server code publishes does not trigger topic callbacks, so the user callback's
  // ["hahaha", "xixixi"] does not follow (it does follow a client's publish on "user").
  assert.deepEqual(got, [{
    mode: "pub_sub",
    action: "pub",
    src: "agent",
    topic: "user",
    code: 200,
    msg: "添加了一个用户",
    data: [user],
  }]);
  await Promise.all([caller, subscriber].map((c) => c.close()));
  await server.shutdown();
});
