/**
 * Issue 5 over real sockets: every per-server and per-connection limit refuses the one client
 * that crosses it, with the documented code, while the other clients keep working.
 */
import assert from "node:assert/strict";
import { Client, type Msg, req, startServer, withServer, wsUrl } from "./_client.ts";
import type { Switchboard } from "../lib/server.ts";
import { refusedHandshake, sleep, until, within } from "./_helpers.ts";

const pubsub = (action: string, id: number, topic: unknown, extra: Msg = {}) => ({
  mode: "pub_sub",
  action,
  id,
  topic,
  ...extra,
});
const ackOf = (id: number) => (m: Msg) => m.action === "ack" && m.id === id;

Deno.test("MAX_CLIENTS - the client beyond the limit gets a 503 reply, then close 1013", async () => {
  const server = await startServer({ MAX_CLIENTS: 5 });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < 5; i++) clients.push(await Client.connect(wsUrl(server)));
    const extra = await Client.connect(wsUrl(server));
    clients.push(extra);
    const refusal = await extra.next();
    assert.equal(refusal.code, 503);
    assert.equal(refusal.msg, "Client limit reached (5)");
    const closed = await extra.closed;
    assert.equal(closed.code, 1013);
    assert.equal(extra.inbox.length, 0, "nothing after the refusal");
    // The five admitted clients were not disturbed.
    for (const c of clients.slice(0, 5)) assert.equal((await c.request(req("web"))).code, 200);
    assert.equal(server.hub.size, 5);
    // A place that frees up can be taken again.
    await clients[0].close();
    await until(() => server.hub.size === 4, "the server forgot the closed client");
    const next = await Client.connect(wsUrl(server));
    clients.push(next);
    assert.equal((await next.request(req("web"))).code, 200);
    assert.equal(next.closeEvent, undefined);
  } finally {
    for (const c of clients) await c.close();
    await server.shutdown();
  }
});

Deno.test("MAX_CLIENTS_PER_IP - the connection beyond the limit from one address gets 429", async () => {
  const server = await startServer({ MAX_CLIENTS_PER_IP: 2 });
  const a = await Client.connect(wsUrl(server));
  const b = await Client.connect(wsUrl(server));
  try {
    assert.equal((await refusedHandshake(server.port)).status, 429);
    await assert.rejects(Client.connect(wsUrl(server)), /Invalid status code: 429/);
    assert.equal((await a.request(req("web"))).code, 200);
    await b.close();
    await until(() => server.hub.size === 1, "the server forgot the closed client");
    const c = await Client.connect(wsUrl(server));
    assert.equal((await c.request(req("web"))).code, 200);
    await c.close();
  } finally {
    await a.close();
    await b.close();
    await server.shutdown();
  }
});

Deno.test({
  name: "MAX_CLIENTS_PER_IP - concurrent handshakes with authentication on stay within the limit",
  async fn() {
    const server = await startServer({ MAX_CLIENTS_PER_IP: 2, AUTH_TOKEN: "tok" });
    const tries = await Promise.allSettled(
      Array.from({ length: 6 }, () => Client.connect(wsUrl(server, "?token=tok"))),
    );
    try {
      const open = tries.filter((t) => t.status === "fulfilled").length;
      assert.equal(open, 2, `${open} of 6 connections admitted with a limit of 2`);
      assert.equal(server.hub.size, 2);
    } finally {
      for (const t of tries) if (t.status === "fulfilled") await t.value.close();
      await server.shutdown();
    }
  },
});

