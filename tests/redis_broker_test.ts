/**
 * The Redis broker with real Redis and real servers: several nodes in one process, each run with a
 * fresh channel prefix so parallel runs do not meet. Redis must answer on 127.0.0.1:6379 (.ci/run
 * starts it) and `redis-server` must be on PATH for the outage test, which runs its own Redis.
 * "Nothing else arrived" is proven with a later sentinel on the same path, never a sleep.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { freePort, until } from "./_helpers.ts";
import type { Switchboard } from "../lib/server.ts";
import { escapeGlob, parseRedisUrl, redisSubscriptions } from "../lib/broker/redis_channels.ts";
import { parseBrokerUrl } from "../lib/broker/redis_url.ts";
import { RedisTransport } from "../lib/broker/redis_transport.ts";
import { StartupError } from "../lib/wire/errors.ts";
import { createBroker } from "../lib/broker/mod.ts";
import { createLogger } from "../lib/log.ts";

const REDIS = "redis://127.0.0.1:6379";
const LOG_LEVEL = Deno.env.get("TEST_LOG") ?? "silent";

let nextId = 0;

/** A BROKER_URL with a prefix of its own. */
function freshUrl(base = REDIS): { url: string; prefix: string } {
  const prefix = `test-${crypto.randomUUID()}`;
  return { url: `${base}/?prefix=${prefix}`, prefix };
}

/** Fails with a clear message when the shared Redis is not there. */
async function requireRedis(port = 6379): Promise<void> {
  if (!(await ping(port))) {
    throw new Error(
      `Redis is not answering on 127.0.0.1:${port}: start it (redis-server; .ci/run does) to run the scale-out tests`,
    );
  }
}

/** Whether a Redis answers PING on the port. */
async function ping(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/** Starts `n` servers on one Redis URL and waits until every broker is connected. */
async function startNodes(n: number, url: string, extra = {}): Promise<Switchboard[]> {
  const nodes: Switchboard[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(await startServer({ BROKER_URL: url, LOG_LEVEL, ...extra }));
  }
  await until(() => nodes.every((s) => s.broker.transport.healthy), "the brokers to connect");
  return nodes;
}

function broker(server: Switchboard): RedisTransport {
  assert.ok(server.broker.transport instanceof RedisTransport, "expected the Redis transport");
  return server.broker.transport;
}

/** Waits until every node's Redis subscriptions are confirmed. */
async function settled(nodes: Switchboard[]): Promise<void> {
  await Promise.all(nodes.map((s) => broker(s).settled()));
}

/** Sends a pub_sub message with a fresh id and returns its ack. */
async function action(c: Client, act: string, topic: unknown, extra: Msg = {}): Promise<Msg> {
  const id = `r${++nextId}`;
  c.send({ mode: "pub_sub", action: act, src: "front", topic, id, ...extra });
  return await c.next((m) => m.action === "ack" && m.id === id);
}

const sub = (c: Client, topic: unknown) => action(c, "sub", topic);
const pub = (c: Client, topic: string, extra: Msg = {}) => action(c, "pub", topic, extra);

/** Removes and returns the deliveries before the first delivery on `topic` with `data`. */
async function deliveriesBefore(c: Client, topic: string, data: unknown): Promise<Msg[]> {
  const is = (m: Msg) => m.action === "pub" && m.topic === topic && m.data === data;
  await c.waitFor(1, is);
  const i = c.inbox.findIndex(is);
  return c.inbox.splice(0, i + 1).slice(0, i).filter((m) => m.action === "pub");
}

async function shutdownAll(nodes: Switchboard[], clients: Client[] = []): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(nodes.map((s) => s.shutdown()));
}

/** Deletes what a test left in the shared Redis. */
async function dropKeys(prefix: string): Promise<void> {
  const redis = createClient({ url: REDIS });
  await redis.connect();
  await redis.del(`${prefix}:retained`);
  await redis.close();
}

Deno.test("redis broker - parseRedisUrl reads the prefix and refuses bad URLs", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6379"), {
    url: "redis://127.0.0.1:6379",
    prefix: "sb",
    where: "127.0.0.1:6379",
  });
  assert.deepEqual(parseRedisUrl("rediss://u:secret@cache.local/2?prefix=app"), {
    url: "rediss://u:secret@cache.local/2",
    prefix: "app",
    where: "cache.local:6379",
  });
  assert.throws(() => parseRedisUrl("redis://h/x"), StartupError);
  assert.throws(() => parseRedisUrl("redis://h/?prefix="), StartupError);
  assert.throws(
    () => parseRedisUrl("redis://u:secret@h/?db=1"),
    (err: Error) => err instanceof StartupError && !err.message.includes("secret"),
  );
});

