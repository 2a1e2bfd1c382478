/**
 * History and recovery end to end: real servers on port 0, real WebSockets, on the memory broker
 * and on real Redis with two nodes (a unique `?prefix=` per test). Time moves with a clock whose
 * `now()` a test can shift forward (timers stay real), so expiry needs no sleeping.
 */
import assert from "node:assert/strict";
import type { Switchboard } from "../lib/server.ts";
import type { Clock } from "../lib/clock.ts";
import { systemClock } from "../lib/clock.ts";
import { parseConfig } from "../lib/config.ts";
import { defineTopic } from "../lib/mod.ts";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { clockOf, fakeClient, fakeServer } from "./_fakes.ts";
import { sleep, spawnMain, until } from "./_helpers.ts";

/** The system clock's timers, with a `now()` that `advance` moves forward. */
class ShiftClock implements Clock {
  #shift = 0;
  now = () => Date.now() + this.#shift;
  setTimeout = systemClock.setTimeout;
  clearTimeout = systemClock.clearTimeout;
  endOfTurn = systemClock.endOfTurn;
  advance(ms: number): void {
    this.#shift += ms;
  }
}

interface Nodes {
  /** Two nodes (the same server twice on memory). */
  a: Switchboard;
  b: Switchboard;
  clock: ShiftClock;
  close(): Promise<void>;
}

type Engine = "memory" | "redis";
const ENGINES: Engine[] = ["memory", "redis"];

async function nodes(engine: Engine, settings: Record<string, unknown> = {}): Promise<Nodes> {
  const clock = new ShiftClock();
  const options = { HISTORY: "h/#=100:60", clock, ...settings };
  if (engine === "memory") {
    const a = await startServer(options);
    return { a, b: a, clock, close: () => a.shutdown() };
  }
  const url = `redis://127.0.0.1:6379/?prefix=th${crypto.randomUUID().slice(0, 8)}`;
  const a = await startServer({ ...options, BROKER_URL: url });
  const b = await startServer({ ...options, BROKER_URL: url });
  await until(() => a.status === "ok" && b.status === "ok", "both nodes to reach Redis");
  return { a, b, clock, close: async () => void await Promise.all([a.shutdown(), b.shutdown()]) };
}

const sub = (id: number, topic: string | string[], recover?: unknown): Msg => ({
  mode: "pub_sub",
  action: "sub",
  id,
  topic,
  ...(recover === undefined ? {} : { recover }),
});
const pub = (topic: string, data: unknown, extra: Msg = {}): Msg => ({
  mode: "pub_sub",
  action: "pub",
  src: "agent",
  topic,
  data,
  ...extra,
});
const isPub = (topic?: string) => (m: Msg) =>
  m.action === "pub" && (topic === undefined || m.topic === topic);

/** Publishes `n` messages and waits for their acks; returns the acks. */
async function publish(c: Client, topic: string, from: number, n: number): Promise<Msg[]> {
  for (let i = 0; i < n; i++) c.send(pub(topic, from + i, { id: `p${from + i}` }));
  const acks: Msg[] = [];
  for (let i = 0; i < n; i++) acks.push(await c.next((m) => m.id === `p${from + i}`));
  return acks;
}