Deno.test("MAX_MESSAGE_BYTES - an oversized frame gets 413 while every client keeps working", async () => {
  const server = await startServer({ MAX_MESSAGE_BYTES: 1024 });
  const big = await Client.connect(wsUrl(server));
  const other = await Client.connect(wsUrl(server));
  try {
    const pad = (n: number) => JSON.stringify(req("echo", { id: 1, kwargs: { p: "" } })).length + n;
    const frame = (text: string) => JSON.stringify(req("echo", { id: 1, kwargs: { p: text } }));
    big.send(frame("x".repeat(2000)));
    other.send(req("web", { id: 2 }));
    const refused = await big.next();
    assert.deepEqual([refused.code, refused.msg], [413, "Message too large (limit 1024 bytes)"]);
    assert.equal(refused.id, undefined, "the frame is refused before it is parsed");
    assert.equal((await other.next((m) => m.id === 2)).code, 200);
    // Bytes, not characters: 600 "€" are 1800 UTF-8 bytes in 600 UTF-16 units.
    big.send(frame("€".repeat(600)));
    assert.equal((await big.next()).code, 413);
    // Exactly at the limit is accepted; one byte over is not.
    const exact = frame("y".repeat(1024 - pad(0)));
    assert.equal(new TextEncoder().encode(exact).length, 1024);
    big.send(exact);
    assert.equal((await big.next()).code, 200);
    big.send(frame("y".repeat(1025 - pad(0))));
    assert.equal((await big.next()).code, 413);
    // The same client is still served, and so is the other.
    assert.equal((await big.request(req("web", { id: 3 }))).code, 200);
    assert.equal((await other.request(req("web", { id: 4 }))).code, 200);
    assert.equal(big.closeEvent, undefined);
    assert.equal(server.metrics.tooLarge, 3);
  } finally {
    await big.close();
    await other.close();
    await server.shutdown();
  }
});

Deno.test("RATE_LIMIT - a flood gets 429 and the flooder is closed while a polite client is served", async () => {
  const server = await startServer({ RATE_LIMIT: 200, RATE_ABUSE_SECONDS: 1 });
  const flooder = await Client.connect(wsUrl(server));
  const polite = await Client.connect(wsUrl(server));
  let politeSent = 0;
  const politeDone = (async () => {
    // 40 requests a second, well under the limit of 200, for as long as the flood lasts.
    while (!flooder.closeEvent && politeSent < 300) {
      polite.send(req("web", { id: ++politeSent }));
      await sleep(25);
    }
    for (let i = 0; i < 4; i++) polite.send(req("web", { id: ++politeSent }));
  })();
  let flooded = 0;
  const started = Date.now();
  try {
    while (!flooder.closeEvent && Date.now() - started < 6000) {
      if (flooder.ws.readyState === WebSocket.OPEN) {
        for (let i = 0; i < 40; i++) flooder.send(req("web"));
        flooded += 40;
      }
      await sleep(10);
    }
    await politeDone;
    const closed = await within(flooder.closed, "the server to close the flooder");
    // The server closes with 1008, but Deno drops the TCP connection without flushing the close
    // frame when the peer keeps sending after it, so a flooder mostly sees an abnormal close.
    // The clean 1008 is checked with a paced abuser below.
    assert.ok(closed.code === 1008 || !closed.wasClean, `closed with ${closed.code}`);
    await until(() => server.hub.size === 1, "the server forgot the flooder");
    const codes = new Map<number, number>();
    for (const m of flooder.inbox) codes.set(m.code, (codes.get(m.code) ?? 0) + 1);
    assert.ok((codes.get(429) ?? 0) > 0, `no 429 among ${JSON.stringify([...codes])}`);
    // The burst (2 × 200) and the refill went through; everything else was refused.
    assert.ok((codes.get(200) ?? 0) >= 400, `only ${codes.get(200)} of ${flooded} served`);
    assert.deepEqual([...codes.keys()].sort(), [200, 429]);
    const replies = await polite.waitFor(politeSent, (m) => m.action === "res", 5000);
    assert.deepEqual(replies.map((m) => m.code), Array(politeSent).fill(200));
    assert.deepEqual(replies.map((m) => m.id), Array.from({ length: politeSent }, (_, i) => i + 1));
    assert.ok(server.metrics.rateLimited > 0);
  } finally {
    await politeDone;
    await flooder.close();
    await polite.close();
    await server.shutdown();
  }
});