Deno.test("redis broker - parseBrokerUrl reads Sentinel and Cluster URLs and never echoes them", () => {
  assert.deepEqual(
    parseBrokerUrl("redis+sentinel://:p%40ss@s1:26379,s2:26380,[::1]:26381/main?prefix=app"),
    {
      mode: "sentinel",
      nodes: [{ host: "s1", port: 26379 }, { host: "s2", port: 26380 }, {
        host: "::1",
        port: 26381,
      }],
      master: "main",
      username: undefined,
      password: "p@ss",
      prefix: "app",
      where: "main via sentinels s1:26379,s2:26380,::1:26381",
    },
  );
  const cluster = parseBrokerUrl("redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7000");
  assert.ok(cluster.mode === "cluster");
  assert.deepEqual([cluster.username, cluster.password], ["user", "pw"]);
  assert.equal(cluster.where, "cluster 10.0.0.1:7000,10.0.0.2:7000");
  assert.equal(cluster.prefix, "sb");
  assert.equal(parseBrokerUrl("redis://h:1/?prefix=x").mode, "single");
  const bad = [
    "redis+sentinel://:s3cr3t@h:26379", // no master name
    "redis+sentinel://:s3cr3t@h/main", // no port
    "redis+cluster://:s3cr3t@h:7000/x", // a path
    "redis+cluster://:s3cr3t@h:7000?db=2", // an unknown option
    "redis+cluster://:s3cr3t@h:70000", // a port out of range
    "redis+cluster://:s3cr3t@h:7000,,h:7001", // an empty address
    "redis+cluster://:s3cr3t@h:7000?prefix=", // an empty prefix
    "redis+nats://:s3cr3t@h:7000",
  ];
  for (const url of bad) {
    assert.throws(
      () => parseBrokerUrl(url),
      (err: Error) =>
        err instanceof StartupError && err.message.startsWith("Invalid setting BROKER_URL: ") &&
        !err.message.includes("s3cr3t"),
      url,
    );
  }
});

Deno.test("redis broker - redisSubscriptions covers each filter with the fewest subscriptions", () => {
  const t = "sb:t:";
  assert.deepEqual(redisSubscriptions(t, "a/b"), ["c:sb:t:a/b"]);
  assert.deepEqual(redisSubscriptions(t, "a/+/c"), ["p:sb:t:a/*/c"]);
  assert.deepEqual(redisSubscriptions(t, "#"), ["p:sb:t:*"]);
  assert.deepEqual(redisSubscriptions(t, "a/#"), ["c:sb:t:a", "p:sb:t:a/*"]);
  assert.deepEqual(redisSubscriptions(t, "a/+/#"), ["p:sb:t:a/*"]);
  assert.deepEqual(redisSubscriptions(t, "+/b/#"), ["p:sb:t:*/b", "p:sb:t:*/b/*"]);
  // Glob characters in topic text match only themselves; an exact channel needs no escaping.
  assert.deepEqual(redisSubscriptions(t, "*?/+"), ["p:sb:t:\\*\\?/*"]);
  assert.deepEqual(redisSubscriptions(t, "[x]\\"), ["c:sb:t:[x]\\"]);
  assert.equal(escapeGlob("a*b?[c]\\d"), "a\\*b\\?\\[c\\]\\\\d");
  assert.deepEqual(redisSubscriptions("p*:t:", "+"), ["p:p\\*:t:*"]);
});

Deno.test("redis broker - a publish reaches subscribers on both nodes once and in order", async () => {
  await requireRedis();
  const { url } = freshUrl();
  const nodes = await startNodes(2, url);
  const [a, b] = nodes;
  const [subA, subB, publisher, other] = await Promise.all([
    Client.connect(wsUrl(a)),
    Client.connect(wsUrl(b)),
    Client.connect(wsUrl(a)),
    Client.connect(wsUrl(b)),
  ]);
  await sub(subA, "seq");
  await sub(subB, "seq");
  await settled(nodes);
  const N = 1000;
  for (let i = 0; i < N; i++) {
    publisher.send({ mode: "pub_sub", action: "pub", src: "agent", topic: "seq", data: i });
  }
  await pub(publisher, "seq", { data: "end" });
  await subB.waitFor(1, (m) => m.data === "end");
  // Redis has sent A's own copies back to A before this: a copy not dropped would show below.
  await pub(other, "seq", { data: "fin" });
  const expected = [...Array.from({ length: N }, (_, i) => i), "end"];
  for (const c of [subA, subB]) {
    const got = await deliveriesBefore(c, "seq", "fin");
    assert.deepEqual(got.map((m) => m.data), expected);
    assert.equal(got[0].src, "agent");
  }
  // B got A's messages from Redis; A dropped its own copies.
  assert.ok(broker(b).received >= N + 1);
  assert.equal(broker(a).dropped + broker(b).dropped, 0);
  await shutdownAll(nodes, [subA, subB, publisher, other]);
});