for (const engine of ENGINES) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`history (${engine}) - ${name}`, fn);

  test("offsets are contiguous across publishers on different nodes, in every delivery and ack", async () => {
    const { a, b, close } = await nodes(engine);
    const pa = await Client.connect(wsUrl(a));
    const pb = await Client.connect(wsUrl(b));
    const sa = await Client.connect(wsUrl(a));
    const sb = await Client.connect(wsUrl(b));
    try {
      for (const s of [sa, sb]) {
        s.send(sub(1, "h/c"));
        const ack = await s.next((m) => m.id === 1);
        assert.deepEqual(ack.positions, { "h/c": { offset: 0, epoch: "" } });
        assert.equal(typeof ack.time, "number");
      }
      const [acksA, acksB] = await Promise.all([
        publish(pa, "h/c", 0, 25),
        publish(pb, "h/c", 100, 25),
      ]);
      const offsets = [...acksA, ...acksB].map((m) => m.offset).sort((x, y) => x - y);
      assert.deepEqual(offsets, Array.from({ length: 50 }, (_, i) => i + 1));
      const epoch = acksA[0].epoch;
      assert.ok([...acksA, ...acksB].every((m) => m.epoch === epoch && m.code === 200));
      for (const s of [sa, sb]) {
        const got = await s.waitFor(50, isPub("h/c"));
        assert.deepEqual(got.map((m) => m.offset), offsets, "in offset order on every node");
        assert.ok(got.every((m) => m.epoch === epoch));
        // The data matches the ack of the publish that got that offset.
        const byOffset = new Map(
          [...acksA, ...acksB].map((m) => [m.offset, Number(m.id.slice(1))]),
        );
        assert.ok(got.every((m) => byOffset.get(m.offset) === m.data));
      }
      const published = a === b
        ? a.hub.stats.published
        : a.hub.stats.published + b.hub.stats.published;
      assert.equal(published, 50, "each publish counted once, on its node");
    } finally {
      await Promise.all([pa, pb, sa, sb].map((c) => c.close()));
      await close();
    }
  });

  test("a publisher subscribed to its topic gets the ack before the delivery", async () => {
    const { a, close } = await nodes(engine);
    const c = await Client.connect(wsUrl(a));
    try {
      c.send(sub(1, "h/self"));
      await c.next((m) => m.id === 1);
      for (let i = 0; i < 20; i++) c.send(pub("h/self", i, { id: `p${i}` }));
      await c.waitFor(20, isPub("h/self"));
      await c.waitFor(20, (m) => m.action === "ack" && m.id !== 1);
      for (let i = 0; i < 20; i++) {
        const ack = c.inbox.findIndex((m) => m.id === `p${i}`);
        const delivery = c.inbox.findIndex((m) => m.action === "pub" && m.data === i);
        assert.ok(ack < delivery, `ack ${i} before its delivery`);
      }
    } finally {
      await c.close();
      await close();
    }
  });

  test("exact recovery after a disconnect brings back exactly what was missed", async () => {
    const { a, b, close } = await nodes(engine);
    const p = await Client.connect(wsUrl(b));
    let s = await Client.connect(wsUrl(a));
    try {
      s.send(sub(1, "h/x"));
      await s.next((m) => m.id === 1);
      await publish(p, "h/x", 0, 3);
      const seen = await s.waitFor(3, isPub("h/x"));
      const last = seen[2];
      await s.close();
      await publish(p, "h/x", 3, 4);
      s = await Client.connect(wsUrl(a));
      s.send(sub(2, "h/x", { positions: { "h/x": { offset: last.offset, epoch: last.epoch } } }));
      const ack = await s.next((m) => m.id === 2);
      assert.equal(ack.recovered, true);
      assert.deepEqual(ack.positions, { "h/x": { offset: 7, epoch: last.epoch } });
      const got = await s.waitFor(4, isPub("h/x"));
      assert.deepEqual(got.map((m) => [m.offset, m.data, m.recovered]), [
        [4, 3, true],
        [5, 4, true],
        [6, 5, true],
        [7, 6, true],
      ]);
      await publish(p, "h/x", 7, 1);
      const live = await s.waitFor(5, isPub("h/x"));
      assert.deepEqual([live[4].offset, live[4].recovered], [8, undefined]);
    } finally {
      await Promise.all([p.close(), s.close()]);
      await close();
    }
  });

  test("wildcard recovery brings back every topic published since the last ack", async () => {
    const { a, b, close } = await nodes(engine);
    const p = await Client.connect(wsUrl(b));
    let s = await Client.connect(wsUrl(a));
    try {
      s.send(sub(1, "h/w/#"));
      const ack = await s.next((m) => m.id === 1);
      await publish(p, "h/w/1", 0, 1);
      const one = await s.next(isPub("h/w/1"));
      await s.close();
      await publish(p, "h/w/1", 1, 2);
      await publish(p, "h/w/2/deep", 10, 2);
      await publish(p, "h/other", 20, 1); // no match: never recovered
      s = await Client.connect(wsUrl(a));
      const positions = { "h/w/1": { offset: one.offset, epoch: one.epoch } };
      s.send(sub(2, "h/w/#", { positions, since: ack.time }));
      assert.equal((await s.next((m) => m.id === 2)).recovered, true);
      const got = await s.waitFor(4, isPub());
      const by = (t: string) => got.filter((m) => m.topic === t).map((m) => [m.offset, m.data]);
      assert.deepEqual(by("h/w/1"), [[2, 1], [3, 2]]);
      assert.deepEqual(by("h/w/2/deep"), [[1, 10], [2, 11]]);
      assert.ok(got.every((m) => m.recovered === true));
      await sleep(50);
      assert.equal(s.inbox.filter(isPub()).length, 4, "nothing else");
    } finally {
      await Promise.all([p.close(), s.close()]);
      await close();
    }
  });

  test("no gap and no duplicate while a publisher publishes and a subscriber recovers many times", async () => {
    const { a, b, close } = await nodes(engine);
    const p = await Client.connect(wsUrl(b));
    let running = true;
    let sent = 0;
    const publisher = (async () => {
      while (running) {
        for (let i = 0; i < 5; i++) p.send(pub("h/flow", sent++));
        await sleep(1);
      }
    })();
    const got: number[] = [];
    let position: { offset: number; epoch: string } | undefined;
    let recoveredCount = 0;
    let liveCount = 0;
    try {
      for (let round = 0; round < 12; round++) {
        const s = await Client.connect(wsUrl(round % 2 === 0 ? a : b));
        s.send(sub(1, "h/flow", position && { positions: { "h/flow": position } }));
        const ack = await s.next((m) => m.id === 1);
        if (position !== undefined) assert.equal(ack.recovered, true, `round ${round}`);
        else position = ack.positions["h/flow"];
        const before = got.length;
        await until(() => s.inbox.filter(isPub()).length >= 20, "deliveries");
        await s.close();
        for (const m of s.inbox.filter(isPub())) {
          assert.equal(m.offset, position!.offset + 1, `round ${round}: contiguous, no duplicate`);
          assert.equal(m.data, m.offset - 1, "the publication that got this offset");
          if (m.recovered) recoveredCount++;
          else liveCount++;
          position = { offset: m.offset, epoch: m.epoch };
          got.push(m.data);
        }
        assert.ok(got.length > before);
      }
      assert.ok(recoveredCount > 0 && liveCount > 0, "both recovered and live deliveries");
      running = false;
      await publisher;
      const [last] = await publish(p, "h/flow", -1, 1); // its ack has the top offset
      const top = last.offset;
      const s = await Client.connect(wsUrl(a));
      s.send(sub(2, "h/flow", { positions: { "h/flow": position } }));
      assert.equal((await s.next((m) => m.id === 2)).recovered, true);
      const rest = await s.waitFor(top - position!.offset, isPub());
      await s.close();
      for (const m of rest) {
        assert.equal(m.offset, position!.offset + 1);
        position = { offset: m.offset, epoch: m.epoch };
      }
      assert.equal(position!.offset, top);
    } finally {
      running = false;
      await publisher;
      await p.close();
      await close();
    }
  });

  test("recovered: false on a foreign epoch, and what is stored is sent", async () => {
    const { a, close } = await nodes(engine);
    const c = await Client.connect(wsUrl(a));
    try {
      await publish(c, "h/e", 0, 2);
      c.send(sub(1, "h/e", { positions: { "h/e": { offset: 1, epoch: "elsewhere" } } }));
      assert.equal((await c.next((m) => m.id === 1)).recovered, false);
      const got = await c.waitFor(2, isPub("h/e"));
      assert.deepEqual(got.map((m) => m.offset), [1, 2]);
    } finally {
      await c.close();
      await close();
    }
  });

  test("recovered: false when more was missed than the cap; the newest cap-many are sent", async () => {
    const { a, close } = await nodes(engine, { HISTORY_MAX_RECOVER: 5 });
    const c = await Client.connect(wsUrl(a));
    try {
      const [first] = await publish(c, "h/cap", 0, 9);
      c.send(sub(1, "h/cap", { positions: { "h/cap": { offset: 1, epoch: first.epoch } } }));
      assert.equal((await c.next((m) => m.id === 1)).recovered, false);
      const got = await c.waitFor(5, isPub("h/cap"));
      assert.deepEqual(got.map((m) => m.offset), [5, 6, 7, 8, 9]);
      await sleep(50);
      assert.equal(c.inbox.filter(isPub()).length, 5);
      const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
      assert.match(metrics, /switchboard_history_not_recovered_total 1\n/);
    } finally {
      await c.close();
      await close();
    }
  });

  test("recovered: false when the missed entries expired", async () => {
    const { a, clock, close } = await nodes(engine);
    const c = await Client.connect(wsUrl(a));
    try {
      const [first] = await publish(c, "h/ttl", 0, 3);
      clock.advance(61_000);
      c.send(sub(1, "h/ttl", { positions: { "h/ttl": { offset: 1, epoch: first.epoch } } }));
      assert.equal((await c.next((m) => m.id === 1)).recovered, false);
      await sleep(50);
      assert.deepEqual(c.inbox.filter(isPub()), [], "expired entries are not sent");
      if (engine === "memory") {
        assert.deepEqual(a.broker.history.stats(), { topics: 0, entries: 0 });
      }
    } finally {
      await c.close();
      await close();
    }
  });

  test("retained replay carries the offset, and a recovery does not send it twice", async () => {
    const { a, close } = await nodes(engine);
    const p = await Client.connect(wsUrl(a));
    const c = await Client.connect(wsUrl(a));
    try {
      const acks = await publish(p, "h/r", 0, 1);
      p.send(pub("h/r", "kept", { id: "r", retain: true }));
      // The retained value is written before the ack is sent, on the same Redis connection as
      // the reads of later subscriptions.
      const kept = await p.next((m) => m.id === "r");
      c.send(sub(1, "h/r"));
      assert.deepEqual((await c.next((m) => m.id === 1)).positions["h/r"].offset, 2);
      const replay = await c.next(isPub("h/r"));
      assert.deepEqual([replay.retained, replay.offset, replay.epoch], [true, 2, kept.epoch]);
      c.send({ mode: "pub_sub", action: "unsub", topic: "h/r", id: 2 });
      await c.next((m) => m.id === 2);
      c.send(sub(3, "h/r", { positions: { "h/r": { offset: 1, epoch: acks[0].epoch } } }));
      await c.next((m) => m.id === 3);
      const again = await c.next(isPub("h/r"));
      assert.deepEqual([again.recovered, again.offset, again.data], [true, 2, "kept"]);
      await sleep(50);
      assert.deepEqual(c.inbox.filter(isPub()), [], "no retained duplicate");
    } finally {
      await Promise.all([p.close(), c.close()]);
      await close();
    }
  });

  test("the history query returns stored entries, newest or after a position", async () => {
    const { a, close } = await nodes(engine);
    const c = await Client.connect(wsUrl(a));
    const q = (extra: Msg) => ({ mode: "pub_sub", action: "history", id: "q", ...extra });
    try {
      const [first] = await publish(c, "h/q", 0, 6);
      c.send(q({ topic: "h/q", limit: 2 }));
      let r = await c.next((m) => m.id === "q");
      assert.deepEqual([r.code, r.offset, r.epoch], [200, 6, first.epoch]);
      assert.deepEqual(r.data.map((e: Msg) => [e.offset, e.data, e.src]), [[5, 4, "agent"], [
        6,
        5,
        "agent",
      ]]);
      assert.equal(typeof r.data[0].time, "number");
      c.send(q({ topic: "h/q", limit: 2, since: { offset: 1, epoch: first.epoch } }));
      r = await c.next((m) => m.id === "q");
      assert.deepEqual(r.data.map((e: Msg) => e.offset), [2, 3]);
      c.send(q({ topic: "nohistory" }));
      assert.equal((await c.next((m) => m.id === "q")).code, 404);
    } finally {
      await c.close();
      await close();
    }
  });
}