Deno.test("RATE_LIMIT - sustained abuse at a modest rate is closed with 1008", async () => {
  const server = await startServer({ RATE_LIMIT: 1, RATE_BURST: 1, RATE_ABUSE_SECONDS: 1 });
  const abuser = await Client.connect(wsUrl(server));
  try {
    // About 20 messages a second against a limit of 1, for at most 4 s: rejected without a
    // pause, the abuser must be closed before it gives up. How long the server lets the streak go
    // on is the token bucket's, proven with a fake clock in rate_limit_test.ts.
    let sent = 0;
    while (abuser.ws.readyState === WebSocket.OPEN && sent < 80) {
      abuser.send(req("web"));
      sent++;
      await sleep(50);
    }
    const closed = await within(abuser.closed, "the server to close the abuser");
    assert.deepEqual([closed.code, closed.reason], [1008, "Rate limit exceeded"]);
    assert.ok(sent < 80, "the abuser was still open after 80 messages");
    // Served first, then refused again and again before the close: not closed at the first 429.
    const codes = abuser.inbox.map((m) => m.code);
    assert.equal(codes[0], 200);
    assert.ok(codes.filter((c) => c === 429).length >= 5, `codes: ${codes}`);
  } finally {
    await abuser.close();
    await server.shutdown();
  }
});

Deno.test({
  name: "RATE_BURST - 0 is refused at start-up or still lets clients be served",
  async fn() {
    let server: Switchboard;
    try {
      server = await startServer({ RATE_BURST: 0 });
    } catch (err) {
      assert.match(String(err), /RATE_BURST/);
      return;
    }
    const c = await Client.connect(wsUrl(server));
    try {
      assert.equal((await c.request(req("web"), 2000)).code, 200);
    } finally {
      await c.close();
      await server.shutdown();
    }
  },
});

Deno.test("MAX_SUBSCRIPTIONS, MAX_TOPIC_LENGTH, MAX_TOPIC_LEVELS - refused with 400, client kept", () =>
  withServer(async (server, c) => {
    const ack = async (msg: Msg) => {
      c.send(msg);
      return await c.next(ackOf(msg.id));
    };
    assert.equal((await ack(pubsub("sub", 1, ["a", "b", "c"]))).code, 200);
    const full = await ack(pubsub("sub", 2, "d"));
    assert.deepEqual([full.code, full.msg, full.data], [
      400,
      "Too many subscriptions (limit 3)",
      ["a", "b", "c"],
    ]);
    assert.equal((await ack(pubsub("unsub", 3, "a"))).code, 200);
    // A list that would cross the limit is refused whole.
    assert.deepEqual((await ack(pubsub("sub", 4, ["d", "e"]))).data, ["b", "c"]);
    assert.deepEqual((await ack(pubsub("sub", 5, "d"))).data, ["b", "c", "d"]);

    const long = "x".repeat(17);
    for (const [action, id] of [["sub", 6], ["pub", 7]] as const) {
      const r = await ack(pubsub(action, id, long, { data: 1 }));
      assert.deepEqual([r.code, r.msg], [400, "Topic is longer than 16 characters"]);
    }
    assert.equal((await ack(pubsub("pub", 8, "x".repeat(16), { data: 1 }))).code, 200);
    const deep = await ack(pubsub("pub", 9, "a/b/c/d", { data: 1 }));
    assert.deepEqual([deep.code, deep.msg], [400, "Topic has more than 3 levels"]);
    assert.equal((await ack(pubsub("unsub", 10, "b"))).code, 200);
    assert.equal((await ack(pubsub("sub", 11, "a/+/#/x"))).code, 400);
    assert.equal((await ack(pubsub("pub", 12, "a/b/c", { data: 1 }))).code, 200);
    assert.equal((await c.request(req("web"))).code, 200);
    assert.equal(server.hub.subscriptionCount, 2);
  }, { MAX_SUBSCRIPTIONS: 3, MAX_TOPIC_LENGTH: 16, MAX_TOPIC_LEVELS: 3 }));

