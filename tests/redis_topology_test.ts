/**
 * Switchboard nodes on the Redis topologies operators run: Sentinel (a master, a replica, three
 * sentinels) and Cluster (three masters), each started by this file on free ports and stopped
 * afterwards whatever happens, one topology for all the cases of a kind. Also the path probe
 * against a subscriber connection that stalls silently (a proxy that stops forwarding it).
 */
import assert from "node:assert/strict";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";
import { PASSWORD, startCluster, startSentinel, type Topology } from "./_redis_topology.ts";
import { createLogger } from "../lib/log.ts";
import type { Switchboard } from "../lib/server.ts";
import { RedisTransport } from "../lib/broker/redis_transport.ts";
import { createBroker } from "../lib/broker/mod.ts";

const LOG_LEVEL = Deno.env.get("TEST_LOG") ?? "silent";
let nextId = 0;

/** Log lines of every node, to prove the password never shows. */
const logLines: string[] = [];

async function startNodes(url: string, n = 2, extra = {}): Promise<Switchboard[]> {
  const nodes: Switchboard[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(
      await startServer({
        BROKER_URL: url,
        BROKER_PROBE_MS: 500,
        LOG_LEVEL: "debug",
        logger: createLogger("debug", "json", (line) => {
          logLines.push(line);
          if (LOG_LEVEL !== "silent") console.error(line);
        }),
        ...extra,
      }),
    );
  }
  await until(() => nodes.every((s) => s.broker.transport.healthy), {
    what: "the brokers to connect",
    timeoutMs: 15_000,
  });
  return nodes;
}

function transport(server: Switchboard): RedisTransport {
  assert.ok(server.broker.transport instanceof RedisTransport);
  return server.broker.transport;
}

async function action(c: Client, act: string, topic: unknown, extra: Msg = {}): Promise<Msg> {
  const id = `r${++nextId}`;
  c.send({ mode: "pub_sub", action: act, src: "front", topic, id, ...extra });
  return await c.next((m) => m.action === "ack" && m.id === id);
}
const sub = (c: Client, topic: unknown) => action(c, "sub", topic);
const pub = (c: Client, topic: string, extra: Msg = {}) => action(c, "pub", topic, extra);

async function health(server: Switchboard): Promise<Record<string, unknown>> {
  return await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
}

/** /healthz, /metrics and /stats.json of a node, and every log line: none has the password. */
async function assertNoPassword(server: Switchboard): Promise<void> {
  for (const path of ["/healthz", "/metrics", "/stats.json"]) {
    const body = await (await fetch(`http://127.0.0.1:${server.port}${path}`)).text();
    assert.ok(!body.includes(PASSWORD), `${path} shows the password`);
  }
  assert.ok(logLines.length > 0);
  assert.ok(logLines.every((line) => !line.includes(PASSWORD)), "a log line shows the password");
}

/**
 * Cross-node delivery (exact and wildcard, both ways) and retained values set on one node and
 * replayed on the other.
 */
async function crossNode(url: string): Promise<void> {
  const nodes = await startNodes(url);
  const [a, b] = nodes;
  const clients = await Promise.all([a, b, a, b].map((s) => Client.connect(wsUrl(s))));
  const [subA, subB, pubA, pubB] = clients;
  try {
    await sub(subA, ["x/b", "y/#"]);
    await sub(subB, ["x/a", "z/+"]);
    await Promise.all(nodes.map((s) => transport(s).settled()));
    // Cluster: a node's wildcard filters are known to the other within a round trip.
    const peers = url.startsWith("redis+cluster:") ? 1 : 0;
    await until(() => nodes.every((s) => transport(s).wildcardPeers === peers), "interest");
    assert.equal((await pub(pubA, "x/a", { data: "a→b" })).code, 200);
    assert.equal((await pub(pubB, "x/b", { data: "b→a" })).code, 200);
    assert.equal((await pub(pubA, "z/1", { data: "a→b wild" })).code, 200);
    assert.equal((await pub(pubB, "y/1/2", { data: "b→a wild" })).code, 200);
    await subB.waitFor(1, (m) => m.data === "a→b");
    await subA.waitFor(1, (m) => m.data === "b→a");
    await subB.waitFor(1, (m) => m.data === "a→b wild");
    await subA.waitFor(1, (m) => m.data === "b→a wild");
    // Retained on A, replayed on B; and the other way round.
    assert.equal((await pub(pubA, "r/a", { data: "kept a", retain: true })).code, 200);
    assert.equal((await pub(pubB, "r/b", { data: "kept b", retain: true })).code, 200);
    const late = await Promise.all([Client.connect(wsUrl(b)), Client.connect(wsUrl(a))]);
    clients.push(...late);
    await sub(late[0], "r/+");
    await sub(late[1], "r/+");
    for (const c of late) {
      const got = await c.waitFor(2, (m) => m.action === "pub");
      assert.deepEqual(got.map((m) => m.data).sort(), ["kept a", "kept b"]);
    }
    await assertNoPassword(a);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((s) => s.shutdown()));
  }
}

