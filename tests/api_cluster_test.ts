/**
 * Issue 14, the backend API across nodes over real Redis (a fresh channel prefix per test): a
 * publish, a send and a disconnect made through one node reach the clients of the other; `clients`
 * lists the clients of both. Redis must answer on 127.0.0.1:6379.
 */
import assert from "node:assert/strict";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";
import { signJwt } from "../lib/session/jwt.ts";
import type { Switchboard } from "../lib/server.ts";
import { RedisTransport } from "../lib/broker/redis_transport.ts";
import { RedisPeers } from "../lib/broker/redis_peers.ts";
import { RedisConnection } from "../lib/broker/redis_connection.ts";
import { createLogger } from "../lib/log.ts";

const KEY = "api-key-for-the-cluster-tests";
const SECRET = "jwt-secret-for-the-cluster-tests";

/** Two nodes on one fresh Redis prefix, the API on the first; both brokers and peers up. */
async function twoNodes(): Promise<[Switchboard, Switchboard]> {
  const url = `redis://127.0.0.1:6379/?prefix=t${crypto.randomUUID().slice(0, 12)}`;
  const a = await startServer({ brokerUrl: url, apiKey: KEY, jwtSecret: SECRET });
  const b = await startServer({ brokerUrl: url, jwtSecret: SECRET });
  const nodes: [Switchboard, Switchboard] = [a, b];
  await until(
    () => nodes.every((s) => s.broker.transport.healthy && (s.broker.peers as RedisPeers).ready),
    "the brokers to connect",
  );
  return nodes;
}

async function settled(nodes: Switchboard[]): Promise<void> {
  await Promise.all(nodes.map((s) => (s.broker.transport as RedisTransport).settled()));
}

async function api(server: Switchboard, method: string, body: unknown): Promise<Msg> {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/${method}`, {
    method: "POST",
    headers: { authorization: `apikey ${KEY}` },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  assert.equal(res.status, answer.code);
  return answer;
}

const token = (sub: string) => signJwt({ sub, exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);

Deno.test("api cluster - an API publish reaches WebSocket subscribers on both nodes", async () => {
  const nodes = await twoNodes();
  const [a, b] = nodes;
  const onA = await Client.connect(wsUrl(a, `?token=${await token("u1")}`));
  const onB = await Client.connect(wsUrl(b, `?token=${await token("u2")}`));
  try {
    for (const c of [onA, onB]) {
      c.send({ mode: "pub_sub", action: "sub", topic: "line/+/state" });
      await c.next((m) => m.action === "ack");
    }
    await settled(nodes);
    assert.equal((await api(a, "publish", { topic: "line/4/state", data: "run" })).code, 200);
    for (const c of [onA, onB]) {
      const d = await c.next((m) => m.action === "pub");
      assert.deepEqual([d.topic, d.data, d.src], ["line/4/state", "run", "api"]);
    }
  } finally {
    await Promise.all([onA.close(), onB.close()]);
    await Promise.all(nodes.map((s) => s.shutdown()));
  }
});

Deno.test("api cluster - send, clients and disconnect through one node reach the other", async () => {
  const nodes = await twoNodes();
  const [a, b] = nodes;
  const onA = await Client.connect(wsUrl(a, `?src=panel&token=${await token("ann")}`));
  const onB = await Client.connect(wsUrl(b, `?src=panel&token=${await token("bob")}`));
  try {
    await until(() => a.hub.size === 1 && b.hub.size === 1, "both clients admitted");
    const sent = await api(a, "send", { to: { user: "bob" }, message: { msg: "for bob" } });
    assert.equal(sent.count, 1);
    assert.equal((await onB.next((m) => m.msg === "for bob")).action, "res");
    const toAll = await api(a, "send", { to: { src: "panel" }, message: { msg: "panels" } });
    assert.equal(toAll.count, 2);
    await Promise.all([onA, onB].map((c) => c.next((m) => m.msg === "panels")));

    const { data } = await api(a, "clients", {});
    const seen = data.map((e: Msg) => [e.user, e.node]).sort();
    assert.deepEqual(seen, [["ann", a.nodeId], ["bob", b.nodeId]]);

    const kicked = await api(a, "disconnect", { user: "bob" });
    assert.equal(kicked.count, 1);
    assert.equal((await onB.closed).code, 4000);
    assert.equal(onA.closeEvent, undefined);
  } finally {
    await Promise.all([onA.close(), onB.close()]);
    await Promise.all(nodes.map((s) => s.shutdown()));
  }
});

Deno.test("redis peers - answers from every other node; a node that never answers costs the deadline only", async () => {
  const url = `redis://127.0.0.1:6379/?prefix=t${crypto.randomUUID().slice(0, 12)}`;
  const log = createLogger("silent", "pretty");
  const sink = (answer: (q: string) => string | Promise<string>) => ({
    deliver() {},
    broadcast() {},
    sendTo() {},
    answer,
  });
  const never = new Promise<string>(() => {});
  const peers = [
    new RedisPeers(new RedisConnection(url, { log }), sink(() => "0"), { nodeId: "a" }),
    new RedisPeers(new RedisConnection(url, { log }), sink((q) => `"b:${q}"`), { nodeId: "b" }),
    new RedisPeers(new RedisConnection(url, { log }), sink((q) => `"c:${q}"`), { nodeId: "c" }),
  ];
  try {
    await until(() => peers.every((p) => p.ready), "the peers to subscribe");
    assert.deepEqual((await peers[0].ask("hi")).sort(), ['"b:hi"', '"c:hi"']);
    await peers[2].close();
    assert.deepEqual(await peers[0].ask("again"), ['"b:again"']);
    const silent = new RedisPeers(new RedisConnection(url, { log }), sink(() => never), {
      nodeId: "d",
    });
    peers.push(silent);
    await until(() => silent.ready, "the silent peer to subscribe");
    const short = new RedisPeers(new RedisConnection(url, { log }), sink(() => "0"), {
      nodeId: "e",
      timeoutMs: 200,
    });
    peers.push(short);
    await until(() => short.ready, "the asking peer to subscribe");
    // a and b answer; d never does: the ask ends at its deadline with what came.
    assert.deepEqual((await short.ask("q")).sort(), ['"b:q"', "0"]);
  } finally {
    await Promise.all(peers.map((p) => p.close()));
  }
});