Deno.test("history - bad input gets a 400 and the connection stays usable", async () => {
  const server = await startServer({ HISTORY: "h/#=10" });
  const c = await Client.connect(wsUrl(server));
  const q = (extra: Msg) => ({ mode: "pub_sub", action: "history", id: "q", ...extra });
  try {
    const bad: [Msg, RegExp][] = [
      [sub(1, "h/a", 5), /Invalid recover/],
      [sub(1, "h/a", { positions: { "h/a": { offset: -1, epoch: "e" } } }), /offset/],
      [sub(1, "h/a", { positions: { "h/a": { offset: 1.5, epoch: "e" } } }), /offset/],
      [sub(1, "h/a", { positions: { "h/a": { offset: 1, epoch: 7 } } }), /epoch/],
      [sub(1, "h/a", { positions: { "h/a": 3 } }), /positions/],
      [sub(1, "h/a", { since: "yesterday" }), /since/],
      [q({ topic: "h/+" }), /without wildcards/],
      [q({ topic: ["h/a", "h/b"] }), /one topic/],
      [q({ topic: "h/a", limit: 0 }), /limit/],
      [q({ topic: "h/a", since: 3 }), /since/],
    ];
    for (const [msg, why] of bad) {
      c.send(msg);
      const reply = await c.next((m) => m.id === msg.id);
      assert.equal(reply.code, 400, JSON.stringify(msg));
      assert.match(reply.msg, why);
    }
    c.send({ mode: "pub_sub", action: "history", id: "none" });
    assert.equal((await c.next((m) => m.id === "none")).code, 400, "a history without topic");
    assert.equal((await c.request({ command: "web" })).code, 200);
    c.send(sub(2, "h/a"));
    assert.deepEqual((await c.next((m) => m.id === 2)).data, ["h/a"], "nothing bad was subscribed");
  } finally {
    await c.close();
    await server.shutdown();
  }
});

