/**
 * The SDK with history: positions, recovery after a reconnect and on gaps, no duplicates, and the
 * `recovery` event. Real server, real WebSockets.
 */
import assert from "node:assert/strict";
import { connect, type Delivery } from "../client/mod.ts";
import { HistoryPositions } from "../client/history.ts";
import { Client, startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";

/**
 * A WebSocket that loses some numbered deliveries on the way in, as the server does for a client
 * over its send budget: every third live one, up to `limit`; then `recoveredToLose` recovered ones
 * (the first ones); and `acksToLose` recovery acks.
 */
function lossyWebSocket(limit: number, lost: number[], acksToLose = 0, recoveredToLose = 0) {
  let live = 0;
  return class Lossy extends WebSocket {
    override set onmessage(fn: ((e: MessageEvent) => void) | null) {
      super.onmessage = fn && ((e: MessageEvent) => {
        const kept = String(e.data).split("\n").filter((line) => {
          const m = JSON.parse(line);
          if (m.action === "ack" && m.recovered !== undefined && acksToLose > 0) {
            acksToLose--;
            return false;
          }
          if (m.action === "pub" && m.recovered && recoveredToLose > 0) {
            recoveredToLose--; // a recovered entry dropped as well: the client is still slow
            lost.push(m.offset);
            return false;
          }
          if (m.action !== "pub" || m.recovered || typeof m.offset !== "number") return true;
          if (live >= limit || m.offset % 3 !== 0) return true;
          live++;
          lost.push(m.offset);
          return false;
        });
        if (kept.length > 0) fn(new MessageEvent("message", { data: kept.join("\n") }));
      });
    }
  };
}

Deno.test("client history - a slow subscriber has deliveries dropped and the app still sees each once, in order", async () => {
  const server = await startServer({ HISTORY: "line/#=1000" });
  const lost: number[] = [];
  const sb = connect(wsUrl(server), { WebSocket: lossyWebSocket(10, lost, 0, 2) });
  const publisher = await Client.connect(wsUrl(server));
  const seen: number[] = [];
  const recoveries: boolean[] = [];
  sb.on("recovery", (r) => recoveries.push(r.recovered));
  try {
    const unsubscribe = sb.subscribe("line/+/state", (d: Delivery) => seen.push(d.data as number));
    await unsubscribe.ready;
    for (let i = 0; i < 200; i++) {
      publisher.send({ mode: "pub_sub", action: "pub", topic: "line/1/state", data: i });
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => seen.length >= 200, { what: "200 deliveries", timeoutMs: 10_000 });
    assert.equal(lost.length, 12, `deliveries, recovered ones too, were lost: ${lost}`);
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
    assert.ok(recoveries.length > 0 && recoveries.every((r) => r));
  } finally {
    await publisher.close();
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("client history - a recovery whose ack is lost is given up and tried again", async () => {
  const server = await startServer({ HISTORY: "line/#=1000" });
  const lost: number[] = [];
  const sb = connect(wsUrl(server), {
    WebSocket: lossyWebSocket(3, lost, 1),
    timeoutMs: 300,
  });
  const publisher = await Client.connect(wsUrl(server));
  const seen: number[] = [];
  const errors: Error[] = [];
  sb.on("error", (err) => errors.push(err));
  try {
    await sb.subscribe("line/1", (d) => seen.push(d.data as number)).ready;
    for (let i = 0; i < 60; i++) {
      publisher.send({ mode: "pub_sub", action: "pub", topic: "line/1", data: i });
      await new Promise((r) => setTimeout(r, 20)); // keeps gaps coming after the time limit
    }
    await until(() => seen.length >= 60, { what: "60 deliveries", timeoutMs: 10_000 });
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i));
    assert.equal(lost.length, 3);
    assert.equal(errors.length, 1, "the lost ack's time limit is reported");
    assert.match(errors[0].message, /timed out/);
  } finally {
    await publisher.close();
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("client history - after a reconnect the app gets what it missed, once, wildcards included", async () => {
  const server = await startServer({ HISTORY: "line/#=1000" });
  const sb = connect(wsUrl(server), { reconnect: { minMs: 200, maxMs: 400 } });
  const publisher = await Client.connect(wsUrl(server));
  const seen: string[] = [];
  const recoveries: boolean[] = [];
  sb.on("recovery", (r) => recoveries.push(r.recovered));
  const send = (topic: string, data: number) =>
    publisher.send({ mode: "pub_sub", action: "pub", topic, data });
  try {
    await sb.subscribe("line/#", (d) => seen.push(`${d.topic}:${d.data}`)).ready;
    send("line/1", 0);
    await until(() => seen.length === 1, "the first delivery");
    const reopened = new Promise((resolve) => sb.on("open", resolve));
    for (const conn of server.hub.connections()) if (conn.src === "front") conn.close(1012);
    await until(() => sb.state === "reconnecting", "the drop");
    send("line/1", 1);
    send("line/2", 2);
    send("line/1", 3);
    await reopened;
    await until(() => recoveries.length === 1, "the recovery");
    send("line/2", 4);
    await until(() => seen.length === 5, "five deliveries");
    assert.deepEqual(seen, ["line/1:0", "line/1:1", "line/1:3", "line/2:2", "line/2:4"]);
    assert.deepEqual(recoveries, [true]);
  } finally {
    await publisher.close();
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("client history - the app is told when a recovery could not bring everything back", async () => {
  const server = await startServer({ HISTORY: "line/#=1000", HISTORY_MAX_RECOVER: 2 });
  const sb = connect(wsUrl(server), { reconnect: { minMs: 300, maxMs: 400 } });
  const publisher = await Client.connect(wsUrl(server));
  const seen: number[] = [];
  const recoveries: { recovered: boolean; filters: string[] }[] = [];
  sb.on("recovery", (r) => recoveries.push(r));
  try {
    await sb.subscribe("line/1", (d) => seen.push(d.data as number)).ready;
    publisher.send({ mode: "pub_sub", action: "pub", topic: "line/1", data: 0 });
    await until(() => seen.length === 1, "the first delivery");
    for (const conn of server.hub.connections()) if (conn.src === "front") conn.close(1012);
    await until(() => sb.state === "reconnecting", "the drop");
    for (let i = 1; i <= 5; i++) {
      publisher.send({ mode: "pub_sub", action: "pub", topic: "line/1", data: i });
    }
    await until(() => recoveries.length === 1, "the recovery");
    assert.deepEqual(recoveries, [{ recovered: false, filters: ["line/1"] }]);
    await until(() => seen.length === 3, "the newest two");
    assert.deepEqual(seen, [0, 4, 5]);
  } finally {
    await publisher.close();
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("HistoryPositions - duplicates dropped, gaps found, retained replays once", () => {
  const p = new HistoryPositions();
  const d = (offset: number, extra: Record<string, unknown> = {}) => ({
    mode: "pub_sub",
    action: "pub",
    topic: "a",
    code: 200,
    msg: "",
    offset,
    epoch: "e",
    ...extra,
  });
  p.ack({
    mode: "pub_sub",
    action: "ack",
    code: 200,
    msg: "",
    time: 5,
    positions: { a: { offset: 2, epoch: "e" } },
  }, false);
  assert.equal(p.check(d(2, { retained: true })), "deliver", "the retained value on subscribe");
  assert.equal(p.check(d(2, { retained: true })), "drop");
  assert.equal(p.check(d(3)), "deliver");
  assert.equal(p.check(d(3)), "drop");
  assert.equal(p.check(d(5)), "gap");
  assert.equal(p.check(d(1, { epoch: "f" })), "gap", "another epoch");
  assert.ok(p.recovering("a"));
  assert.equal(p.check(d(6)), "drop", "live while recovering");
  p.ack({ mode: "pub_sub", action: "ack", code: 200, msg: "", time: 9 }, true);
  assert.equal(p.check(d(5, { recovered: true })), "gap", "a recovered entry lost on the way");
  assert.equal(p.check(d(4, { recovered: true })), "deliver");
  assert.equal(p.check(d(5, { recovered: true })), "deliver");
  assert.equal(p.check(d(6)), "deliver");
  assert.deepEqual(p.recover(), { positions: { a: { offset: 6, epoch: "e" } }, since: 9 });
  assert.equal(p.check({ ...d(1), offset: undefined }), "deliver", "no history: untouched");
  p.ack({ mode: "pub_sub", action: "ack", code: 200, msg: "", recovered: false }, true);
  assert.equal(p.check(d(9, { recovered: true })), "deliver", "a reported loss may skip offsets");
  p.keep((topic) => topic !== "a");
  assert.deepEqual(p.recover().positions, {}, "an unsubscribed topic is forgotten");
});