Deno.test("MAX_RETAINED - a retained value on one topic too many is refused with 400", async () => {
  const server = await startServer({ MAX_RETAINED: 2 });
  const publisher = await Client.connect(wsUrl(server));
  const watcher = await Client.connect(wsUrl(server));
  const pub = async (id: number, topic: string, data: unknown) => {
    publisher.send(pubsub("pub", id, topic, { data, retain: true }));
    return await publisher.next(ackOf(id));
  };
  try {
    watcher.send(pubsub("sub", 1, "r/#"));
    await watcher.next(ackOf(1));
    assert.equal((await pub(1, "r/1", "a")).code, 200);
    assert.equal((await pub(2, "r/2", "b")).code, 200);
    const third = await pub(3, "r/3", "c");
    assert.equal(third.code, 400);
    assert.match(third.msg, /limit of 2 retained topics/);
    assert.equal((await pub(4, "r/1", "a2")).code, 200, "replacing a value is not a new topic");
    assert.equal((await pub(5, "r/2", null)).code, 200, "clearing frees a place");
    assert.equal((await pub(6, "r/3", "c2")).code, 200);
    // The refused publish was not delivered either.
    const seen = (await watcher.waitFor(5, (m) => m.action === "pub")).map((m) => m.data);
    assert.deepEqual(seen, ["a", "b", "a2", null, "c2"]);
    const late = await Client.connect(wsUrl(server));
    late.send(pubsub("sub", 1, "r/#"));
    const replayed = await late.waitFor(2, (m) => m.retained === true);
    assert.deepEqual(replayed.map((m) => [m.topic, m.data]).sort(), [["r/1", "a2"], ["r/3", "c2"]]);
    await late.close();
  } finally {
    await publisher.close();
    await watcher.close();
    await server.shutdown();
  }
});

Deno.test("MAX_DEPTH - deeper nesting is refused with 400 before any handler sees it", () =>
  withServer(async (server, c) => {
    let calls = 0;
    server.command("count", () => {
      calls++;
    });
    // The message is level 1, kwargs 2, a 3, b 4.
    const ok = await c.request(req("echo", { id: 1, kwargs: { a: { b: {} } } }));
    assert.equal(ok.code, 200);
    const deep = await c.request(req("count", { id: 2, kwargs: { a: { b: { c: {} } } } }));
    assert.deepEqual([deep.code, deep.msg], [400, "Invalid message: nesting deeper than 4 levels"]);
    c.send(pubsub("pub", 3, "t", { data: [[[[1]]]] }));
    assert.equal((await c.next(ackOf(3))).code, 400);
    // Far deeper than any stack: refused without recursion, and the server keeps serving.
    const huge = 100_000;
    c.send(
      `{"mode":"req_res","action":"req","command":"count","id":4,"args":${"[".repeat(huge)}${
        "]".repeat(huge)
      }}`,
    );
    assert.equal((await c.next((m) => m.id === 4)).code, 400);
    assert.equal(calls, 0);
    assert.equal((await c.request(req("count", { id: 5 }))).code, 200);
    assert.equal(calls, 1);
  }, { MAX_DEPTH: 4 }));