Deno.test("redis sentinel - cross-node delivery, retained values, killed subscribers, a failover", async (t) => {
  let topo: Topology | undefined;
  try {
    topo = await startSentinel();
    const base = `${topo.url}?prefix=tp-${crypto.randomUUID()}`;
    await t.step("messages and retained values cross between nodes", () => crossNode(base));
    await t.step(
      "subscriber connections killed on the master come back by themselves",
      () => pubsubKilled(topo!, `${topo!.url}?prefix=tk-${crypto.randomUUID()}`),
    );
    await t.step(
      "after the master is killed, nodes follow the new one by themselves",
      () => failover(topo!, `${topo!.url}?prefix=tf-${crypto.randomUUID()}`),
    );
  } finally {
    await topo?.stop();
  }
});

/** CLIENT KILL TYPE pubsub on the master: the nodes resubscribe and delivery resumes. */
async function pubsubKilled(topo: Topology, url: string): Promise<void> {
  const nodes = await startNodes(url);
  const [a, b] = nodes;
  const clients = await Promise.all([a, b].map((s) => Client.connect(wsUrl(s))));
  const [pubA, subB] = clients;
  try {
    await sub(subB, "k/x");
    await Promise.all(nodes.map((s) => transport(s).settled()));
    const killed = await topo.cli(topo.dataPorts[0], "CLIENT", "KILL", "TYPE", "pubsub");
    assert.ok(Number(killed) >= 2, `killed ${killed}`);
    let n = 0;
    await until(async () => {
      await pub(pubA, "k/x", { data: `k ${++n}` });
      try {
        await subB.next((m) => m.data === `k ${n}`, 500);
        return true;
      } catch {
        return false;
      }
    }, { what: "delivery to resume", timeoutMs: 15_000 });
    await until(async () => (await health(b)).status === "ok", {
      what: "/healthz to say ok",
      timeoutMs: 15_000,
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((s) => s.shutdown()));
  }
}

async function failover(topo: Topology, url: string): Promise<void> {
  const nodes = await startNodes(url);
  const [a, b] = nodes;
  const clients = await Promise.all([a, b, a].map((s) => Client.connect(wsUrl(s))));
  const [pubA, subB, subA] = clients;
  try {
    await sub(subB, "f/x");
    await sub(subA, "f/x");
    await Promise.all(nodes.map((s) => transport(s).settled()));
    assert.equal((await pub(pubA, "f/x", { data: "before" })).code, 200);
    await subB.waitFor(1, (m) => m.data === "before");

    await topo.kill(topo.dataPorts[0]); // SIGKILL the master
    // No master: publishes stay on their node, their acks say so, /healthz says degraded.
    let seq = 0;
    await until(async () => (await pub(pubA, "f/x", { data: `gap ${++seq}` })).code === 503, {
      what: "a publish acked 503 while there is no master",
      timeoutMs: 15_000,
    });
    await subA.waitFor(1, (m) => m.data === `gap ${seq}`); // delivered locally all the same
    await until(async () => (await health(a)).status === "degraded", "/healthz to say degraded");
    const down = await health(a);
    assert.equal((down.broker as { healthy: boolean }).healthy, false);
    assert.equal(typeof (down.broker as { reason: string }).reason, "string");

    // The sentinels promote the replica; the nodes follow it, without a restart.
    let n = 0;
    await until(async () => {
      const ack = await pub(pubA, "f/x", { data: `after ${++n}` });
      if (ack.code !== 200) return false;
      try {
        await subB.next((m) => m.data === `after ${n}`, 500);
        return true;
      } catch {
        return false;
      }
    }, { what: "cross-node delivery to resume after the failover", timeoutMs: 15_000 });
    await until(async () => (await health(b)).status === "ok", {
      what: "/healthz to say ok again",
      timeoutMs: 15_000,
    });
    await assertNoPassword(b);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((s) => s.shutdown()));
  }
}

Deno.test("redis cluster - cross-node delivery, retained values, a script that stores and publishes", async (t) => {
  let topo: Topology | undefined;
  try {
    topo = await startCluster();
    const url = `${topo.url}?prefix=tc-${crypto.randomUUID()}`;
    await t.step("messages and retained values cross between nodes", () => crossNode(url));
    await t.step(
      "a script stores under {<prefix>:<topic>} and SPUBLISHes in one slot",
      () => scriptedPublish(`${topo!.url}?prefix=ts-${crypto.randomUUID()}`),
    );
  } finally {
    await topo?.stop();
  }
});

