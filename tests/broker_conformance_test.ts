/**
 * The broker conformance suite: ONE table of cases, run against every engine (memory, and Redis
 * on 127.0.0.1:6379 with a fresh `?prefix=` per case). A new engine must pass this table to
 * exist: add it to ENGINES, and do not skip a case.
 *
 * Store cases check retained values (set, replace, clear, replay by exact and wildcard filters,
 * the `$` rule, MAX_RETAINED). Transport cases use two nodes of one engine. A case marked
 * `needsPeers` checks what crosses between nodes; an engine without peers (memory) runs it too
 * and must show that nothing crosses. "Nothing else arrived" is proven with a sentinel publish
 * sent after, never a sleep: messages between two nodes keep their order.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import type { Appended, Broker, Target, TransportSink } from "../lib/broker/broker.ts";
import { createBroker } from "../lib/broker/mod.ts";
import { RedisTransport } from "../lib/broker/redis_transport.ts";
import { createLogger } from "../lib/log.ts";
import { topicMatches } from "../lib/wire/topic.ts";

const REDIS = "redis://127.0.0.1:6379";
const log = createLogger((Deno.env.get("TEST_LOG") ?? "silent") as "silent", "pretty");

/** One node: a broker whose sink records what other nodes sent, in order. */
interface Node {
  readonly broker: Broker;
  /** `deliver <topic> <text>`, `broadcast <text>` or `sendTo <target> <text>`. */
  readonly log: string[];
}

/** The nodes of one case; they share an engine's namespace. */
interface Cluster {
  /** The engine's key prefix, when it has one. */
  readonly prefix?: string;
  node(): Promise<Node>;
  /** Waits until the engine applied every subscribe and unsubscribe so far. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** An implementation of the broker, as BROKER_URL names it. */
interface Engine {
  readonly name: string;
  /** Whether its nodes reach each other (share messages and retained values). */
  readonly peers: boolean;
  /** What `retain` does past MAX_RETAINED: throw a RangeError, or refuse it in the engine. */
  readonly whenFull: "throws" | "refuses";
  cluster(maxRetained: number): Promise<Cluster>;
  /** Makes the engine lose a topic's history: a restart (memory), keys gone (Redis). */
  loseHistory(cluster: Cluster, node: Node, topic: string): Promise<Node>;
}

/** What a case gets. */
interface Ctx {
  readonly engine: Engine;
  readonly cluster: Cluster;
  /** `list` when the engine has peers, else nothing (nothing crosses). */
  want(list: string[]): string[];
  /** What `to` received from `from` since the last call: the entries before a sentinel. */
  received(from: Node, to: Node): Promise<string[]>;
}

interface Case {
  readonly part: "store" | "transport" | "history";
  readonly name: string;
  /** Checks what crosses between nodes: without peers, that nothing does. */
  readonly needsPeers?: boolean;
  /** MAX_RETAINED for the case (default 1000). */
  readonly maxRetained?: number;
  run(ctx: Ctx): Promise<void>;
}

function recordingSink(entries: string[]): TransportSink {
  return {
    deliver: (topic, text) => void entries.push(`deliver ${topic} ${text}`),
    broadcast: (text) => void entries.push(`broadcast ${text}`),
    sendTo: (target: Target, text) => void entries.push(`sendTo ${JSON.stringify(target)} ${text}`),
  };
}

async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The retained values a filter replays, as sorted `topic=text`. */
async function replay(broker: Broker, filter: string): Promise<string[]> {
  const out: string[] = [];
  await broker.store.retained(filter, (topic, text) => out.push(`${topic}=${text}`));
  return out.sort();
}

const memory: Engine = {
  name: "memory",
  peers: false,
  whenFull: "throws",
  cluster(maxRetained) {
    const nodes: Node[] = [];
    return Promise.resolve({
      node() {
        const entries: string[] = [];
        const config = { BROKER_URL: "memory://", MAX_RETAINED: maxRetained };
        const broker = createBroker(config, recordingSink(entries), { log, nodeId: "m" });
        const node = { broker, log: entries };
        nodes.push(node);
        return Promise.resolve(node);
      },
      settled: () => Promise.resolve(),
      close: () => closeAll(nodes),
    });
  },
  // A restarted memory broker: a new node, with nothing of the old one's history.
  loseHistory: (cluster) => cluster.node(),
};

const redis: Engine = {
  name: "redis",
  peers: true,
  whenFull: "refuses",
  async cluster(maxRetained) {
    await requireRedis();
    const prefix = `conf-${crypto.randomUUID()}`;
    const url = `${REDIS}/?prefix=${prefix}`;
    // Node ids of different lengths, one a prefix of the other: each must still know its own.
    const base = `n${crypto.randomUUID().slice(0, 6)}`;
    const ids = [base, `${base}x`];
    const nodes: Node[] = [];
    const transports = () => nodes.map((n) => n.broker.transport as RedisTransport);
    return {
      prefix,
      async node() {
        const entries: string[] = [];
        const config = { BROKER_URL: url, MAX_RETAINED: maxRetained };
        const nodeId = ids[nodes.length] ?? crypto.randomUUID();
        const broker = createBroker(config, recordingSink(entries), { log, nodeId });
        const node = { broker, log: entries };
        nodes.push(node);
        assert.ok(broker.transport instanceof RedisTransport);
        broker.transport.subscribe("end"); // the sentinels' topic
        await until(() => broker.transport.healthy, "the Redis transport to connect");
        return node;
      },
      settled: () => Promise.all(transports().map((t) => t.settled())).then(() => {}),
      async close() {
        await closeAll(nodes);
        const client = createClient({ url: REDIS });
        await client.connect();
        await client.del(`${prefix}:retained`);
        const keys = await client.keys(`*${prefix}:h:*`);
        if (keys.length > 0) await client.del(keys);
        await client.close();
      },
    };
  },
  async loseHistory(cluster, node, topic) {
    const client = createClient({ url: REDIS });
    await client.connect();
    const keys = await client.keys(`{${cluster.prefix}:h:${topic}}:*`);
    if (keys.length > 0) await client.del(keys);
    await client.close();
    return node;
  },
};

/** Every engine. A new one is added here and must pass every case. */
const ENGINES: Engine[] = [memory, redis];

async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(
    nodes.flatMap((n) => [
      n.broker.transport.close(),
      n.broker.store.close(),
      n.broker.history.close(),
    ]),
  );
}