Deno.test("redis broker - overlapping and wildcard filters on a node get each publish once", async () => {
  await requireRedis();
  const { url } = freshUrl();
  const nodes = await startNodes(2, url);
  const [a, b] = nodes;
  const [all, plus, deep, publisher] = await Promise.all([
    Client.connect(wsUrl(b)),
    Client.connect(wsUrl(b)),
    Client.connect(wsUrl(b)),
    Client.connect(wsUrl(a)),
  ]);
  await sub(all, ["w/+", "w/#", "#", "w/a", "end"]);
  await sub(plus, ["w/+", "end"]);
  await sub(deep, ["w/a/+", "w/*?[x]\\/+", "end"]);
  await settled(nodes);
  const glob = "w/*?[x]\\";
  for (const topic of ["w/a", "w/a/b", glob, `${glob}/z`, "w/*?[x]\\z/y", "other/w/a"]) {
    await pub(publisher, topic, { data: topic });
  }
  await pub(publisher, "end", { data: "end" });
  const topics = async (c: Client) => (await deliveriesBefore(c, "end", "end")).map((m) => m.data);
  assert.deepEqual(await topics(all), [
    "w/a",
    "w/a/b",
    glob,
    `${glob}/z`,
    "w/*?[x]\\z/y",
    "other/w/a",
  ]);
  assert.deepEqual(await topics(plus), ["w/a", glob]);
  assert.deepEqual(await topics(deep), ["w/a/b", `${glob}/z`]);
  await shutdownAll(nodes, [all, plus, deep, publisher]);
});

Deno.test("redis broker - a node gets no traffic for topics its clients do not want", async () => {
  await requireRedis();
  const { url } = freshUrl();
  const nodes = await startNodes(2, url);
  const [a, b] = nodes;
  const [listener, publisher] = await Promise.all([
    Client.connect(wsUrl(b)),
    Client.connect(wsUrl(a)),
  ]);
  await sub(listener, ["quiet/end", "gone"]);
  await action(listener, "unsub", "gone");
  await settled(nodes);
  const before = broker(b).received;
  for (let i = 0; i < 200; i++) {
    publisher.send({ mode: "pub_sub", action: "pub", topic: i % 2 ? "loud/x" : "gone", data: i });
  }
  await pub(publisher, "quiet/end", { data: "end" });
  assert.deepEqual(await deliveriesBefore(listener, "quiet/end", "end"), []);
  // Only the sentinel crossed: everything arrives in publish order, so the 200 would be counted.
  assert.equal(broker(b).received - before, 1);
  await shutdownAll(nodes, [listener, publisher]);
});

Deno.test("redis broker - a retained value set on one node is replayed on another and cleared", async () => {
  await requireRedis();
  const { url, prefix } = freshUrl();
  try {
    const nodes = await startNodes(2, url);
    const [a, b] = nodes;
    const [watcher, publisher] = await Promise.all([
      Client.connect(wsUrl(b)),
      Client.connect(wsUrl(a)),
    ]);
    await sub(watcher, ["r/1", "r/keep"]);
    await settled(nodes);
    await pub(publisher, "r/keep", { data: "kept", retain: true });
    await pub(publisher, "r/1/deep", { data: "deep", retain: true }); // HSCAN finds it, r/+ must not
    await pub(publisher, "rx", { data: "rx", retain: true });
    await pub(publisher, "r/1", { data: "v1", retain: true });
    // The live copy travels after the HSET on the same connection: Redis has the value now.
    await watcher.waitFor(1, (m) => m.topic === "r/1" && m.data === "v1");

    const exact = await Client.connect(wsUrl(b));
    await sub(exact, "r/1");
    const replay = await exact.next((m) => m.action === "pub");
    assert.deepEqual([replay.topic, replay.data, replay.retained], ["r/1", "v1", true]);
    const wild = await Client.connect(wsUrl(b));
    await sub(wild, "r/+");
    // The next replay goes over the same connection after the scan: it marks the scan's end.
    await sub(wild, "rx");
    const replays = await deliveriesBefore(wild, "rx", "rx");
    assert.deepEqual(replays.map((m) => m.data).sort(), ["kept", "v1"]);

    await pub(publisher, "r/1", { data: null, retain: true });
    await watcher.waitFor(1, (m) => m.topic === "r/1" && m.data === null);
    const late = await Client.connect(wsUrl(b));
    // Replays run in filter order over one connection: r/keep's arriving proves r/1 had none.
    await sub(late, ["r/1", "r/keep"]);
    const first = await late.next((m) => m.action === "pub");
    assert.deepEqual([first.topic, first.data], ["r/keep", "kept"]);
    await shutdownAll(nodes, [watcher, publisher, exact, wild, late]);
  } finally {
    await dropKeys(prefix); // also when the test fails: the shared Redis keeps nothing
  }
});

