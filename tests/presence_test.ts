/**
 * Presence on one node (the memory broker), end to end: the real server on port 0, real
 * WebSockets, JWTs signed here. The Redis tests (several nodes, a node killed) are in
 * presence_redis_test.ts; the storm guard on a fake clock is in presence_events_test.ts.
 */
import assert from "node:assert/strict";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";
import { signJwt } from "../lib/session/jwt.ts";
import { defineTopic } from "../lib/mod.ts";
import type { Switchboard } from "../lib/server.ts";
import { presenceStats } from "../lib/pubsub/presence.ts";
import { parseConfig } from "../lib/config.ts";
import { StartupError } from "../lib/wire/errors.ts";
import { connect, type PresenceEvent, SwitchboardError } from "../client/mod.ts";

const SECRET = "presence-test-secret-0123456789";

/** A client with a JWT for `claims` and a role. */
async function join(server: Switchboard, claims: Msg, src = "front"): Promise<Client> {
  const token = await signJwt({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, SECRET);
  return await Client.connect(wsUrl(server, `?token=${token}&src=${src}`));
}

let ids = 0;

/** Sends a pub_sub message with a fresh id and waits for the answer with that id. */
async function ask(c: Client, msg: Msg): Promise<Msg> {
  const id = ++ids;
  c.send({ mode: "pub_sub", src: "front", ...msg, id });
  return await c.next((m) => m.id === id);
}

const sub = (c: Client, topic: string | string[], extra: Msg = {}) =>
  ask(c, { action: "sub", topic, ...extra });

function withPresence(fn: (server: Switchboard) => Promise<void>, extra: Msg = {}) {
  return async () => {
    const server = await startServer({ PRESENCE: "panels/+,line/#", JWT_SECRET: SECRET, ...extra });
    try {
      await fn(server);
    } finally {
      await server.shutdown();
    }
  };
}

Deno.test(
  "presence - lists exact subscribers with user and info from the JWT, wildcard ones not",
  withPresence(async (server) => {
    const info = { name: "Ann", desk: 3 };
    const ann = await join(server, { sub: "ann", info });
    const bob = await join(server, { sub: "bob" }, "agent");
    const carl = await join(server, { sub: "carl" });
    try {
      assert.equal((await sub(ann, "panels/7")).code, 200);
      assert.equal((await sub(bob, ["panels/7", "panels/8"])).code, 200);
      assert.equal((await sub(carl, ["panels/+", "#"])).code, 200);
      const reply = await ask(carl, { action: "presence", topic: "panels/7" });
      assert.equal(reply.mode, "pub_sub");
      assert.equal(reply.action, "presence");
      assert.equal(reply.code, 200);
      assert.equal(reply.topic, "panels/7");
      const byUser = new Map<string, Msg>(reply.data.map((e: Msg) => [e.user, e]));
      assert.equal(reply.data.length, 2);
      assert.deepEqual(Object.keys(byUser.get("ann")!).sort(), ["client", "info", "src", "user"]);
      assert.deepEqual(byUser.get("ann")!.info, info);
      assert.equal(byUser.get("ann")!.src, "front");
      assert.equal(byUser.get("bob")!.info, null);
      assert.equal(byUser.get("bob")!.src, "agent");
      assert.match(byUser.get("ann")!.client, new RegExp(`^${server.nodeId}-`));
      const eight = await ask(ann, { action: "presence", topic: "panels/8" });
      assert.deepEqual(eight.data.map((e: Msg) => e.user), ["bob"]);
    } finally {
      await Promise.all([ann.close(), bob.close(), carl.close()]);
    }
  }),
);

Deno.test(
  "presence_stats - counts clients and distinct users; a token without sub has no user",
  withPresence(async (server) => {
    const all = [
      await join(server, { sub: "ann" }),
      await join(server, { sub: "ann" }),
      await join(server, { sub: "bob" }),
      await join(server, {}),
    ];
    try {
      for (const c of all) assert.equal((await sub(c, "line/1/state")).code, 200);
      const stats = await ask(all[0], { action: "presence_stats", topic: "line/1/state" });
      assert.equal(stats.action, "presence_stats");
      assert.deepEqual(stats.data, { clients: 4, users: 2 });
      const list = await ask(all[0], { action: "presence", topic: "line/1/state" });
      assert.equal(list.data.filter((e: Msg) => e.user === null).length, 1);
      // Server code (the backend API) reads the same.
      assert.deepEqual(presenceStats((await server.presence.entries("line/1/state"))!), {
        clients: 4,
        users: 2,
      });
      assert.equal(await server.presence.entries("orders/1"), null);
      assert.equal(await server.presence.entries("line/+"), null);
    } finally {
      await Promise.all(all.map((c) => c.close()));
    }
  }),
);

Deno.test(
  "presence - entries are gone after unsub and after disconnect",
  withPresence(async (server) => {
    const ann = await join(server, { sub: "ann" });
    const bob = await join(server, { sub: "bob" });
    const watcher = await join(server, { sub: "w" });
    try {
      await sub(ann, "panels/1");
      await sub(bob, "panels/1");
      const users = async () =>
        (await ask(watcher, { action: "presence", topic: "panels/1" })).data.map((e: Msg) => e.user)
          .sort();
      assert.deepEqual(await users(), ["ann", "bob"]);
      assert.equal((await ask(ann, { action: "unsub", topic: "panels/1" })).code, 200);
      assert.deepEqual(await users(), ["bob"]);
      await bob.close();
      await until(async () => (await users()).length === 0, "bob's entry to go");
      assert.equal(server.presence.held, 0);
    } finally {
      await Promise.all([ann.close(), bob.close(), watcher.close()]);
    }
  }),
);

Deno.test(
  "presence - bad input is a 400 and the connection stays usable; 404 without presence",
  withPresence(async (server) => {
    const c = await join(server, { sub: "ann" });
    try {
      const noTopic = await ask(c, { action: "presence" });
      assert.equal(noTopic.code, 400);
      assert.match(noTopic.msg, /topic/);
      const wildcard = await ask(c, { action: "presence", topic: "panels/+" });
      assert.equal(wildcard.code, 400);
      assert.match(wildcard.msg, /without wildcards/);
      assert.equal((await ask(c, { action: "presence_stats", topic: "line/#" })).code, 400);
      assert.equal((await ask(c, { action: "presence", topic: ["panels/1"] })).code, 400);
      assert.equal((await ask(c, { action: "presence", topic: "" })).code, 400);
      const notBool = await sub(c, "panels/1", { join_leave: "yes" });
      assert.equal(notBool.code, 400);
      assert.match(notBool.msg, /join_leave/);
      const none = await ask(c, { action: "presence", topic: "orders/1" });
      assert.equal(none.code, 404);
      assert.match(none.msg, /No presence on topic "orders\/1"/);
      assert.equal((await ask(c, { action: "presence_stats", topic: "panels" })).code, 404);
      const empty = await ask(c, { action: "presence", topic: "panels/99" });
      assert.equal(empty.code, 200);
      assert.deepEqual(empty.data, []);
      const emptyStats = await ask(c, { action: "presence_stats", topic: "panels/99" });
      assert.deepEqual(emptyStats.data, { clients: 0, users: 0 });
      assert.equal((await sub(c, "panels/1")).code, 200); // still usable
    } finally {
      await c.close();
    }
  }),
);

Deno.test(
  "presence - needs subscribe permission on the topic (403)",
  withPresence(async (server) => {
    const c = await join(server, { sub: "ann", perms: { subscribe: ["panels/1"] } });
    try {
      assert.equal((await ask(c, { action: "presence", topic: "panels/1" })).code, 200);
      const denied = await ask(c, { action: "presence_stats", topic: "panels/2" });
      assert.equal(denied.code, 403);
      assert.match(denied.msg, /Forbidden: presence of "panels\/2"/);
    } finally {
      await c.close();
    }
  }),
);

Deno.test(
  "presence - off by default: every topic is a 404 and subscribing costs nothing",
  async () => {
    const server = await startServer();
    const c = await Client.connect(wsUrl(server));
    try {
      assert.equal((await sub(c, "panels/1", { join_leave: true })).code, 200);
      assert.equal((await ask(c, { action: "presence", topic: "panels/1" })).code, 404);
      assert.equal(server.presence.held, 0);
    } finally {
      await c.close();
      await server.shutdown();
    }
  },
);

const isEvent = (m: Msg) => m.action === "join" || m.action === "leave";

Deno.test(
  "join_leave - a watcher gets joins and leaves of others (unsub, disconnect), never its own",
  withPresence(async (server) => {
    const watcher = await join(server, { sub: "w" });
    const plain = await join(server, { sub: "p" });
    const ann = await join(server, { sub: "ann", info: { desk: 1 } });
    try {
      assert.equal((await sub(watcher, "panels/5", { join_leave: true })).code, 200);
      await sub(plain, "panels/5"); // joins without join_leave: gets no events
      const first = await watcher.next(isEvent);
      assert.equal(first.action, "join");
      assert.equal(first.data.user, "p");
      await sub(ann, "panels/5");
      const joined = await watcher.next(isEvent);
      assert.deepEqual(joined, {
        mode: "pub_sub",
        action: "join",
        topic: "panels/5",
        data: { client: joined.data.client, user: "ann", src: "front", info: { desk: 1 } },
      });
      await ask(ann, { action: "unsub", topic: "panels/5" });
      const left = await watcher.next(isEvent);
      assert.equal(left.action, "leave");
      assert.deepEqual(left.data, joined.data);
      await sub(ann, "panels/5");
      assert.equal((await watcher.next(isEvent)).action, "join");
      await ann.close();
      const gone = await watcher.next(isEvent);
      assert.equal(gone.action, "leave");
      assert.equal(gone.data.user, "ann");
      // Its own leave and join: nothing. A sentinel join proves nothing else came before it.
      await ask(watcher, { action: "unsub", topic: "panels/5" });
      await sub(watcher, "panels/5", { join_leave: true });
      const sentinel = await join(server, { sub: "sentinel" });
      await sub(sentinel, "panels/5");
      const next = await watcher.next(isEvent);
      assert.equal(next.data.user, "sentinel");
      assert.equal(plain.inbox.filter(isEvent).length, 0);
      await sentinel.close();
    } finally {
      await Promise.all([watcher.close(), plain.close(), ann.close()]);
    }
  }),
);

Deno.test(
  "join_leave - a wildcard watch covers every presence topic it matches",
  withPresence(async (server) => {
    const watcher = await join(server, { sub: "w" });
    const ann = await join(server, { sub: "ann" });
    try {
      await sub(watcher, "panels/+", { join_leave: true });
      await sub(ann, ["panels/1", "panels/2", "orders/1"]);
      const events = await watcher.waitFor(2, isEvent);
      assert.deepEqual(events.map((e) => e.topic).sort(), ["panels/1", "panels/2"]);
      // The wildcard watcher itself is not present anywhere.
      const list = await ask(ann, { action: "presence", topic: "panels/1" });
      assert.deepEqual(list.data.map((e: Msg) => e.user), ["ann"]);
    } finally {
      await Promise.all([watcher.close(), ann.close()]);
    }
  }),
);

Deno.test("presence - a topic file with presence: true has presence", async () => {
  const lobby = defineTopic({ presence: true, onPublish: () => undefined });
  const server = await startServer({ routes: { topics: { "rooms/lobby": { default: lobby } } } });
  const a = await Client.connect(wsUrl(server, "?src=front"));
  try {
    await sub(a, "rooms/lobby");
    const list = await ask(a, { action: "presence", topic: "rooms/lobby" });
    assert.equal(list.code, 200);
    assert.deepEqual(list.data, [{
      client: list.data[0].client,
      user: null,
      src: "front",
      info: null,
    }]);
    assert.equal((await ask(a, { action: "presence", topic: "rooms/other" })).code, 404);
  } finally {
    await a.close();
    await server.shutdown();
  }
});

Deno.test(
  "presence - /metrics counts the entries held and the join/leave events sent",
  withPresence(async (server) => {
    const watcher = await join(server, { sub: "w" });
    const ann = await join(server, { sub: "ann" });
    try {
      await sub(watcher, "panels/3", { join_leave: true });
      await sub(ann, "panels/3");
      await watcher.next(isEvent);
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      assert.match(text, /^switchboard_presence_entries 2$/m);
      assert.match(text, /^switchboard_presence_events_total 1$/m);
    } finally {
      await Promise.all([watcher.close(), ann.close()]);
    }
  }),
);

Deno.test(
  "client SDK - presence, presenceStats and join/leave events, restored after a reconnect",
  withPresence(async (server) => {
    const url = wsUrl(server);
    const tokenFor = (sub: string) =>
      signJwt({ sub, exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
    const watcher = connect(url, {
      src: "watcher",
      token: await tokenFor("w"),
      reconnect: { minMs: 10, maxMs: 50 },
    });
    const ann = connect(url, { token: await tokenFor("ann") });
    const events: PresenceEvent[] = [];
    const deliveries: string[] = [];
    try {
      const off = watcher.subscribe("panels/4", (d) => deliveries.push(d.topic), {
        joinLeave: (e) => events.push(e),
      });
      await off.ready;
      const offAnn = ann.subscribe("panels/4", () => {});
      await offAnn.ready;
      await until(() => events.length === 1, "ann's join");
      assert.equal(events[0].type, "join");
      assert.equal(events[0].type === "join" && events[0].entry.user, "ann");
      const list = await ann.presence("panels/4");
      assert.deepEqual(list.map((e) => e.user).sort(), ["ann", "w"]);
      assert.deepEqual(await watcher.presenceStats("panels/4"), { clients: 2, users: 2 });
      await assert.rejects(ann.presence("orders/1"), (err: SwitchboardError) => err.code === 404);
      await assert.rejects(ann.presence("panels/+"), (err: SwitchboardError) => err.code === 400);
      await offAnn();
      await until(() => events.length === 2, "ann's leave");
      assert.equal(events[1].type, "leave");
      // The server drops the watcher; the SDK subscribes again with join_leave.
      const reopened = new Promise((resolve) => watcher.on("open", resolve));
      for (const conn of server.hub.connections()) if (conn.src === "watcher") conn.close(4001);
      await reopened;
      await until(
        async () => (await ann.presenceStats("panels/4")).clients === 1,
        "the watcher to be back",
      );
      ann.subscribe("panels/4", () => {});
      await until(() => events.length === 3, "a join after the reconnect");
      assert.equal(events[2].type, "join");
      assert.deepEqual(deliveries, []);
    } finally {
      await Promise.all([watcher.close(), ann.close()]);
    }
  }),
);

Deno.test("presence settings - a bad filter or ttl stops the start with one line", () => {
  assert.deepEqual(parseConfig({ PRESENCE: "panels/+, line/#" }).PRESENCE, ["panels/+", "line/#"]);
  assert.equal(parseConfig({}).PRESENCE_TTL_S, 60);
  assert.throws(
    () => parseConfig({ PRESENCE: "a/#/b" }),
    (err: Error) => err instanceof StartupError && /^Invalid setting PRESENCE: /.test(err.message),
  );
  assert.throws(() => parseConfig({ PRESENCE_TTL_S: "0" }), /Invalid setting PRESENCE_TTL_S/);
});

Deno.test(
  "join_leave - a connection the server closes (token expired, or kicked) leaves with an event",
  withPresence(async (server) => {
    const watcher = await join(server, { sub: "w" });
    const soon = await signJwt({ sub: "brief", exp: Math.floor(Date.now() / 1000) + 2 }, SECRET);
    const brief = await Client.connect(wsUrl(server, `?token=${soon}`));
    const kicked = await join(server, { sub: "kicked" }, "agent");
    try {
      await sub(watcher, "panels/6", { join_leave: true });
      await sub(brief, "panels/6");
      await sub(kicked, "panels/6");
      await watcher.waitFor(2, isEvent);
      watcher.inbox.length = 0;
      for (const conn of server.hub.connections()) if (conn.src === "agent") conn.close(4000);
      const out = await watcher.next(isEvent);
      assert.deepEqual([out.action, out.data.user], ["leave", "kicked"]);
      const expired = await watcher.next(isEvent, 5000);
      assert.deepEqual([expired.action, expired.data.user], ["leave", "brief"]);
      assert.equal((await brief.closed).code, 1008);
    } finally {
      await Promise.all([watcher.close(), brief.close(), kicked.close()]);
    }
  }),
);