/**
 * What history and presence need on Cluster: a Lua script that writes a `{<prefix>:<topic>}` key
 * and SPUBLISHes the topic's channel in the same atomic step (one slot), delivered on another node.
 */
async function scriptedPublish(url: string): Promise<void> {
  const got: string[] = [];
  const sink = (into: string[]) => ({
    deliver: (topic: string, text: string) => void into.push(`${topic} ${text}`),
    broadcast() {},
    sendTo() {},
  });
  const log = createLogger("silent", "pretty");
  const config = { BROKER_URL: url, MAX_RETAINED: 10 };
  const a = createBroker(config, sink([]), { log, nodeId: "na" });
  const b = createBroker(config, sink(got), { log, nodeId: "nb" });
  try {
    b.transport.subscribe("line/7");
    await until(() => a.transport.healthy && b.transport.healthy, "the brokers to connect");
    await (b.transport as RedisTransport).settled();
    const prefix = url.slice(url.indexOf("?prefix=") + "?prefix=".length);
    const key = `{${prefix}:line/7}:h`;
    const out = (a.transport as RedisTransport).forScript("line/7", '{"data":1}')!;
    const script = "redis.call('INCR', KEYS[1]) return redis.call('SPUBLISH', ARGV[1], ARGV[2])";
    const receivers = await out.client.run(
      ["EVAL", script, "1", key, out.channel, out.payload],
      key,
    );
    assert.equal(receivers, 1);
    await until(() => got.includes('line/7 {"data":1}'), "the scripted publish on node B");
  } finally {
    await Promise.all([a, b].flatMap((x) => [x.transport.close(), x.store.close()]));
  }
}

/**
 * A TCP proxy to the shared Redis that can freeze the connections open at the time, in the Redis
 * → node direction: they stay up and Redis answers, but what it sends them never arrives.
 */
class FreezingProxy {
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<{ frozen: boolean; close(): void; subscriber: boolean }>();

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accept();
  }

  /** Freezes the subscriber connections open now (new connections are not frozen). */
  freezeSubscribers(): number {
    let n = 0;
    for (const c of this.#conns) {
      if (!c.subscriber) continue;
      c.frozen = true;
      n++;
    }
    return n;
  }

  close(): void {
    this.#listener.close();
    for (const c of this.#conns) c.close();
  }

  async #accept(): Promise<void> {
    for await (const client of this.#listener) {
      const redis = await Deno.connect({ hostname: "127.0.0.1", port: 6379 });
      const state = {
        frozen: false,
        subscriber: false,
        close() {
          for (const s of [client, redis]) {
            try {
              s.close();
            } catch { /* closed */ }
          }
        },
      };
      this.#conns.add(state);
      const pump = async (from: Deno.TcpConn, to: Deno.TcpConn, up: boolean) => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await from.read(buf);
            if (n === null) break;
            const chunk = buf.subarray(0, n);
            if (up && new TextDecoder().decode(chunk).toUpperCase().includes("SUBSCRIBE")) {
              state.subscriber = true;
            }
            if (!up && state.frozen) continue; // swallowed: the connection looks fine
            await to.write(chunk);
          }
        } catch { /* closed */ }
        state.close();
        this.#conns.delete(state);
      };
      pump(client, redis, true);
      pump(redis, client, false);
    }
  }
}

Deno.test("redis probe - a silently stalled subscription turns /healthz degraded until the node replaces it", async () => {
  const proxy = new FreezingProxy();
  const nodes = await startNodes(
    `redis://127.0.0.1:${proxy.port}/?prefix=tstall-${crypto.randomUUID()}`,
    1,
  );
  const [a] = nodes;
  try {
    await until(() => transport(a).probeRttMs > 0, "a probe to come back");
    const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    assert.match(metrics, /switchboard_broker_probe_rtt_ms \d+/);
    assert.ok(proxy.freezeSubscribers() > 0);
    await until(async () => (await health(a)).status === "degraded", {
      what: "/healthz to say degraded",
      timeoutMs: 15_000,
    });
    const stalled = (await health(a)).broker as { reason: string };
    assert.match(stalled.reason, /^the probe through Redis has not come back for \d+ s$/);
    // The node's connections look up the whole time; it replaces the stalled one by itself.
    await until(async () => (await health(a)).status === "ok", {
      what: "/healthz to say ok again",
      timeoutMs: 15_000,
    });
  } finally {
    await Promise.all(nodes.map((s) => s.shutdown()));
    proxy.close();
  }
});