Deno.test("redis broker - MAX_RETAINED caps the shared hash but updates still land", async () => {
  await requireRedis();
  const { url, prefix } = freshUrl();
  try {
    const nodes = await startNodes(1, url, { MAX_RETAINED: 2 });
    const [a] = nodes;
    for (const topic of ["cap/1", "cap/2", "cap/3"]) {
      a.publish(topic, { data: topic, retain: true });
    }
    a.publish("cap/1", { data: "updated", retain: true });
    const redis = createClient({ url: REDIS });
    await redis.connect();
    const key = `${prefix}:retained`;
    let stored: Record<string, string> = {};
    await until(async () => {
      stored = await redis.hGetAll(key) as Record<string, string>;
      return JSON.parse(stored["cap/1"] ?? "{}").data === "updated";
    }, "the update to be stored");
    assert.deepEqual(Object.keys(stored).sort(), ["cap/1", "cap/2"]);
    assert.equal(JSON.parse(stored["cap/1"]).data, "updated");
    await redis.close();
    await shutdownAll(nodes);
  } finally {
    await dropKeys(prefix);
  }
});

Deno.test("redis broker - a retained publish refused by MAX_RETAINED says so in its ack", async () => {
  await requireRedis();
  const { url, prefix } = freshUrl();
  const nodes = await startNodes(2, url, { MAX_RETAINED: 1 });
  const [a, b] = nodes;
  const [publisher, listener] = await Promise.all([
    Client.connect(wsUrl(a)),
    Client.connect(wsUrl(b)),
  ]);
  try {
    await sub(listener, "full/+");
    await settled(nodes);
    assert.equal((await pub(publisher, "full/1", { data: 1, retain: true })).code, 200);
    const refused = await pub(publisher, "full/2", { data: 2, retain: true });
    assert.equal(refused.code, 400);
    assert.match(refused.msg as string, /limit of 1 retained topics is reached/);
    // The live publish went out all the same, and the next one is acked as usual.
    await listener.waitFor(1, (m) => m.action === "pub" && m.data === 2);
    assert.equal((await pub(publisher, "full/1", { data: 3, retain: true })).code, 200);
  } finally {
    await shutdownAll(nodes, [publisher, listener]);
    await dropKeys(prefix);
  }
});

Deno.test("redis broker - broadcast and sendTo from one node reach the other node's clients", async () => {
  await requireRedis();
  const { url } = freshUrl();
  const nodes = await startNodes(2, url);
  const [a, b] = nodes;
  const [front, back, local] = await Promise.all([
    Client.connect(wsUrl(b, "?src=front")),
    Client.connect(wsUrl(b, "?src=back")),
    Client.connect(wsUrl(a, "?src=front")),
  ]);
  await settled(nodes);
  const backId = [...b.hub.connections()].find((c) => c.src === "back")!.id;
  a.sendTo({ src: "front" }, { msg: "to fronts" });
  a.sendTo({ id: backId }, { msg: "to back" });
  a.broadcast({ msg: "to all" });
  const received = async (c: Client) => {
    await c.waitFor(1, (m) => m.msg === "to all");
    return c.inbox.splice(0).map((m) => m.msg);
  };
  assert.deepEqual(await received(front), ["to fronts", "to all"]);
  assert.deepEqual(await received(back), ["to back", "to all"]);
  assert.deepEqual(await received(local), ["to fronts", "to all"]);
  await shutdownAll(nodes, [front, back, local]);
});

