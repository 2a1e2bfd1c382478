/**
 * Issue 5 over real sockets: a subscriber that never reads is dropped (its deliveries first
 * dropped, then the socket closed with 1013) while every healthy subscriber gets every message.
 *
 * The slow subscriber is a raw TCP WebSocket client (hand-written handshake) that stops reading
 * after its subscription's ack, so the kernel buffers fill and the server's `bufferedAmount` for
 * it grows; a Deno WebSocket client would read on its own.
 */
import assert from "node:assert/strict";
import { Client, type Msg, startServer, wsUrl } from "./_client.ts";
import type { Switchboard } from "../lib/server.ts";
import { ConnectionState } from "../lib/session/connection.ts";
import { type Frame, RawSocket } from "./_raw_ws.ts";
import { sleep, until } from "./_helpers.ts";
const decoder = new TextDecoder();

const N = 10_000;
const payloadOf = (seq: number) => `${seq}:`.padEnd(1500, String.fromCharCode(97 + (seq % 26)));

/** Subscribes a test client to a topic and waits for the ack. */
async function subscribe(c: Client, topic: string): Promise<void> {
  c.send({ mode: "pub_sub", action: "sub", id: "s", topic });
  assert.equal((await c.next((m) => m.action === "ack" && m.id === "s")).code, 200);
}

/** Subscribes a raw socket to a topic and reads the ack; after that it never reads by itself. */
async function subscribeRaw(s: RawSocket, topic: string): Promise<void> {
  await s.sendText(JSON.stringify({ mode: "pub_sub", action: "sub", topic }));
  const ack = await s.frame();
  assert.ok(ack, "no ack for the raw subscriber");
  assert.equal(JSON.parse(decoder.decode(ack.payload)).code, 200);
}

/**
 * Publishes `n` messages from a client, 50 per turn; waits whenever the healthy subscribers
 * fall 100 behind, as a real feed is paced by its source. Never waits for `slowOne`.
 */
async function publishFeed(publisher: Client, healthy: Client[], n: number): Promise<void> {
  const received = () => Math.min(...healthy.map((c) => c.inbox.length));
  for (let seq = 0; seq < n;) {
    for (const end = Math.min(n, seq + 50); seq < end; seq++) {
      publisher.send({
        mode: "pub_sub",
        action: "pub",
        src: "agent",
        id: seq,
        topic: "feed",
        data: { seq, payload: payloadOf(seq) },
      });
    }
    await sleep(5);
    await until(() => received() >= seq - 100, "the healthy subscribers to catch up");
  }
}

function slowConnection(server: Switchboard) {
  return [...server.hub.connections()].find((c) => c.src === "slow");
}

Deno.test("slow consumer - a subscriber that never reads is dropped, 10,000 messages reach the rest", async () => {
  const server = await startServer({
    SEND_BUFFER_BYTES: 512 * 1024,
    SLOW_CLIENT_MS: 200,
    RATE_LIMIT: 0,
  });
  const healthy = [
    await Client.connect(wsUrl(server)),
    await Client.connect(wsUrl(server)),
    await Client.connect(wsUrl(server, "?batch=1")),
  ];
  const publisher = await Client.connect(wsUrl(server));
  const slow = await RawSocket.open(server.port, "/?src=slow");
  try {
    for (const c of healthy) await subscribe(c, "feed");
    await subscribeRaw(slow, "feed");
    await publishFeed(publisher, healthy, N);

    // Every healthy subscriber got every message, in order and intact, and lost none.
    for (const c of healthy) {
      const got = await c.waitFor(N, (m) => m.action === "pub", 10_000);
      assert.equal(got.length, N);
      for (let seq = 0; seq < N; seq++) {
        const m = got[seq];
        if (m.data?.seq !== seq || m.data.payload !== payloadOf(seq) || m.topic !== "feed") {
          assert.fail(`delivery ${seq} is wrong: ${JSON.stringify(m).slice(0, 200)}`);
        }
      }
      assert.equal(c.closeEvent, undefined);
    }
    for (const conn of server.hub.connections()) {
      if (conn.src !== "slow") assert.equal(conn.dropped, 0, `client ${conn.id} lost messages`);
    }
    const acks = await publisher.waitFor(N, (m: Msg) => m.action === "ack");
    assert.ok(acks.every((m) => m.code === 200));

    // The slow one had deliveries dropped, then was closed.
    assert.ok(server.metrics.send.dropped > 0, "no delivery was dropped");
    await until(() => server.metrics.send.slowClosed >= 1, "the slow subscriber to be closed");
    const conn = slowConnection(server);
    assert.ok(conn === undefined || conn.state !== ConnectionState.Open);

    // Reading now, it finds fewer than N deliveries, then the close frame with 1013.
    let delivered = 0;
    let close: Frame | null = null;
    while (close === null) {
      const f = await slow.frame(5000);
      assert.ok(f, `no close frame after ${delivered} deliveries`);
      if (f.opcode === 8) close = f;
      else delivered++;
    }
    assert.ok(delivered > 0 && delivered < N, `${delivered} deliveries reached the slow one`);
    assert.equal((close.payload[0] << 8) | close.payload[1], 1013);
    assert.equal(decoder.decode(close.payload.subarray(2)), "Too slow: messages were dropped");
  } finally {
    await slow.close();
    for (const c of [...healthy, publisher]) await c.close();
    await server.shutdown();
  }
});

Deno.test({
  name: "slow consumer - a client still over budget when the traffic stops is closed too",
  async fn() {
    const server = await startServer({
      SEND_BUFFER_BYTES: 64 * 1024,
      SLOW_CLIENT_MS: 100,
      RATE_LIMIT: 0,
    });
    const slow = await RawSocket.open(server.port, "/?src=slow");
    try {
      await subscribeRaw(slow, "feed");
      // Publish until the client is over budget even after a pause: the kernel's buffers are
      // full too, so it really has stopped reading (a burst alone drains once Deno writes it).
      let stuck = false;
      for (let seq = 0; !stuck && seq < 200_000; seq++) {
        server.publish("feed", { data: { seq, payload: payloadOf(seq) } });
        if (seq % 50 === 49) {
          await sleep(20);
          stuck = (slowConnection(server)?.socket.bufferedAmount ?? 0) > 64 * 1024;
        }
      }
      assert.ok(stuck, "the client never fell behind");
      assert.ok(server.metrics.send.dropped > 0);
      await until(
        () => slowConnection(server)?.state !== ConnectionState.Open,
        "the client to be closed without more traffic",
      );
      assert.equal(server.metrics.send.slowClosed, 1);
    } finally {
      await slow.close();
      await server.shutdown();
    }
  },
});
