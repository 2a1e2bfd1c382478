/**
 * Presence across nodes on real Redis (127.0.0.1:6379), each test with a prefix of its own: two
 * nodes in this process, and a `main.ts` child killed with SIGKILL whose clients must leave
 * presence, with leave events, within PRESENCE_TTL_S. JWTs are signed here.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Client, type Msg, startServer } from "./_client.ts";
import { freePort, spawnMain, until } from "./_helpers.ts";
import { signJwt } from "../lib/session/jwt.ts";
import type { Switchboard } from "../lib/server.ts";

const REDIS = "redis://127.0.0.1:6379";
const SECRET = "presence-redis-secret-0123456789";
const LOG_LEVEL = Deno.env.get("TEST_LOG") ?? "silent";

/** A BROKER_URL with a prefix of its own, and the removal of its keys. */
function freshRedis(): { url: string; clean(): Promise<void> } {
  const prefix = `tp${crypto.randomUUID().slice(0, 12)}`;
  return {
    url: `${REDIS}/?prefix=${prefix}`,
    async clean() {
      const client = createClient({ url: REDIS });
      await client.connect();
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `*${prefix}*`, COUNT: 500 })) {
        keys.push(...batch);
      }
      if (keys.length > 0) await client.del(keys);
      await client.close();
    },
  };
}