Deno.test("MAX_INFLIGHT - requests beyond the per-connection bound get 429", () =>
  withServer(async (server, c) => {
    // Each call waits until the test lets it end, so the ones beyond the bound are refused while
    // the others are certainly still running or queued.
    const waiting: (() => void)[] = [];
    server.command("nap", () => new Promise<void>((resolve) => waiting.push(resolve)));
    const wake = () => waiting.splice(0).forEach((resolve) => resolve());
    for (const id of [1, 2, 3]) c.send(req("nap", { id }));
    const third = await c.next((m) => m.id === 3);
    assert.deepEqual([third.code, third.msg], [429, "Too many requests in flight (limit 2)"]);
    await until(() => waiting.length === 2, "both admitted requests to run");
    wake();
    assert.equal((await c.next((m) => m.id === 1)).code, 200);
    assert.equal((await c.next((m) => m.id === 2)).code, 200);
    // Without ids: one runs, two wait in the queue, the fourth is refused.
    for (let i = 0; i < 4; i++) c.send(req("nap", { kwargs: { n: i } }));
    const refused = await c.next((m) => m.action === "res");
    assert.deepEqual([refused.code, refused.msg], [429, "Too many queued requests (limit 2)"]);
    for (let served = 0; served < 3; served++) {
      await until(() => waiting.length === 1, "the next queued request to run");
      wake();
      assert.equal((await c.next((m) => m.action === "res")).code, 200);
    }
  }, { MAX_INFLIGHT: 2 }));

/** Opens a raw TCP WebSocket (hand-written handshake) that never answers a ping. */
async function deafSocket(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  await conn.write(new TextEncoder().encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  return conn;
}

/** Reads a connection to its end (or `ms`): the bytes, and whether the peer closed it. */
async function readToEnd(conn: Deno.Conn, ms: number): Promise<{ bytes: number[]; eof: boolean }> {
  const bytes: number[] = [];
  const chunk = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  let read: Promise<number | null> | undefined;
  while (Date.now() < deadline) {
    read ??= conn.read(chunk);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      read,
      new Promise<"wait">((r) => timer = setTimeout(() => r("wait"), deadline - Date.now())),
    ]);
    clearTimeout(timer);
    if (n === "wait") break;
    read = undefined;
    if (n === null) return { bytes, eof: true };
    bytes.push(...chunk.subarray(0, n));
  }
  conn.close();
  await read?.catch(() => null);
  return { bytes, eof: false };
}

/** The opcodes (and close code) of the small server frames after an HTTP response. */
function framesAfterHandshake(bytes: number[]): { opcodes: number[]; closeCode?: number } {
  const text = new TextDecoder().decode(new Uint8Array(bytes));
  assert.match(text, /^HTTP\/1\.1 101/);
  let i = text.indexOf("\r\n\r\n") + 4; // the response head is ASCII: chars = bytes
  const opcodes: number[] = [];
  let closeCode: number | undefined;
  while (i + 2 <= bytes.length) {
    const opcode = bytes[i] & 15;
    const len = bytes[i + 1] & 127; // control frames are under 126 bytes
    if (opcode === 8 && len >= 2) closeCode = (bytes[i + 2] << 8) | bytes[i + 3];
    opcodes.push(opcode);
    i += 2 + len;
  }
  return { opcodes, closeCode };
}

Deno.test("IDLE_TIMEOUT_S - a peer that never answers pings is dropped, a live one stays", async () => {
  const server = await startServer({ IDLE_TIMEOUT_S: 1 });
  const live = await Client.connect(wsUrl(server)); // Deno's client answers pings by itself
  const deaf = await deafSocket(server.port);
  try {
    await until(() => server.hub.size === 2, "the deaf socket to be admitted");
    const { bytes, eof } = await readToEnd(deaf, 6000);
    assert.ok(eof, "the server never dropped the deaf peer");
    // Pinged first, closed with 1001 only after that: the drop is for the unanswered ping.
    const { opcodes, closeCode } = framesAfterHandshake(bytes);
    const ping = opcodes.indexOf(9);
    assert.ok(ping >= 0 && ping < opcodes.lastIndexOf(8), `no ping before the close: ${opcodes}`);
    assert.equal(closeCode, 1001);
    await until(() => server.hub.size === 1, "the server forgot the deaf peer");
    assert.equal((await live.request(req("web"))).code, 200);
    assert.equal(live.closeEvent, undefined);
  } finally {
    try {
      deaf.close();
    } catch {
      // Closed by the server already.
    }
    await live.close();
    await server.shutdown();
  }
});
