/**
 * Pub/sub under load, over real sockets on 127.0.0.1 with the default config: one client
 * publishes 10,000 messages in a loop to 50 subscribers; each subscriber must get every one of
 * them, in order, once. Clients here are bare WebSockets that check sequence numbers as frames
 * arrive (the test Client's inbox would cost O(n²) at this volume).
 */
import assert from "node:assert/strict";
import { startServer, wsUrl } from "./_client.ts";

const SUBSCRIBERS = 50;
const MESSAGES = 10_000;
const TOPIC = "load/seq";
/** The whole exchange must finish within this; it takes a few seconds on 2 cores. */
const LIMIT_MS = 30_000;

/** A bare WebSocket that waits for its socket to open. */
async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`Cannot connect to ${url}: ${(e as ErrorEvent).message}`));
  });
  ws.onerror = () => {};
  return ws;
}

async function close(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((resolve) => ws.addEventListener("close", resolve, { once: true }));
  ws.close();
  await closed;
}

/** A subscriber that checks each delivery's sequence number as it arrives. */
class Subscriber {
  received = 0;
  readonly errors: string[] = [];
  readonly done = Promise.withResolvers<void>();

  private constructor(readonly ws: WebSocket) {}

  static async subscribe(url: string): Promise<Subscriber> {
    const s = new Subscriber(await open(url));
    const acked = Promise.withResolvers<void>();
    s.ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.action !== "ack" || m.code !== 200) acked.reject(new Error(e.data));
      else acked.resolve();
      s.ws.onmessage = (e) => s.#delivery(JSON.parse(e.data));
    };
    s.ws.send(JSON.stringify({ mode: "pub_sub", action: "sub", src: "front", topic: TOPIC }));
    await acked.promise;
    return s;
  }

  #delivery(m: { action: string; topic: string; data: { seq?: number; end?: boolean } }): void {
    if (m.action !== "pub" || m.topic !== TOPIC) {
      this.#error(`unexpected message ${JSON.stringify(m)}`);
    } else if (m.data.end === true) {
      this.done.resolve();
    } else if (m.data.seq !== this.received) {
      this.#error(`got seq ${m.data.seq} where ${this.received} was due`);
    } else {
      this.received++;
    }
  }

  #error(text: string): void {
    if (this.errors.length < 5) this.errors.push(text);
  }
}

Deno.test("pub/sub load - 10,000 publishes reach 50 subscribers in order, each exactly once", async () => {
  const server = await startServer();
  const url = wsUrl(server);
  const subscribers = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, () => Subscriber.subscribe(url)),
  );
  const publisher = await open(url);
  let acks = 0;
  const refused: string[] = [];
  const acked = Promise.withResolvers<void>();
  publisher.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.code !== 200 && refused.length < 5) refused.push(e.data);
    if (++acks === MESSAGES + 1) acked.resolve();
  };

  const started = performance.now();
  for (let seq = 0; seq < MESSAGES; seq++) {
    publisher.send(
      `{"mode":"pub_sub","action":"pub","src":"agent","topic":"${TOPIC}","data":{"seq":${seq}}}`,
    );
  }
  publisher.send(JSON.stringify({
    mode: "pub_sub",
    action: "pub",
    src: "agent",
    topic: TOPIC,
    data: { end: true },
  }));

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const counts = subscribers.map((s) => s.received);
      reject(new Error(`Not done within ${LIMIT_MS} ms: acks ${acks}, received ${counts}`));
    }, LIMIT_MS);
  });
  try {
    await Promise.race([
      Promise.all([acked.promise, ...subscribers.map((s) => s.done.promise)]),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  const ms = Math.round(performance.now() - started);

  assert.deepEqual(refused, [], "every publish is acknowledged with 200");
  for (const [i, s] of subscribers.entries()) {
    assert.deepEqual(s.errors, [], `subscriber ${i}`);
    assert.equal(s.received, MESSAGES, `subscriber ${i}`);
  }
  assert.equal(server.metrics.send.dropped, 0);
  assert.equal(server.hub.stats.delivered, SUBSCRIBERS * (MESSAGES + 1));
  console.log(`${SUBSCRIBERS * MESSAGES} deliveries in ${ms} ms`);

  await Promise.all([publisher, ...subscribers.map((s) => s.ws)].map(close));
  await server.shutdown();
});