async function token(claims: Msg): Promise<string> {
  return await signJwt({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, SECRET);
}

async function connect(port: number, claims: Msg): Promise<Client> {
  return await Client.connect(`ws://127.0.0.1:${port}/?src=front&token=${await token(claims)}`);
}

let ids = 0;

async function ask(c: Client, msg: Msg): Promise<Msg> {
  const id = `p${++ids}`;
  c.send({ mode: "pub_sub", src: "front", ...msg, id });
  return await c.next((m) => m.id === id);
}

const isEvent = (m: Msg) => m.action === "join" || m.action === "leave";

/** `n` nodes on one Redis, each with its presence relay subscribed. */
async function startNodes(n: number, url: string, extra: Msg = {}): Promise<Switchboard[]> {
  const nodes: Switchboard[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(
      await startServer({
        BROKER_URL: url,
        PRESENCE: "panels/+",
        JWT_SECRET: SECRET,
        LOG_LEVEL,
        ...extra,
      }),
    );
  }
  await until(
    () => nodes.every((s) => s.broker.transport.healthy && s.broker.presence.healthy),
    "the brokers and their presence relays to connect",
  );
  return nodes;
}

Deno.test("presence on redis - two nodes list, count and relay as one", async () => {
  const redis = freshRedis();
  const [a, b] = await startNodes(2, redis.url);
  const info = { name: "Ann" };
  const ann = await connect(a.port, { sub: "ann", info });
  const ann2 = await connect(b.port, { sub: "ann" });
  const bob = await connect(b.port, { sub: "bob" });
  const wild = await connect(a.port, { sub: "wild" });
  const watcher = await connect(b.port, { sub: "w" });
  try {
    assert.equal(
      (await ask(watcher, { action: "sub", topic: "panels/1", join_leave: true })).code,
      200,
    );
    assert.equal((await ask(wild, { action: "sub", topic: ["panels/+", "#"] })).code, 200);
    for (const c of [ann, ann2, bob]) await ask(c, { action: "sub", topic: "panels/1" });
    // Joins on both nodes reach the watcher on b, each once.
    const joins = await watcher.waitFor(3, isEvent);
    assert.deepEqual(joins.map((e) => e.data.user).sort(), ["ann", "ann", "bob"]);
    const fromA = joins.find((e) => e.data.client.startsWith(`${a.nodeId}-`))!;
    assert.deepEqual(fromA, {
      mode: "pub_sub",
      action: "join",
      topic: "panels/1",
      data: { client: fromA.data.client, user: "ann", src: "front", info },
    });
    // Either node answers with everyone; the wildcard subscriber is not listed.
    for (const c of [wild, bob]) {
      const list = await ask(c, { action: "presence", topic: "panels/1" });
      assert.equal(list.code, 200);
      assert.deepEqual(list.data.map((e: Msg) => e.user).sort(), ["ann", "ann", "bob", "w"]);
      const stats = await ask(c, { action: "presence_stats", topic: "panels/1" });
      assert.deepEqual(stats.data, { clients: 4, users: 3 });
    }
    // Leaves across nodes: an unsub on a, a disconnect on a.
    watcher.inbox.length = 0;
    await ask(ann, { action: "unsub", topic: "panels/1" });
    const left = await watcher.next(isEvent);
    assert.deepEqual([left.action, left.data.client], ["leave", fromA.data.client]);
    await ask(ann, { action: "sub", topic: "panels/1" });
    assert.equal((await watcher.next(isEvent)).action, "join");
    await ann.close();
    const gone = await watcher.next(isEvent);
    assert.deepEqual([gone.action, gone.data.user], ["leave", "ann"]);
    const after = await ask(bob, { action: "presence", topic: "panels/1" });
    assert.deepEqual(after.data.map((e: Msg) => e.user).sort(), ["ann", "bob", "w"]);
    // A sentinel join proves no duplicate event came before it.
    await ask(wild, { action: "sub", topic: "panels/1" });
    const sentinel = await watcher.next(isEvent);
    assert.deepEqual([sentinel.action, sentinel.data.user], ["join", "wild"]);
    assert.equal(watcher.inbox.filter(isEvent).length, 0);
  } finally {
    await Promise.all([ann, ann2, bob, wild, watcher].map((c) => c.close()));
    await Promise.all([a.shutdown(), b.shutdown()]);
    await redis.clean();
  }
});

Deno.test("presence on redis - a node's shutdown removes its entries with leave events", async () => {
  const redis = freshRedis();
  const [a, b] = await startNodes(2, redis.url);
  const watcher = await connect(b.port, { sub: "w" });
  const ann = await connect(a.port, { sub: "ann" });
  try {
    await ask(watcher, { action: "sub", topic: "panels/2", join_leave: true });
    await ask(ann, { action: "sub", topic: "panels/2" });
    assert.equal((await watcher.next(isEvent)).action, "join");
    await a.shutdown();
    const left = await watcher.next(isEvent);
    assert.deepEqual([left.action, left.data.user], ["leave", "ann"]);
    const list = await ask(watcher, { action: "presence", topic: "panels/2" });
    assert.deepEqual(list.data.map((e: Msg) => e.user), ["w"]);
  } finally {
    await Promise.all([watcher.close(), ann.close()]);
    await Promise.all([a.shutdown(), b.shutdown()]);
    await redis.clean();
  }
});

Deno.test("presence on redis - clients of a node killed with SIGKILL leave within the ttl", async () => {
  const redis = freshRedis();
  const ttlSeconds = 2;
  const [survivor] = await startNodes(1, redis.url, { PRESENCE_TTL_S: ttlSeconds });
  const child = spawnMain([], {
    BROKER_URL: redis.url,
    PRESENCE: "panels/+",
    PRESENCE_TTL_S: `${ttlSeconds}`,
    JWT_SECRET: SECRET,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
  });
  const clients: Client[] = [];
  try {
    const port = await child.listening();
    await child.match(/Connected to Redis/, { what: "the child to reach Redis" });
    const watcher = await connect(survivor.port, { sub: "w" });
    clients.push(watcher);
    await ask(watcher, { action: "sub", topic: "panels/9", join_leave: true });
    for (const user of ["doomed-1", "doomed-2"]) {
      const c = await connect(port, { sub: user });
      clients.push(c);
      assert.equal((await ask(c, { action: "sub", topic: "panels/9" })).code, 200);
    }
    const joins = await watcher.waitFor(2, isEvent, 10_000);
    assert.deepEqual(joins.map((e) => e.data.user).sort(), ["doomed-1", "doomed-2"]);
    watcher.inbox.length = 0;
    child.kill("SIGKILL");
    await child.exited();
    // Entries expire ¾ ttl after the last refresh, a sweep follows within ⅛ ttl: the deadline is
    // the ttl, plus a second for a loaded test machine.
    const leaves = await watcher.waitFor(2, isEvent, ttlSeconds * 1000 + 1000);
    assert.deepEqual(leaves.map((e) => [e.action, e.data.user]).sort(), [
      ["leave", "doomed-1"],
      ["leave", "doomed-2"],
    ]);
    const list = await ask(watcher, { action: "presence", topic: "panels/9" });
    assert.deepEqual(list.data.map((e: Msg) => e.user), ["w"]);
  } finally {
    child.kill("SIGKILL");
    await child.exited().catch(() => {});
    await Promise.all(clients.map((c) => c.close()));
    await survivor.shutdown();
    await redis.clean();
  }
});

Deno.test("presence on redis - without Redis a presence request is a 503 and subscribing works", async () => {
  const port = freePort(); // nothing listens there
  const server = await startServer({
    BROKER_URL: `redis://127.0.0.1:${port}/?prefix=nobody`,
    PRESENCE: "panels/+",
    JWT_SECRET: SECRET,
    LOG_LEVEL,
  });
  const c = await connect(server.port, { sub: "ann" });
  try {
    assert.equal((await ask(c, { action: "sub", topic: "panels/1" })).code, 200);
    const reply = await ask(c, { action: "presence", topic: "panels/1" });
    assert.equal(reply.code, 503);
    assert.match(reply.msg, /Presence is unavailable/);
    assert.equal(server.presence.held, 1); // kept, written once Redis is there
    assert.equal((await ask(c, { action: "presence", topic: "orders/1" })).code, 404);
  } finally {
    await c.close();
    await server.shutdown();
  }
});

/** A throwaway redis-server on a port, without persistence: it comes back empty. */
async function startRedis(port: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("redis-server", {
    args: ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await until(async () => {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  }, `redis-server to listen on port ${port}`);
  return child;
}

Deno.test("presence on redis - after an outage the entries are written again, with joins", async () => {
  const port = freePort();
  let redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}/?prefix=outage`;
  const [a, b] = await startNodes(2, url, { PRESENCE_TTL_S: 2 });
  const ann = await connect(a.port, { sub: "ann" });
  const watcher = await connect(b.port, { sub: "w" });
  try {
    await ask(watcher, { action: "sub", topic: "panels/3", join_leave: true });
    await ask(ann, { action: "sub", topic: "panels/3" });
    assert.equal((await watcher.next(isEvent)).data.user, "ann");
    redis.kill("SIGKILL");
    await redis.status;
    assert.equal((await ask(watcher, { action: "presence", topic: "panels/3" })).code, 503);
    redis = await startRedis(port); // empty: every entry is gone
    await until(
      () => a.broker.presence.healthy && b.broker.presence.healthy,
      { what: "the nodes to reconnect", timeoutMs: 10_000 },
    );
    // Each node's refresh puts its entries back and reports them (b's own watcher entry too, which
    // its watcher never hears about). If b's relay came back after a's refresh, b's watcher is
    // told it missed changes instead: either way it knows to look, and the list is whole.
    const back = await watcher.next((m) => isEvent(m) || m.action === "presence_sync", 5000);
    if (back.action === "presence_sync") assert.deepEqual(back.data, {});
    else assert.deepEqual([back.action, back.data.user], ["join", "ann"]);
    const users = async () =>
      (await ask(watcher, { action: "presence", topic: "panels/3" })).data?.map((e: Msg) => e.user)
        .sort().join();
    await until(async () => await users() === "ann,w", "both entries to be back");
  } finally {
    await Promise.all([ann.close(), watcher.close()]);
    await Promise.all([a.shutdown(), b.shutdown()]);
    redis.kill("SIGKILL");
    await redis.status;
  }
});
