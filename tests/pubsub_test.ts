/**
 * Pub/sub over real sockets: the seed's messages, acks, topic filtering, wildcards, invalid
 * topics, unsub, retained values, topic callbacks, cleanup on close and the limits.
 * "Nothing arrived" is always proven with a later sentinel on the same socket, never a sleep.
 */
import assert from "node:assert/strict";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";
import { defineTopic, type MessageId, z } from "../lib/mod.ts";
import { createLogger } from "../lib/log.ts";
import routes from "../routes.gen.ts";

const SEED_SUB = '{"mode":"pub_sub","action":"sub","src":"front","topic":["user","order"]}';
const SEED_PUB =
  '{"mode":"pub_sub","action":"pub","src":"agent","topic":"user","code":200,"msg":"添加了一个用户","data":[{"name":"jw","age":110}]}';
const SENTINEL = "test/sentinel";

let nextId = 0;

/** Sends a pub_sub message with a fresh id and returns its ack. */
async function action(
  c: Client,
  act: "sub" | "unsub" | "pub",
  topic: unknown,
  extra: Msg = {},
): Promise<Msg> {
  const id: MessageId = `t${++nextId}`;
  c.send({ mode: "pub_sub", action: act, src: "front", topic, id, ...extra });
  return await c.next((m) => m.action === "ack" && m.id === id);
}

const sub = (c: Client, topic: unknown) => action(c, "sub", topic);
const unsub = (c: Client, topic: unknown) => action(c, "unsub", topic);
const pub = (c: Client, topic: unknown, extra: Msg = {}) => action(c, "pub", topic, extra);

/**
 * Publishes a sentinel from `publisher` and returns every delivery `subscriber` got before it,
 * emptying the subscriber's inbox of them. The subscriber must be subscribed to SENTINEL; since
 * one socket delivers in order, whatever was sent to it before the sentinel has arrived.
 */
async function deliveriesBefore(subscriber: Client, publisher: Client): Promise<Msg[]> {
  const mark = crypto.randomUUID();
  await pub(publisher, SENTINEL, { data: mark });
  await subscriber.waitFor(1, (m) => m.topic === SENTINEL && m.data === mark);
  const i = subscriber.inbox.findIndex((m) => m.topic === SENTINEL && m.data === mark);
  const before = subscriber.inbox.splice(0, i + 1).slice(0, i);
  // Earlier sentinels (sent for other subscribers) are not deliveries under test.
  return before.filter((m) => m.action === "pub" && m.topic !== SENTINEL);
}

/** Opens `n` clients. */
function connectAll(url: string, n: number): Promise<Client[]> {
  return Promise.all(Array.from({ length: n }, () => Client.connect(url)));
}