Deno.test("history - the query needs subscribe permission", async () => {
  const server = await startServer({
    HISTORY: "h/#=10",
    routes: { auth: { default: () => ({ id: "u", permissions: { subscribe: ["other/#"] } }) } },
  });
  const c = await Client.connect(wsUrl(server));
  try {
    c.send({ mode: "pub_sub", action: "history", id: 1, topic: "h/a" });
    assert.equal((await c.next((m) => m.id === 1)).code, 403);
  } finally {
    await c.close();
    await server.shutdown();
  }
});

Deno.test("history - a restarted memory server has a new epoch", async () => {
  const epochOf = async () => {
    const server = await startServer({ HISTORY: "h/#=10" });
    const c = await Client.connect(wsUrl(server));
    const [ack] = await publish(c, "h/restart", 0, 1);
    await c.close();
    await server.shutdown();
    return ack;
  };
  const before = await epochOf();
  const after = await epochOf();
  assert.equal(after.offset, 1);
  assert.notEqual(after.epoch, before.epoch);
});

Deno.test("history - a topic file declares a history; topics without a rule get no offset", async () => {
  const topic = defineTopic({ history: { size: 2, ttlSeconds: 10 } });
  const server = await startServer({ routes: { topics: { "tf/x": { default: topic } } } });
  const c = await Client.connect(wsUrl(server));
  try {
    const acks = await publish(c, "tf/x", 0, 3);
    assert.deepEqual(acks.map((m) => m.offset), [1, 2, 3]);
    const [plain] = await publish(c, "tf/y", 0, 1);
    assert.equal(plain.offset, undefined);
    c.send({ mode: "pub_sub", action: "history", id: "q", topic: "tf/x" });
    assert.deepEqual((await c.next((m) => m.id === "q")).data.map((e: Msg) => e.offset), [2, 3]);
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.match(metrics, /switchboard_history_topics 1\n/);
    assert.match(metrics, /switchboard_history_entries 2\n/);
  } finally {
    await c.close();
    await server.shutdown();
  }
});

