/**
 * GET /stats.json, what the console's charts read: the same counters as /metrics and the topics
 * in use with their subscriber counts.
 */
import assert from "node:assert/strict";
import { MAX_TOPICS, statsBody } from "../lib/http/stats.ts";
import { Client, req, startServer, wsUrl } from "./_client.ts";

Deno.test("statsBody - busiest topics first, then by name, capped, with the full count", () => {
  const topics: [string, number][] = [["b", 1], ["a", 1], ["c", 3]];
  for (let i = 0; i < MAX_TOPICS + 5; i++) topics.push([`z/${i}`, 1]);
  const body = statsBody(() => ({ counters: { connections: 4 }, topics }), 1234);
  assert.equal(body.time, 1234);
  assert.deepEqual(body.counters, { connections: 4 });
  assert.deepEqual(body.topics.slice(0, 3), [
    { filter: "c", subscribers: 3 },
    { filter: "a", subscribers: 1 },
    { filter: "b", subscribers: 1 },
  ]);
  assert.equal(body.topics.length, MAX_TOPICS);
  assert.equal(body.topicCount, MAX_TOPICS + 8);
});

Deno.test("GET /stats.json - the counters of /metrics and the topics in use", async () => {
  const server = await startServer();
  const a = await Client.connect(wsUrl(server));
  const b = await Client.connect(wsUrl(server));
  try {
    const base = `http://127.0.0.1:${server.port}`;
    a.send({ mode: "pub_sub", action: "sub", id: 1, topic: ["cam/#", "user"] });
    b.send({ mode: "pub_sub", action: "sub", id: 2, topic: "cam/#" });
    await a.next((m) => m.action === "ack");
    await b.next((m) => m.action === "ack");
    await a.request(req("web"));
    const res = await fetch(`${base}/stats.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const stats = await res.json();
    assert.ok(Math.abs(stats.time - Date.now()) < 60_000);
    assert.deepEqual(stats.topics, [
      { filter: "cam/#", subscribers: 2 },
      { filter: "user", subscribers: 1 },
    ]);
    assert.equal(stats.topicCount, 2);
    assert.equal(stats.counters.connections, 2);
    assert.equal(stats.counters.subscriptions, 3);
    assert.equal(stats.counters.requests_total, 1);
    // Every counter of /metrics without labels is there, with the same value.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const plain = [...metrics.matchAll(/^switchboard_(\w+) (\d+)$/gm)];
    assert.ok(plain.length > 10);
    for (const [, name, value] of plain) {
      if (name === "uptime_seconds") continue;
      assert.equal(stats.counters[name], Number(value), name);
    }
    // A client that leaves takes its subscriptions with it.
    await b.close();
    const deadline = Date.now() + 5000;
    let after = stats;
    while (after.topics[0]?.subscribers !== 1 && Date.now() < deadline) {
      after = await (await fetch(`${base}/stats.json`)).json();
    }
    assert.deepEqual(after.topics[0], { filter: "cam/#", subscribers: 1 });
  } finally {
    await a.close();
    await b.close();
    await server.shutdown();
  }
});
