/**
 * In-process tests of the hub, connections and pub/sub: fake sockets, a fake clock, no network.
 * Fan-out, subscription bookkeeping, leaving, the client limit, token expiry, slow clients and
 * batching.
 */
import assert from "node:assert/strict";
import { Subscriptions } from "../lib/pubsub/subscriptions.ts";
import { clockOf, fakeClient, fakeServer } from "./_fakes.ts";

const sub = (topic: string | string[], id?: number) => ({
  mode: "pub_sub",
  action: "sub",
  topic,
  id,
});
const pub = (topic: string, data: unknown, extra: Record<string, unknown> = {}) => ({
  mode: "pub_sub",
  action: "pub",
  src: "agent",
  topic,
  data,
  ...extra,
});

Deno.test("subscriptions - tell the first subscriber of a filter and the last one leaving", () => {
  const events: string[] = [];
  const subs = new Subscriptions<string>({
    first: (f) => events.push(`+${f}`),
    last: (f) => events.push(`-${f}`),
  });
  assert.ok(subs.add("alice", "a/+"));
  assert.ok(!subs.add("alice", "a/+"));
  subs.add("bob", "a/+");
  subs.add("bob", "b");
  assert.deepEqual([...subs.of("bob")], ["a/+", "b"]);
  subs.remove("alice", "a/+");
  assert.deepEqual(subs.removeAll("bob"), ["a/+", "b"]);
  assert.deepEqual(events, ["+a/+", "+b", "-a/+", "-b"]);
  assert.equal(subs.size, 0);
});

Deno.test("hub - a publish reaches each matching subscriber once, the ack first", () => {
  const server = fakeServer();
  const a = fakeClient(server);
  const b = fakeClient(server);
  a.send(sub(["line/+", "line/#"]));
  b.send(sub("other"));
  a.socket.clear();
  a.send(pub("line/1", [1], { id: 7 }));
  const [ack, delivery] = a.messages();
  assert.equal(ack.action, "ack");
  assert.equal(ack.id, 7);
  assert.deepEqual(ack.data, ["line/+", "line/#"]);
  assert.deepEqual(delivery, {
    mode: "pub_sub",
    action: "pub",
    src: "agent",
    topic: "line/1",
    code: 200,
    msg: "",
    data: [1],
  });
  assert.equal(a.messages().length, 2);
  assert.equal(b.messages().length, 1, "only b's own ack");
  assert.equal(server.hub.stats.delivered, 1);
});

Deno.test("hub - a client that leaves loses every subscription, once", () => {
  const server = fakeServer();
  const a = fakeClient(server);
  const b = fakeClient(server);
  a.send(sub(["x", "y/#"]));
  b.send(sub("x"));
  assert.equal(server.hub.subscriptionCount, 3);
  a.leave();
  a.leave();
  assert.equal(server.hub.subscriptionCount, 1);
  assert.equal(server.hub.size, 1);
  b.send(pub("x", 1));
  assert.equal(a.messages().length, 1, "a got only its ack");
});

Deno.test("hub - the client over MAX_CLIENTS gets a 503 and is closed with 1013", () => {
  const server = fakeServer({ MAX_CLIENTS: 1 });
  fakeClient(server);
  const late = fakeClient(server);
  assert.equal(late.messages()[0].code, 503);
  assert.equal(late.socket.closeCode, 1013);
  late.leave();
  assert.equal(server.hub.size, 1);
});

Deno.test("hub - a client is closed with 1008 when its token expires", () => {
  const server = fakeServer();
  const clock = clockOf(server);
  const c = fakeClient(server, {
    auth: { id: "cam-1", expiresAt: clock.now() + 5000, permissions: undefined },
  });
  clock.advance(4999);
  assert.equal(c.socket.closeCode, undefined);
  clock.advance(1);
  assert.equal(c.socket.closeCode, 1008);
  c.leave();
  assert.equal(clock.pending, 0);
});

Deno.test("connection - a client over its send budget has deliveries dropped, then is closed with 1013", () => {
  const server = fakeServer({ SEND_BUFFER_BYTES: 1024, SLOW_CLIENT_MS: 500 });
  const clock = clockOf(server);
  const slow = fakeClient(server);
  const fast = fakeClient(server);
  slow.send(sub("t"));
  fast.send(sub("t"));
  slow.socket.bufferedAmount = 5000; // it stopped reading
  const publisher = fakeClient(server);
  for (let i = 0; i < 3; i++) publisher.send(pub("t", i));
  assert.equal(slow.conn.dropped, 3);
  assert.equal(fast.messages().length, 4, "the fast one got all three");
  clock.advance(500);
  assert.equal(slow.socket.closeCode, undefined, "not before SLOW_CLIENT_MS has passed");
  clock.advance(100); // closed by the watch, though nothing more was sent to it
  assert.equal(slow.socket.closeCode, 1013);
  assert.equal(server.metrics.send.slowClosed, 1);
});

