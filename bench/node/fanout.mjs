/**
 * Fan-out (as bench/scenarios/fanout.ts): one publisher, many subscribers of one topic, against
 * Switchboard or the raw server (`protocol` "switchboard") or nats-server ("nats"). Every
 * delivery is parsed with `JSON.parse`; its `data` carries the publish's sequence number and
 * send time, so every subscriber can tell latency, loss and reordering.
 *
 * - `rate` > 0: publishes at that fixed rate; measures publish→delivery latency.
 * - `rate` = 0: publishes as fast as the window allows: at most `window` publishes in flight,
 *   a publish being in flight until its acknowledgement has come back (Switchboard's pub ack, or
 *   for NATS the PONG to a PING sent right after the PUB). With `until` "delivered" it also stays
 *   in flight until every subscriber has it.
 * - `batch` (Switchboard): subscribers connect with `?batch=1` and split frames on `\n`.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { MeasureWindow } from "./window.mjs";
import { closeSockets, nextMessage, openSockets } from "./connect.mjs";
import {
  batchUrl,
  DELIVERY,
  expectFields,
  publishRequest,
  SUB_REQUEST,
  TOPIC,
} from "./protocol.mjs";
import { NatsHandlers, openNats, pubWithAck } from "./nats_client.mjs";
import { percentile, Samples } from "./stats.mjs";
import { memoryKb } from "./proc.mjs";

/** Slots of the ring that counts what each publish still waits for (a power of two). */
const RING = 1 << 16;

/**
 * Runs a fan-out scenario.
 *
 * @param {{ url: string, serverPid: number, protocol?: string,
 *   params: Record<string, any> }} ctx The server, its protocol and the parameters
 *   (`subscribers`, `rate`, `window`, `until`, `batch`, `warmupMs`, `measureMs`,
 *   `drainMs`).
 * @returns {Promise<Record<string, number>>} `rate` (deliveries/s), `p50_ms` and `p99_ms`
 *   (fixed rate only), `lost`, `reordered`, `errors`, `per_frame`, `server_hwm_mb` and the CPU
 *   figures.
 */