Deno.test("history - HISTORY rules that do not parse stop the server with one clear line", () => {
  for (
    const [value, why] of [
      ["a/#", /^Invalid setting HISTORY: rule 1: expected filter=size/],
      ["a/#=0", /size must be an integer/],
      ["a/#=10:x", /ttl_seconds must be an integer/],
      ["x=1,a/#/b=10", /^Invalid setting HISTORY: rule 2: /],
    ] as const
  ) {
    assert.throws(() => parseConfig({ HISTORY: value }), (err: Error) => {
      assert.match(err.message, why);
      assert.equal(err.message.includes("\n"), false);
      return err.name === "StartupError";
    });
  }
  const config = parseConfig({ HISTORY: "line/+/state=100:600, alarms/#=1000" });
  assert.deepEqual(config.HISTORY, [
    { filter: "line/+/state", size: 100, ttlMs: 600_000 },
    { filter: "alarms/#", size: 1000, ttlMs: 300_000 },
  ]);
  assert.equal(config.HISTORY_MAX_RECOVER, 300);
});

Deno.test("history - main.ts starts with HISTORY rules and stops at start on a bad one", async () => {
  const bad = spawnMain([], { PORT: "0", HOST: "127.0.0.1", HISTORY: "line/+/state=many" });
  const status = await bad.exited();
  assert.equal(status.code, 1);
  assert.equal(
    bad.stderr.trim(),
    "Invalid setting HISTORY: rule 1: size must be an integer from 1 to 1000000",
  );
  const good = spawnMain([], {
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    HISTORY: "line/+/state=100:600",
  });
  try {
    const port = await good.listening();
    const c = await Client.connect(`ws://127.0.0.1:${port}/`);
    const [ack] = await publish(c, "line/1/state", 0, 1);
    assert.equal(ack.offset, 1);
    await c.close();
  } finally {
    good.kill();
    await good.exited();
  }
});

Deno.test("history - a memory topic with no publication for its ttl frees its memory", async () => {
  const server = fakeServer({ HISTORY: "h/#=10:5" });
  const clock = clockOf(server);
  const c = fakeClient(server);
  try {
    c.send(pub("h/a", 1));
    c.send(pub("h/b", 2));
    assert.deepEqual(server.broker.history.stats(), { topics: 2, entries: 2 });
    clock.advance(3000);
    c.send(pub("h/b", 3));
    clock.advance(3000); // h/a quiet for 6 s > 5 s; h/b for 3 s
    assert.deepEqual(server.broker.history.stats(), { topics: 1, entries: 2 });
    clock.advance(3000);
    assert.deepEqual(server.broker.history.stats(), { topics: 0, entries: 0 });
    assert.equal(clock.pending > 0, false, "no sweep timer left without topics");
  } finally {
    c.leave();
    await server.broker.history.close();
  }
});