async function requireRedis(): Promise<void> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: 6379 });
    conn.close();
  } catch {
    throw new Error("Redis is not answering on 127.0.0.1:6379: start it to run the Redis engine");
  }
}

const TOPICS = ["a", "a/b", "a/b/c", "a/", "/a", "b", "b/a", "$SYS", "$SYS/x", "a/$x"];

const CASES: Case[] = [
  {
    part: "store",
    name: "retains a value and replays it for its exact topic",
    async run({ cluster }) {
      const { broker } = await cluster.node();
      broker.store.retain("r/1", "one");
      assert.deepEqual(await replay(broker, "r/1"), ["r/1=one"]);
      assert.deepEqual(await replay(broker, "r/2"), []);
      assert.deepEqual(await replay(broker, "r"), []);
    },
  },
  {
    part: "store",
    name: "a new value replaces the old one",
    async run({ cluster }) {
      const { broker } = await cluster.node();
      broker.store.retain("r/1", "one");
      broker.store.retain("r/1", 'two {"x": 1}');
      assert.deepEqual(await replay(broker, "r/1"), ['r/1=two {"x": 1}']);
      assert.deepEqual(await replay(broker, "r/#"), ['r/1=two {"x": 1}']);
    },
  },
  {
    part: "store",
    name: "null clears a value, and clearing a topic without one is harmless",
    async run({ cluster }) {
      const { broker } = await cluster.node();
      broker.store.retain("r/1", "one");
      broker.store.retain("r/2", "two");
      broker.store.retain("r/1", null);
      broker.store.retain("r/none", null);
      assert.deepEqual(await replay(broker, "r/1"), []);
      assert.deepEqual(await replay(broker, "r/+"), ["r/2=two"]);
    },
  },
  {
    part: "store",
    name: "wildcard filters replay exactly the topics they match, # and + alike",
    async run({ cluster }) {
      const { broker } = await cluster.node();
      for (const topic of TOPICS) broker.store.retain(topic, `v:${topic}`);
      const expect = async (filter: string, topics: string[]) => {
        const want = topics.map((t) => `${t}=v:${t}`).sort();
        assert.deepEqual(await replay(broker, filter), want, filter);
        assert.deepEqual(
          want,
          TOPICS.filter((t) => topicMatches(filter, t)).map((t) => `${t}=v:${t}`).sort(),
        );
      };
      await expect("#", ["a", "a/b", "a/b/c", "a/", "/a", "b", "b/a", "a/$x"]);
      await expect("a/#", ["a", "a/b", "a/b/c", "a/", "a/$x"]);
      await expect("a/+", ["a/b", "a/", "a/$x"]);
      await expect("+", ["a", "b"]);
      await expect("+/a", ["/a", "b/a"]);
      await expect("+/+/c", ["a/b/c"]);
      await expect("a/+/#", ["a/b", "a/b/c", "a/", "a/$x"]);
      await expect("c/#", []);
    },
  },
  {
    part: "store",
    name: "$ topics are replayed only for filters that name their first level",
    async run({ cluster }) {
      const { broker } = await cluster.node();
      for (const topic of TOPICS) broker.store.retain(topic, `v:${topic}`);
      for (const filter of ["#", "+", "+/x", "+/#"]) {
        assert.ok((await replay(broker, filter)).every((e) => !e.startsWith("$")), filter);
      }
      assert.deepEqual(await replay(broker, "$SYS/#"), ["$SYS/x=v:$SYS/x", "$SYS=v:$SYS"]);
      assert.deepEqual(await replay(broker, "$SYS/+"), ["$SYS/x=v:$SYS/x"]);
    },
  },
  {
    part: "store",
    name: "glob and pattern characters in topics match only themselves",
    async run({ cluster }) {
      const { broker } = await cluster.node();
      for (const topic of ["x*y/1", "xzy/1", "x?y/1", "[x]/1", "x/1", "\\/1"]) {
        broker.store.retain(topic, topic);
      }
      assert.deepEqual(await replay(broker, "x*y/+"), ["x*y/1=x*y/1"]);
      assert.deepEqual(await replay(broker, "[x]/#"), ["[x]/1=[x]/1"]);
      assert.deepEqual(await replay(broker, "\\/+"), ["\\/1=\\/1"]);
    },
  },
  {
    part: "store",
    name: "MAX_RETAINED caps the topics while updates and clears still land",
    maxRetained: 2,
    async run({ engine, cluster }) {
      const { broker } = await cluster.node();
      broker.store.retain("cap/1", "1");
      broker.store.retain("cap/2", "2");
      if (engine.whenFull === "throws") {
        assert.throws(() => broker.store.retain("cap/3", "3"), RangeError);
      } else broker.store.retain("cap/3", "3"); // refused in the engine: observed below
      broker.store.retain("cap/1", "updated");
      assert.deepEqual(await replay(broker, "cap/#"), ["cap/1=updated", "cap/2=2"]);
      broker.store.retain("cap/2", null);
      broker.store.retain("cap/3", "3");
      assert.deepEqual(await replay(broker, "cap/#"), ["cap/1=updated", "cap/3=3"]);
    },
  },
  {
    part: "store",
    name: "a value retained on one node is replayed on another",
    needsPeers: true,
    async run({ engine, cluster, want }) {
      const a = await cluster.node();
      const b = await cluster.node();
      a.broker.store.retain("shared/1", "from a");
      await replay(a.broker, "shared/1"); // a's write is in the engine now
      assert.deepEqual(await replay(b.broker, "shared/#"), want(["shared/1=from a"]));
      b.broker.store.retain("shared/1", null);
      await replay(b.broker, "shared/1");
      // Cleared on b: gone on a too, unless the stores are not shared.
      assert.deepEqual(await replay(a.broker, "shared/1"), engine.peers ? [] : ["shared/1=from a"]);
    },
  },
  {
    part: "transport",
    name: "a publish reaches a subscribed peer once and never comes back to its node",
    needsPeers: true,
    async run({ engine, cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      a.broker.transport.subscribe("t/1");
      b.broker.transport.subscribe("t/1");
      await cluster.settled();
      const text = '{"data":"a b: 1 ✓"}';
      a.broker.transport.publish("t/1", text);
      assert.deepEqual(await received(a, b), want([`deliver t/1 ${text}`]));
      assert.deepEqual(await received(b, a), []);
      assert.equal(b.broker.transport.received > 0, engine.peers);
    },
  },
  {
    part: "transport",
    name: "a filter subscribed on one node only brings publishes to that node only",
    needsPeers: true,
    async run({ cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      a.broker.transport.subscribe("x/a");
      b.broker.transport.subscribe("x/b");
      await cluster.settled();
      for (const node of [a, b]) {
        node.broker.transport.publish("x/a", "to a");
        node.broker.transport.publish("x/b", "to b");
      }
      assert.deepEqual(await received(a, b), want(["deliver x/b to b"]));
      assert.deepEqual(await received(b, a), want(["deliver x/a to a"]));
    },
  },
  {
    part: "transport",
    name: "unsubscribe stops delivery, once the last filter needing a topic leaves",
    needsPeers: true,
    async run({ cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      b.broker.transport.subscribe("k");
      b.broker.transport.subscribe("k/#"); // needs k too
      b.broker.transport.subscribe("gone");
      b.broker.transport.unsubscribe("gone");
      b.broker.transport.unsubscribe("k");
      await cluster.settled();
      a.broker.transport.publish("gone", "1");
      a.broker.transport.publish("k", "2");
      assert.deepEqual(await received(a, b), want(["deliver k 2"]));
      b.broker.transport.unsubscribe("k/#");
      await cluster.settled();
      a.broker.transport.publish("k", "3");
      a.broker.transport.publish("k/x", "4");
      assert.deepEqual(await received(a, b), []);
    },
  },
  {
    part: "transport",
    name: "overlapping filters on one node deliver each publish once",
    needsPeers: true,
    async run({ cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      for (const filter of ["o/a", "o/+", "o/#", "#", "+/a"]) b.broker.transport.subscribe(filter);
      await cluster.settled();
      a.broker.transport.publish("o/a", "once");
      a.broker.transport.publish("o/a", "once");
      a.broker.transport.publish("o", "parent");
      const got = await received(a, b);
      assert.deepEqual(got, want(["deliver o/a once", "deliver o/a once", "deliver o parent"]));
      assert.deepEqual(await received(a, b), []); // no late copy, of the sentinel either
    },
  },
  {
    part: "transport",
    name: "wildcard filters bring every publish they match",
    needsPeers: true,
    async run({ cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      const filters = ["w/+", "d/#", "+/m/+", "g*?[x]\\/+"];
      for (const filter of filters) b.broker.transport.subscribe(filter);
      await cluster.settled();
      const topics = ["w/1", "w/", "d", "d/1/2", "1/m/2", "g*?[x]\\/1", "gz/1", "other", "$w/m/1"];
      for (const topic of topics) a.broker.transport.publish(topic, topic);
      // An engine may bring more than a filter matches (the hub's index drops it), never less.
      const matching = (await received(a, b)).filter((entry) => {
        const topic = entry.split(" ")[1];
        return filters.some((f) => topicMatches(f, topic));
      });
      const expected = topics.filter((t) => filters.some((f) => topicMatches(f, t)));
      assert.deepEqual(matching, want(expected.map((t) => `deliver ${t} ${t}`)));
    },
  },
  {
    part: "transport",
    name: "broadcast reaches every peer once and never comes back to its node",
    needsPeers: true,
    async run({ cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      a.broker.transport.broadcast("to all: 1");
      assert.deepEqual(await received(a, b), want(["broadcast to all: 1"]));
      assert.deepEqual(await received(b, a), []);
    },
  },
  {
    part: "transport",
    name: "sendTo crosses with its target, by src and by id",
    needsPeers: true,
    async run({ cluster, want, received }) {
      const a = await cluster.node();
      const b = await cluster.node();
      a.broker.transport.sendTo({ src: "front:1" }, "to fronts");
      a.broker.transport.sendTo({ id: "n1-7" }, "12:x to one");
      a.broker.transport.sendTo({ src: "" }, "");
      assert.deepEqual(
        await received(a, b),
        want([
          'sendTo {"src":"front:1"} to fronts',
          'sendTo {"id":"n1-7"} 12:x to one',
          'sendTo {"src":""} ',
        ]),
      );
      assert.deepEqual(await received(b, a), []);
    },
  },
];

/** Appends `n` publications of a topic on a node and returns what the store answered. */
async function append(node: Node, topic: string, n: number, limits = LIMITS, time = Date.now()) {
  const out: Appended[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await node.broker.history.append(topic, `{"topic":"${topic}","data":${i}}`, limits, time),
    );
  }
  return out;
}

const LIMITS = { size: 100, ttlMs: 60_000 };

CASES.push(
  {
    part: "history",
    name: "offsets count from 1 by one per publication, in one epoch, in the delivery text",
    async run({ cluster }) {
      const node = await cluster.node();
      const got = await append(node, "h/1", 3);
      assert.deepEqual(got.map((e) => e.offset), [1, 2, 3]);
      assert.equal(new Set(got.map((e) => e.epoch)).size, 1);
      assert.match(got[0].epoch, /^[\w-]+$/);
      assert.deepEqual(JSON.parse(got[2].text), {
        topic: "h/1",
        data: 2,
        offset: 3,
        epoch: got[0].epoch,
      });
      assert.deepEqual((await append(node, "h/2", 1)).map((e) => e.offset), [1]);
    },
  },
  {
    part: "history",
    name: "a read returns the top and the entries after an offset, oldest first",
    async run({ cluster }) {
      const node = await cluster.node();
      const [first] = await append(node, "h/r", 5);
      const read = await node.broker.history.read("h/r", { after: 2 }, LIMITS);
      assert.equal(read.offset, 5);
      assert.equal(read.epoch, first.epoch);
      assert.deepEqual(read.entries.map((e) => e.offset), [3, 4, 5]);
      assert.equal(JSON.parse(read.entries[0].text).data, 2);
      const all = await node.broker.history.read("h/r", {}, LIMITS);
      assert.deepEqual(all.entries.map((e) => e.offset), [1, 2, 3, 4, 5]);
      assert.equal(all.first, 1);
    },
  },
  {
    part: "history",
    name: "a topic without publications reads as offset 0 with no epoch",
    async run({ cluster }) {
      const node = await cluster.node();
      const read = await node.broker.history.read("h/none", { after: 0 }, LIMITS);
      assert.deepEqual(read, { offset: 0, epoch: "", entries: [], first: 1, droppedAt: 0 });
    },
  },
  {
    part: "history",
    name: "the size keeps the newest entries and says when the trimmed one was published",
    async run({ cluster }) {
      const node = await cluster.node();
      const limits = { size: 3, ttlMs: 60_000 };
      const time = Date.now();
      await append(node, "h/t", 5, limits, time);
      const read = await node.broker.history.read("h/t", { after: 0 }, limits);
      assert.equal(read.offset, 5);
      assert.deepEqual(read.entries.map((e) => e.offset), [3, 4, 5]);
      assert.equal(read.first, 3);
      assert.equal(read.droppedAt, time);
    },
  },
  {
    part: "history",
    name: "entries older than the ttl are never returned",
    async run({ cluster }) {
      const node = await cluster.node();
      await append(node, "h/old", 2, LIMITS, Date.now() - 2 * LIMITS.ttlMs);
      const read = await node.broker.history.read("h/old", { after: 0 }, LIMITS);
      assert.deepEqual(read.entries, []);
      assert.ok(read.offset === 0 || read.first > 1, "the gap shows");
    },
  },
  {
    part: "history",
    name: "reads by time return the entries at or after it",
    async run({ cluster }) {
      const node = await cluster.node();
      const t = Date.now();
      await append(node, "h/s", 2, LIMITS, t - 1000);
      await append(node, "h/s", 2, LIMITS, t);
      const read = await node.broker.history.read("h/s", { since: t }, LIMITS);
      assert.deepEqual(read.entries.map((e) => e.offset), [3, 4]);
    },
  },
  {
    part: "history",
    name: "topics with history are found by filter and by last publication",
    async run({ cluster }) {
      const node = await cluster.node();
      const t = Date.now();
      await append(node, "w/a/1", 1, LIMITS, t - 5000);
      await append(node, "w/a/2", 1, LIMITS, t);
      await append(node, "w/b/1", 1, LIMITS, t);
      const found = async (filter: string, since: number) =>
        (await node.broker.history.topics(filter, since)).sort();
      assert.deepEqual(await found("w/a/+", 0), ["w/a/1", "w/a/2"]);
      assert.deepEqual(await found("w/#", t), ["w/a/2", "w/b/1"]);
      assert.deepEqual(await found("x/#", 0), []);
    },
  },
  {
    part: "history",
    name: "a lost history starts again from offset 1 in a new epoch",
    async run({ engine, cluster }) {
      const node = await cluster.node();
      const [old] = await append(node, "h/lost", 2);
      const after = await engine.loseHistory(cluster, node, "h/lost");
      const [fresh] = await append(after, "h/lost", 1);
      assert.equal(fresh.offset, 1);
      assert.notEqual(fresh.epoch, old.epoch);
    },
  },
  {
    part: "history",
    name: "publications from two nodes get offsets contiguous across both",
    needsPeers: true,
    async run({ engine, cluster }) {
      const a = await cluster.node();
      const b = await cluster.node();
      const got = await Promise.all([append(a, "h/two", 20), append(b, "h/two", 20)]);
      const offsets = got.flat().map((e) => e.offset).sort((x, y) => x - y);
      const expected = engine.peers
        ? Array.from({ length: 40 }, (_, i) => i + 1)
        : Array.from({ length: 40 }, (_, i) => Math.floor(i / 2) + 1); // each node alone
      assert.deepEqual(offsets, expected);
    },
  },
  {
    part: "history",
    name: "an engine that relays delivers each entry to every subscribed node, its own too",
    needsPeers: true,
    async run({ cluster }) {
      const a = await cluster.node();
      const b = await cluster.node();
      if (!a.broker.history.relays) {
        // The caller delivers (memory): the store sends nothing anywhere.
        await append(a, "h/live", 3);
        await new Promise((r) => setTimeout(r, 0));
        assert.deepEqual([...a.log, ...b.log], []);
        return;
      }
      for (const node of [a, b]) node.broker.transport.subscribe("h/live");
      await cluster.settled();
      await append(a, "h/live", 3);
      await append(b, "h/live", 3);
      for (const node of [a, b]) {
        await until(() => node.log.length >= 6, "six deliveries");
        const offsets = node.log.map((e) => JSON.parse(e.slice("deliver h/live ".length)).offset);
        assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6]);
      }
    },
  },
);

let sentinels = 0;

for (const engine of ENGINES) {
  for (const c of CASES) {
    const alone = c.needsPeers && !engine.peers ? " (no peers: nothing crosses)" : "";
    Deno.test(`${engine.name} ${c.part} - ${c.name}${alone}`, async () => {
      const cluster = await engine.cluster(c.maxRetained ?? 1000);
      try {
        await c.run({
          engine,
          cluster,
          want: (list) => engine.peers ? list : [],
          async received(from, to) {
            if (!engine.peers) {
              await new Promise((r) => setTimeout(r, 0)); // a transport that delivered late
              return to.log.splice(0);
            }
            const mark = `deliver end sentinel ${++sentinels}`;
            from.broker.transport.publish("end", mark.slice("deliver end ".length));
            await until(() => to.log.includes(mark), "the sentinel");
            const i = to.log.indexOf(mark);
            return to.log.splice(0, i + 1).slice(0, i);
          },
        });
      } finally {
        await cluster.close();
      }
    });
  }
}