export async function runFanout(ctx) {
  const p = ctx.params;
  const n = p.subscribers;
  const meter = new MeasureWindow(ctx.serverPid);
  const latency = new Samples();
  const expected = new Float64Array(n).fill(1); // next sequence number per subscriber
  const checked = new Uint8Array(n); // first delivery compared field by field
  const due = new Int32Array(RING); // per publish: deliveries still due, + 1 until acked
  // "delivered": a publish leaves the window only once every subscriber has it too; by default
  // its acknowledgement alone lets it go (the server may then queue deliveries).
  const byDelivery = p.until === "delivered";
  let published = 0;
  let acked = 0;
  let complete = 0; // every publish up to this one is acked and reached every subscriber
  let received = 0;
  let reordered = 0;
  let errors = 0;
  let frames = 0;
  let running = true;

  const onDelivery = (i, msg) => {
    if (checked[i] === 0) {
      expectFields(msg, DELIVERY);
      checked[i] = 1;
    }
    const seq = msg.data?.seq;
    if (!(seq > 0 && seq <= published)) {
      errors++;
      return;
    }
    received++;
    if (seq >= expected[i]) expected[i] = seq + 1;
    else reordered++;
    if (p.rate > 0 && meter.open) latency.push(performance.now() - msg.data.sent);
    if (byDelivery && --due[seq & (RING - 1)] === 0 && seq === complete + 1) advance();
  };
  const onAck = (ok) => {
    if (!ok || acked === published) { // a failure, or an acknowledgement of nothing
      errors++;
      if (acked === published) return;
    }
    const seq = ++acked;
    if (--due[seq & (RING - 1)] === 0 && seq === complete + 1) advance();
  };
  const advance = () => {
    while (complete < published && due[(complete + 1) & (RING - 1)] <= 0) complete++;
    if (p.rate === 0) fill();
  };

  const { sockets, publish } = ctx.protocol === "nats"
    ? await natsClients(ctx.url, n, {
      onDelivery: (i, payload) => onDelivery(i, JSON.parse(payload)),
      onFrame: () => frames++,
      onAck,
    })
    : await switchboardClients(ctx.url, n, p.batch, {
      onDelivery,
      onFrame: () => frames++,
      onAck,
    });

  const send = () => {
    published++;
    due[published & (RING - 1)] = byDelivery ? n + 1 : 1;
    publish(publishRequest(published, performance.now()));
  };
  const fill = () => {
    while (running && published - complete < p.window) send();
  };
  // A publish that never completes (a lost delivery or ack) must not stall the run: after 1 s
  // without progress, count it as done; the loss shows in `lost`.
  let lastComplete = -1;
  const watchdog = setInterval(() => {
    if (complete === lastComplete && complete < published) {
      due[(complete + 1) & (RING - 1)] = 0;
      advance();
    }
    lastComplete = complete;
  }, 1000);
  let ticker;
  if (p.rate > 0) {
    const period = 1000 / p.rate;
    let next = performance.now();
    const tick = () => {
      if (!running) return;
      send();
      next += period;
      ticker = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  } else {
    fill();
  }

  const { rate, ...cpu } = await meter.run(p.warmupMs, p.measureMs, () => received);
  running = false;
  clearTimeout(ticker);
  // The last deliveries: wait until all are in, or none came for `drainMs` (a queue still
  // draining is waited for, up to 10 × `drainMs`).
  const cap = performance.now() + 10 * p.drainMs;
  let seen = received;
  let quietSince = performance.now();
  while (received < published * n) {
    await sleep(20);
    const now = performance.now();
    if (received !== seen) [seen, quietSince] = [received, now];
    else if (now - quietSince > p.drainMs) break;
    if (now > cap) break;
  }
  clearInterval(watchdog);
  const serverHwm = memoryKb(ctx.serverPid, "VmHWM");
  await closeSockets(sockets);

  const samples = latency.view();
  const latencies = p.rate > 0
    ? { p50_ms: percentile(samples, 50), p99_ms: percentile(samples, 99) }
    : {};
  return {
    rate,
    ...latencies,
    lost: published * n - received,
    reordered,
    errors,
    per_frame: received / frames,
    server_hwm_mb: serverHwm / 1024,
    ...cpu,
  };
}

/**
 * Switchboard (or raw) subscribers and publisher.
 *
 * @returns {Promise<{ sockets: any[], publish: (text: string) => void }>}
 */
async function switchboardClients(url, n, batch, on) {
  const subscribers = await openSockets(batch ? batchUrl(url) : url, n, {
    ready: async (ws, i) => {
      ws.send(SUB_REQUEST);
      expectFields(JSON.parse(await nextMessage(ws)), {
        mode: "pub_sub",
        action: "ack",
        code: 200,
      });
      ws.on(
        "message",
        batch
          ? (data) => {
            on.onFrame();
            for (const line of data.toString().split("\n")) on.onDelivery(i, JSON.parse(line));
          }
          : (data) => {
            on.onFrame();
            on.onDelivery(i, JSON.parse(data.toString()));
          },
      );
    },
  });
  const [publisher] = await openSockets(url, 1);
  publisher.on("message", (data) => on.onAck(JSON.parse(data.toString()).code === 200));
  return { sockets: [publisher, ...subscribers], publish: (text) => publisher.send(text) };
}

/**
 * NATS subscribers (subject `bench`) and publisher; the payload is the delivery's JSON.
 *
 * @returns {Promise<{ sockets: any[], publish: (text: string) => void }>}
 */
async function natsClients(url, n, on) {
  const handlers = new NatsHandlers();
  handlers.onMsg = on.onDelivery;
  handlers.onFrame = on.onFrame;
  const subscribers = await openNats(url, n, { subject: TOPIC, handlers });
  const acks = new NatsHandlers();
  acks.onPong = () => on.onAck(true);
  acks.onErr = () => on.onAck(false);
  const [publisher] = await openNats(url, 1, { handlers: acks });
  return {
    sockets: [publisher, ...subscribers],
    publish: (text) => publisher.send(pubWithAck(TOPIC, text)),
  };
}