Deno.test("connection - a slow client that catches up is not closed", () => {
  const server = fakeServer({ SEND_BUFFER_BYTES: 1024, SLOW_CLIENT_MS: 500 });
  const c = fakeClient(server);
  c.send(sub("t"));
  c.socket.bufferedAmount = 5000;
  fakeClient(server).send(pub("t", 1));
  c.socket.bufferedAmount = 0;
  clockOf(server).advance(2000);
  assert.equal(c.socket.closeCode, undefined);
  assert.equal(clockOf(server).pending, 0, "the watch stopped");
});

Deno.test("batching - a burst of N messages in one turn leaves in one frame at its end", () => {
  const server = fakeServer();
  const clock = clockOf(server);
  const c = fakeClient(server, { batch: true });
  const plain = fakeClient(server);
  c.send(sub("t"));
  plain.send(sub("t"));
  clock.endTurn();
  c.socket.clear();
  plain.socket.clear();
  const publisher = fakeClient(server);
  for (let i = 0; i < 5; i++) publisher.send(pub("t", i));
  assert.equal(c.socket.frames.length, 0, "held until the turn ends");
  assert.equal(plain.socket.frames.length, 5, "a client that did not opt in gets them at once");
  clock.endTurn();
  assert.equal(c.socket.frames.length, 1);
  assert.deepEqual(c.messages().map((m) => m.data), [0, 1, 2, 3, 4]);
});

Deno.test("batching - a lone reply is not held past its turn", () => {
  const server = fakeServer();
  server.command("web", () => {});
  const c = fakeClient(server, { batch: true });
  c.send({ mode: "req_res", action: "req", command: "web" });
  clockOf(server).endTurn();
  assert.equal(c.socket.frames.length, 1);
  assert.equal(c.messages()[0].code, 200);
  assert.equal(clockOf(server).pending, 0, "no timer left: nothing waits for time to pass");
});

Deno.test("batching - the ack and the publisher's own delivery share its frame, ack first", () => {
  const server = fakeServer();
  const c = fakeClient(server, { batch: true });
  c.send(sub("t"));
  c.send(pub("t", 1, { id: 3 }));
  clockOf(server).endTurn();
  assert.equal(c.socket.frames.length, 1);
  assert.deepEqual(c.messages().map((m) => m.action), ["ack", "ack", "pub"]);
});

Deno.test("batching - while the socket is still writing, later turns join the held frame", () => {
  const server = fakeServer();
  const clock = clockOf(server);
  const c = fakeClient(server, { batch: true });
  c.send(sub("t"));
  clock.endTurn();
  c.socket.clear();
  c.socket.bufferedAmount = 10; // still writing earlier bytes
  const publisher = fakeClient(server);
  publisher.send(pub("t", 0));
  clock.endTurn();
  publisher.send(pub("t", 1));
  clock.advance(1);
  assert.equal(c.socket.frames.length, 0, "held while the socket is busy");
  c.socket.bufferedAmount = 0;
  clock.advance(1);
  assert.equal(c.socket.frames.length, 1);
  assert.deepEqual(c.messages().map((m) => m.data), [0, 1]);
  assert.equal(clock.pending, 0);
});

Deno.test("intake - a batching client may send several messages in one frame", () => {
  const server = fakeServer();
  server.command("web", () => {});
  const c = fakeClient(server, { batch: true });
  const line = JSON.stringify({ mode: "req_res", action: "req", command: "web" });
  c.send(`${line}\n${line}\n\n${line}`);
  clockOf(server).endTurn();
  assert.equal(c.socket.frames.length, 1, "the three replies share one frame");
  assert.equal(c.messages().length, 3);
});

Deno.test("intake - an oversized, binary or invalid frame gets its error and the client stays usable", () => {
  const server = fakeServer({ MAX_MESSAGE_BYTES: 100 });
  server.command("web", () => {});
  const c = fakeClient(server);
  c.send("x".repeat(101));
  c.conn.handleEvent(new MessageEvent("message", { data: new Uint8Array(3) }));
  c.send("{not json");
  c.send({ mode: "req_res", action: "req", command: "web" });
  assert.deepEqual(c.messages().map((m) => m.code), [413, 400, 400, 200]);
});