Deno.test("redis broker - a node without Redis starts degraded and keeps local traffic", async () => {
  const port = freePort();
  const { url } = freshUrl(`redis://127.0.0.1:${port}`);
  const server = await startServer({ BROKER_URL: url, LOG_LEVEL });
  const health = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
  assert.equal(health.status, "degraded");
  assert.deepEqual(health.broker, {
    kind: "redis",
    healthy: false,
    reason: `Redis is unavailable (127.0.0.1:${port})`,
  });
  const [listener, publisher] = await Promise.all([
    Client.connect(wsUrl(server)),
    Client.connect(wsUrl(server)),
  ]);
  await sub(listener, "local");
  // Delivered here, but not to other nodes: the ack says so.
  const ack = await pub(publisher, "local", { data: 1, retain: true });
  assert.equal(ack.code, 503);
  assert.match(ack.msg as string, /^Published on this node only: the broker is unavailable/);
  assert.equal((await listener.next((m) => m.action === "pub")).data, 1);
  assert.ok(broker(server).dropped >= 2); // the publish and the retained value
  await shutdownAll([server], [listener, publisher]);
});

/** A throwaway redis-server on a port, without persistence. */
async function startRedis(port: number): Promise<Deno.ChildProcess> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new Error(
      "redis-server is not on PATH: install Redis (apt-get install redis-server) to run the outage test",
    );
  }
  try {
    await until(() => ping(port), `redis-server to answer on port ${port}`);
  } catch (err) {
    child.kill("SIGKILL");
    await child.status;
    throw err;
  }
  return child;
}

async function stopRedis(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await child.status;
}

Deno.test("redis broker - nodes outlive a Redis outage and reconnect by themselves", async () => {
  const port = freePort();
  let redis = await startRedis(port);
  const { url } = freshUrl(`redis://127.0.0.1:${port}`);
  const nodes = await startNodes(2, url);
  const [a, b] = nodes;
  const [subA, subB, pubA, pubB] = await Promise.all([
    Client.connect(wsUrl(a)),
    Client.connect(wsUrl(b)),
    Client.connect(wsUrl(a)),
    Client.connect(wsUrl(b)),
  ]);
  try {
    await sub(subA, "d/x");
    await sub(subB, ["d/x", "d/drop"]);
    await settled(nodes);
    await pub(pubA, "d/x", { data: "before" });
    await subB.waitFor(1, (m) => m.data === "before");

    await stopRedis(redis);
    await until(() => nodes.every((s) => !s.broker.transport.healthy), "the brokers to notice");
    const health = await (await fetch(`http://127.0.0.1:${a.port}/healthz`)).json();
    assert.equal(health.status, "degraded");
    // Local traffic keeps working on each node; (un)subscriptions made now take effect later.
    assert.equal((await pub(pubA, "d/x", { data: "local A" })).code, 503);
    assert.equal((await pub(pubB, "d/x", { data: "local B" })).code, 503);
    await subA.waitFor(1, (m) => m.data === "local A");
    await subB.waitFor(1, (m) => m.data === "local B");
    await sub(subB, "d/late");
    await action(subB, "unsub", "d/drop");

    redis = await startRedis(port);
    await until(() => nodes.every((s) => s.broker.transport.healthy), {
      what: "the brokers to reconnect",
      timeoutMs: 10_000,
    });
    const after = await (await fetch(`http://127.0.0.1:${b.port}/healthz`)).json();
    assert.equal(after.status, "ok");
    // Only d/late crosses: B subscribed to it, and gave up d/drop, while Redis was away.
    const received = broker(b).received;
    await pub(pubA, "d/drop", { data: "dropped" });
    await pub(pubA, "d/late", { data: "late" });
    await subB.waitFor(1, (m) => m.data === "late");
    assert.equal(broker(b).received - received, 1);
    await pub(pubA, "d/x", { data: "after A" });
    await pub(pubB, "d/x", { data: "after B" });
    await subB.waitFor(1, (m) => m.data === "after A");
    await subA.waitFor(1, (m) => m.data === "after B");
    // Nothing sent during the outage crossed, and everything else arrived once.
    const seen = (c: Client) => c.inbox.filter((m) => m.action === "pub").map((m) => m.data).sort();
    assert.deepEqual(seen(subA), ["after A", "after B", "before", "local A"]);
    assert.deepEqual(seen(subB), ["after A", "after B", "before", "late", "local B"]);
  } finally {
    await shutdownAll(nodes, [subA, subB, pubA, pubB]);
    await stopRedis(redis);
  }
});

Deno.test("redis broker - a node id that is empty or has a space is refused", () => {
  const sink = { deliver() {}, broadcast() {}, sendTo() {} };
  const config = { BROKER_URL: freshUrl().url, MAX_RETAINED: 10 };
  const log = createLogger("silent", "pretty");
  for (const nodeId of ["a b", ""]) {
    assert.throws(() => createBroker(config, sink, { log, nodeId }), TypeError);
  }
});