async function closeAll(clients: Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

Deno.test("pub/sub - the seed's sub and pub are byte-compatible", async () => {
  const server = await startServer();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  subscriber.send(SEED_SUB);
  assert.deepEqual(await subscriber.next(), {
    mode: "pub_sub",
    action: "ack",
    src: "control",
    topic: ["user", "order"],
    code: 200,
    msg: "subscribed",
    data: ["user", "order"],
  });
  publisher.send(SEED_PUB);
  const ack = await publisher.next();
  assert.equal(ack.action, "ack");
  assert.equal(ack.code, 200);
  const delivery = await subscriber.next((m) => m.action === "pub");
  assert.deepEqual(delivery, JSON.parse(SEED_PUB));
  assert.equal("id" in delivery, false);
  // Byte for byte: the frame the subscriber got is the frame the publisher sent.
  assert.equal(subscriber.raw[1], SEED_PUB);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - sub with a string adds to the topics and the ack lists them all", async () => {
  const server = await startServer();
  const c = await Client.connect(wsUrl(server));
  c.send('{"mode":"pub_sub","action":"sub","src":"front","topic":"user"}');
  const first = await c.next();
  assert.equal(first.code, 200);
  assert.equal(first.topic, "user");
  assert.deepEqual(first.data, ["user"]);
  const second = await sub(c, ["order", "user"]);
  assert.deepEqual(second, {
    mode: "pub_sub",
    action: "ack",
    src: "control",
    id: second.id,
    topic: ["order", "user"],
    code: 200,
    msg: "subscribed",
    data: ["user", "order"],
  });
  await c.close();
  await server.shutdown();
});

Deno.test("pub/sub - pub ack echoes the id and comes before the publisher's own delivery", async () => {
  const server = await startServer();
  const c = await Client.connect(wsUrl(server));
  await sub(c, "news");
  c.send({ mode: "pub_sub", action: "pub", src: "agent", topic: "news", id: 42, data: [1] });
  const [ack, delivery] = await c.waitFor(2);
  assert.deepEqual(ack, {
    mode: "pub_sub",
    action: "ack",
    src: "control",
    id: 42,
    topic: "news",
    code: 200,
    msg: "published",
    data: ["news"],
  });
  assert.deepEqual(delivery, {
    mode: "pub_sub",
    action: "pub",
    src: "agent",
    topic: "news",
    code: 200,
    msg: "",
    data: [1],
  });
  await c.close();
  await server.shutdown();
});

Deno.test("pub/sub - a publish without src carries the publisher's learned src", async () => {
  const server = await startServer();
  const subscriber = await Client.connect(wsUrl(server));
  const publisher = await Client.connect(wsUrl(server, "?src=vision"));
  await sub(subscriber, "cam");
  publisher.send({ mode: "pub_sub", action: "pub", topic: "cam", data: 1 });
  const delivery = await subscriber.next((m) => m.action === "pub");
  assert.equal(delivery.src, "vision");
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - clients not subscribed to a topic receive nothing of it", async () => {
  const server = await startServer();
  const [a, b, publisher] = await connectAll(wsUrl(server), 3);
  await sub(a, ["x", SENTINEL]);
  await sub(b, ["y", SENTINEL]);
  await pub(publisher, "y", { data: "for b" });
  await pub(publisher, "z", { data: "for nobody" });
  assert.deepEqual((await deliveriesBefore(a, publisher)).map((m) => m.data), []);
  assert.deepEqual((await deliveriesBefore(b, publisher)).map((m) => m.data), ["for b"]);
  // The publisher is not subscribed: it got acks only.
  assert.ok(publisher.inbox.every((m) => m.action === "ack"));
  await closeAll([a, b, publisher]);
  await server.shutdown();
});

/** Topics published in the wildcard test, and what each filter must receive of them. */
const UNIVERSE = [
  "a",
  "a/",
  "/a",
  "ab",
  "b",
  "a/b",
  "a/x",
  "a/b/c",
  "a/x/c",
  "a//c",
  "a/c",
  "a/b/d",
  "a/b/c/d",
  "x/b/c",
  "x/a",
  "$SYS/x",
];
const EXPECTED: Record<string, string[]> = {
  "a/+/c": ["a/b/c", "a/x/c", "a//c"],
  "a/#": ["a", "a/", "a/b", "a/x", "a/b/c", "a/x/c", "a//c", "a/c", "a/b/d", "a/b/c/d"],
  "#": UNIVERSE.filter((t) => t !== "$SYS/x"), // the `$` rule
  "+": ["a", "ab", "b"], // never across levels
  "+/+": ["a/", "/a", "a/b", "a/x", "a/c", "x/a"],
  "+/x": ["a/x"], // not $SYS/x
  "$SYS/#": ["$SYS/x"],
  "/#": ["/a"],
  "a/b": ["a/b"],
};

Deno.test("pub/sub - wildcard subscriptions follow the MQTT rules", async () => {
  const server = await startServer();
  const filters = Object.keys(EXPECTED);
  const subscribers = await connectAll(wsUrl(server), filters.length);
  const publisher = await Client.connect(wsUrl(server));
  for (const [i, filter] of filters.entries()) {
    const ack = await sub(subscribers[i], [filter, SENTINEL]);
    assert.equal(ack.code, 200, `${filter}: ${ack.msg}`);
  }
  for (const topic of UNIVERSE) {
    const ack = await pub(publisher, topic, { data: topic });
    assert.equal(ack.code, 200, `${topic}: ${ack.msg}`);
  }
  for (const [i, filter] of filters.entries()) {
    const got = (await deliveriesBefore(subscribers[i], publisher)).map((m) => m.topic);
    assert.deepEqual(got, EXPECTED[filter], `filter ${filter}`);
  }
  await closeAll([...subscribers, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - overlapping filters deliver each publish once", async () => {
  const server = await startServer();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  const ack = await sub(subscriber, ["a/+", "a/#", "a/b", "#", "+/b", "+/+", SENTINEL]);
  assert.equal(ack.code, 200);
  await pub(publisher, "a/b", { data: 1 });
  await pub(publisher, "a", { data: 2 });
  const got = (await deliveriesBefore(subscriber, publisher)).map((m) => [m.topic, m.data]);
  assert.deepEqual(got, [["a/b", 1], ["a", 2]]);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - publishing to a wildcard or a list is a 400", async () => {
  const server = await startServer();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  await sub(subscriber, ["#", SENTINEL]);
  for (const topic of ["a/+", "#", "a/#", "+", ["a", "b"]]) {
    const ack = await pub(publisher, topic, { data: 1 });
    assert.equal(ack.code, 400, JSON.stringify(topic));
    assert.equal(ack.action, "ack");
    assert.match(ack.msg, /Wildcards are not allowed|one topic/);
  }
  assert.deepEqual(await deliveriesBefore(subscriber, publisher), []);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - invalid topics are a 400 and the connection stays usable", async () => {
  const server = await startServer();
  const c = await Client.connect(wsUrl(server));
  const bad: [unknown, RegExp][] = [
    ["", /non-empty/],
    ["x".repeat(257), /longer than 256/],
    [Array.from({ length: 17 }, () => "l").join("/"), /more than 16 levels/],
    ["a/b#", /whole level/],
    ["a/b+", /whole level/],
    ["#/a", /last level/],
    ["a\u0000b", /NUL/],
    [["ok", 1], /topic/],
    [["ok", ""], /non-empty/], // one bad filter: none of the list is added
    [42, /topic/],
  ];
  for (const [topic, message] of bad) {
    const ack = await sub(c, topic);
    assert.equal(ack.action, "ack");
    assert.equal(ack.code, 400, JSON.stringify(topic));
    assert.match(ack.msg, message);
  }
  for (const topic of ["", "x".repeat(257), "a\u0000b"]) {
    assert.equal((await pub(c, topic, { data: 1 })).code, 400, JSON.stringify(topic));
  }
  // The limits themselves are accepted.
  const longest = "x".repeat(256);
  const deepest = Array.from({ length: 16 }, () => "l").join("/");
  const ok = await sub(c, [longest, deepest, "$SYS/#", "ok/+"]);
  assert.equal(ok.code, 200, ok.msg);
  assert.deepEqual(ok.data, [longest, deepest, "$SYS/#", "ok/+"]);
  await c.close();
  await server.shutdown();
});

Deno.test("pub/sub - unsub with a string or a list stops delivery", async () => {
  const server = await startServer();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  await sub(subscriber, ["a", "b/+", "c", SENTINEL]);
  const first = await unsub(subscriber, "a");
  assert.deepEqual(
    { action: first.action, code: first.code, msg: first.msg, data: first.data },
    { action: "ack", code: 200, msg: "unsubscribed", data: ["b/+", "c", SENTINEL] },
  );
  const second = await unsub(subscriber, ["b/+", "not-subscribed"]);
  assert.equal(second.code, 200);
  assert.deepEqual(second.data, ["c", SENTINEL]);
  for (const topic of ["a", "b/1", "c"]) await pub(publisher, topic, { data: topic });
  const got = (await deliveriesBefore(subscriber, publisher)).map((m) => m.topic);
  assert.deepEqual(got, ["c"]);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - retained values replay to exact and wildcard subscribers", async () => {
  const server = await startServer();
  const [publisher, live] = await connectAll(wsUrl(server), 2);
  await sub(live, ["r/#", SENTINEL]);
  await pub(publisher, "r/1", { src: "agent", msg: "v1", data: [1], retain: true });
  await pub(publisher, "r/1", { src: "agent", msg: "v2", data: [2], retain: true });
  await pub(publisher, "r/2", { src: "agent", msg: "w", data: { w: true }, retain: true });
  await pub(publisher, "r/3", { src: "agent", msg: "not kept", data: [3] });
  // Live subscribers get retained publishes like any other, without `retained`.
  const liveGot = await deliveriesBefore(live, publisher);
  assert.deepEqual(liveGot.map((m) => [m.topic, m.msg, m.retained]), [
    ["r/1", "v1", undefined],
    ["r/1", "v2", undefined],
    ["r/2", "w", undefined],
    ["r/3", "not kept", undefined],
  ]);

  const exact = await Client.connect(wsUrl(server));
  const ack = await sub(exact, "r/1");
  assert.equal(ack.code, 200);
  assert.deepEqual(await exact.next((m) => m.action === "pub"), {
    mode: "pub_sub",
    action: "pub",
    src: "agent",
    topic: "r/1",
    code: 200,
    msg: "v2", // the latest value wins
    data: [2],
    retained: true,
  });
  // The replay follows the ack on the socket.
  assert.deepEqual(exact.raw.map((r) => JSON.parse(r).action), ["ack", "pub"]);

  const wild = await Client.connect(wsUrl(server));
  await sub(wild, ["r/+", SENTINEL]);
  const replayed = await deliveriesBefore(wild, publisher);
  assert.deepEqual(
    replayed.map((m) => [m.topic, m.msg, m.retained]).sort(),
    [["r/1", "v2", true], ["r/2", "w", true]],
  );
  await closeAll([publisher, live, exact, wild]);
  await server.shutdown();
});

Deno.test("pub/sub - overlapping filters of one sub replay a retained value once", async () => {
  const server = await startServer();
  const [publisher, subscriber] = await connectAll(wsUrl(server), 2);
  await pub(publisher, "o/1", { data: 1, retain: true });
  await sub(subscriber, ["o/1", "o/+", "o/#", SENTINEL]);
  const got = await deliveriesBefore(subscriber, publisher);
  assert.deepEqual(got.map((m) => [m.topic, m.data, m.retained]), [["o/1", 1, true]]);
  await closeAll([publisher, subscriber]);
  await server.shutdown();
});

Deno.test("pub/sub - retain with data null clears the retained value", async () => {
  const server = await startServer();
  const [publisher, subscriber] = await connectAll(wsUrl(server), 2);
  await pub(publisher, "c/1", { data: [1], retain: true });
  await pub(publisher, "c/2", { data: [2], retain: true });
  assert.equal((await pub(publisher, "c/1", { data: null, retain: true })).code, 200);
  await sub(subscriber, ["c/#", SENTINEL]);
  const got = await deliveriesBefore(subscriber, publisher);
  assert.deepEqual(got.map((m) => [m.topic, m.data, m.retained]), [["c/2", [2], true]]);
  await closeAll([publisher, subscriber]);
  await server.shutdown();
});

Deno.test("pub/sub - a full retained store refuses the publish with 400 and delivers nothing", async () => {
  const server = await startServer({ maxRetained: 1 });
  const [publisher, subscriber] = await connectAll(wsUrl(server), 2);
  await sub(subscriber, ["m/#", SENTINEL]);
  assert.equal((await pub(publisher, "m/1", { data: 1, retain: true })).code, 200);
  assert.equal((await pub(publisher, "m/1", { data: 2, retain: true })).code, 200); // replaces
  const refused = await pub(publisher, "m/2", { data: 3, retain: true });
  assert.equal(refused.code, 400);
  assert.match(refused.msg, /limit of 1 retained topics/);
  const got = await deliveriesBefore(subscriber, publisher);
  assert.deepEqual(got.map((m) => m.data), [1, 2]);
  await closeAll([publisher, subscriber]);
  await server.shutdown();
});

/** Calls of the test topic callbacks. */
const calls: { topic: string; data: unknown; src: string | undefined }[] = [];
const logged: string[] = [];

const manifest = {
  commands: routes.commands,
  workers: routes.workers,
  topics: {
    ...routes.topics,
    "t/x": {
      default: defineTopic({
        data: z.array(z.number().int()).transform((a) => a.map((n) => n * 10)),
        onPublish(msg, ctx) {
          calls.push({ topic: ctx.topic, data: msg.data, src: ctx.client.src });
        },
      }),
    },
    "t/throw": {
      default: defineTopic({
        onPublish() {
          throw new Error("boom");
        },
      }),
    },
    "t/reject": { default: () => Promise.reject(new Error("async boom")) },
    "t/list": { default: () => [{ msg: "one" }, { msg: "two", data: [2] }] },
  },
};

function startWithTopics() {
  return startServer({
    routes: manifest,
    logger: createLogger("error", "json", (line) => logged.push(line)),
  });
}

Deno.test("pub/sub - the user callback's output follows the original and runs once", async () => {
  const server = await startWithTopics();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  await sub(subscriber, ["user", SENTINEL]);
  publisher.send(SEED_PUB);
  await subscriber.waitFor(2, (m) => m.topic === "user");
  const got = await deliveriesBefore(subscriber, publisher);
  assert.deepEqual(got, [JSON.parse(SEED_PUB), {
    mode: "pub_sub",
    action: "pub",
    src: "agent",
    topic: "user",
    code: 200,
    msg: "",
    data: ["hahaha", "xixixi"],
  }]);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - a callback may return a list; each is published in order", async () => {
  const server = await startWithTopics();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  await sub(subscriber, ["t/list", SENTINEL]);
  await pub(publisher, "t/list", { src: "agent", data: 0 });
  await subscriber.waitFor(3, (m) => m.topic === "t/list");
  const got = await deliveriesBefore(subscriber, publisher);
  assert.deepEqual(got.map((m) => [m.src, m.msg, m.data]), [
    ["agent", "", 0],
    ["control", "one", undefined],
    ["control", "two", [2]],
  ]);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - a callback's data schema rejects a bad publish with 400", async () => {
  calls.length = 0;
  const server = await startWithTopics();
  const [subscriber, publisher] = await connectAll(wsUrl(server, "?src=agent"), 2);
  await sub(subscriber, ["t/#", SENTINEL]);
  const refused = await pub(publisher, "t/x", { data: ["not a number"] });
  assert.equal(refused.code, 400);
  assert.match(refused.msg, /^Invalid data: "data\.0"/);
  assert.deepEqual(refused.data.map((i: Msg) => i.path), ["data.0"]);
  assert.deepEqual(await deliveriesBefore(subscriber, publisher), []);
  assert.deepEqual(calls, []);

  assert.equal((await pub(publisher, "t/x", { src: "vision", data: [1, 2] })).code, 200);
  const got = await deliveriesBefore(subscriber, publisher);
  // Subscribers get the data as published; the callback gets the schema's output.
  assert.deepEqual(got.map((m) => [m.topic, m.src, m.data]), [["t/x", "vision", [1, 2]]]);
  assert.deepEqual(calls, [{ topic: "t/x", data: [10, 20], src: "agent" }]);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - a throwing callback is logged and does not affect delivery", async () => {
  logged.length = 0;
  const server = await startWithTopics();
  const [subscriber, publisher] = await connectAll(wsUrl(server), 2);
  await sub(subscriber, ["t/throw", "t/reject", SENTINEL]);
  for (let i = 0; i < 2; i++) {
    assert.equal((await pub(publisher, "t/throw", { data: i })).code, 200);
    assert.equal((await pub(publisher, "t/reject", { data: i })).code, 200);
  }
  const got = await deliveriesBefore(subscriber, publisher);
  assert.deepEqual(got.map((m) => [m.topic, m.data]), [
    ["t/throw", 0],
    ["t/reject", 0],
    ["t/throw", 1],
    ["t/reject", 1],
  ]);
  assert.equal(logged.filter((l) => l.includes('Topic callback \\"t/throw\\" failed')).length, 2);
  assert.equal(logged.filter((l) => l.includes("async boom")).length, 2);
  await closeAll([subscriber, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - a closed subscriber's subscriptions are removed", async () => {
  const server = await startServer();
  const [gone, stays, publisher] = await connectAll(wsUrl(server), 3);
  await sub(gone, ["a", "a/#", "b"]);
  await sub(stays, ["a", SENTINEL]);
  assert.equal(server.hub.subscriptionCount, 5);
  await gone.close();
  // The server learns of the close from its own socket's close event: wait for it, bounded.
  await until(
    () => server.hub.subscriptionCount === 2,
    "the closed subscriber's subscriptions to go",
  );
  const delivered = server.hub.stats.delivered;
  await pub(publisher, "a", { data: "still here" });
  assert.deepEqual((await deliveriesBefore(stays, publisher)).map((m) => m.data), ["still here"]);
  // One delivery of "a" (to `stays`) plus the sentinel: nothing went to the closed client.
  assert.equal(server.hub.stats.delivered - delivered, 2);
  await closeAll([stays, publisher]);
  await server.shutdown();
});

Deno.test("pub/sub - MAX_SUBSCRIPTIONS refuses more filters with 400", async () => {
  const server = await startServer({ maxSubscriptions: 3 });
  const c = await Client.connect(wsUrl(server));
  assert.equal((await sub(c, ["a", "b"])).code, 200);
  const refused = await sub(c, ["c", "d"]);
  assert.equal(refused.code, 400);
  assert.equal(refused.msg, "Too many subscriptions (limit 3)");
  assert.deepEqual(refused.data, ["a", "b"]); // nothing of the refused list was added
  assert.equal((await sub(c, ["a", "c"])).code, 200); // "a" is not counted twice
  assert.equal((await sub(c, "d")).code, 400);
  assert.equal((await unsub(c, "a")).code, 200);
  const last = await sub(c, "d");
  assert.equal(last.code, 200);
  assert.deepEqual(last.data, ["b", "c", "d"]);
  await c.close();
  await server.shutdown();
});
