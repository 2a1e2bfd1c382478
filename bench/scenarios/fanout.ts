/**
 * Fan-out: one publisher, many subscribers of one topic, against Switchboard or the raw server
 * (`protocol` "switchboard") or nats-server ("nats", whose payload is the same JSON text as a
 * Switchboard delivery). Each publish carries its sequence number and send time in `data`, so
 * every subscriber can tell latency, loss and reordering.
 *
 * - `rate` > 0: publishes at that fixed rate; measures publish→delivery latency (p50/p99).
 * - `rate` = 0: publishes as fast as the window allows: at most `window` publishes in flight,
 *   a publish being in flight until its acknowledgement has come back (Switchboard's pub ack;
 *   for NATS the PONG to a PING sent right after the PUB), as a publishing application would
 *   count it. With `until` "delivered" it also stays in flight until every subscriber has it:
 *   then the server cannot queue more than `window` publishes for anyone.
 * - `batch`: subscribers connect with `?batch=1` and split frames on `\n`.
 *
 * After the window the publisher stops and the run waits for the last deliveries (until none
 * came for `drainMs`); what never arrived is `lost`.
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { cpuMetrics, MeasureWindow } from "./_window.ts";
import { closeSockets, nextMessage, openSockets } from "./_connect.ts";
import {
  batchUrl,
  DELIVERY,
  expectFields,
  isOk,
  numberField,
  publishRequest,
  SUB_REQUEST,
  TOPIC,
} from "./_protocol.ts";
import { openNats, pubWithAck } from "./_nats.ts";
import { percentile, Samples } from "../stats.ts";
import { memoryKb } from "../proc.ts";
import { setTimeout as sleep } from "node:timers/promises";

/** Parameters of the fan-out scenarios. */
export interface FanoutParams {
  subscribers: number;
  /** Publishes per second; 0 = as fast as the window allows. */
  rate: number;
  /** Publishes in flight at maximum rate. */
  window: number;
  /**
   * When a publish stops being in flight: "acked" (default: its acknowledgement came back) or
   * "delivered" (that, and every subscriber has it).
   */
  until?: "acked" | "delivered";
  batch: boolean;
  warmupMs: number;
  measureMs: number;
  drainMs: number;
}

/** Slots of the ring that counts what each publish still waits for (a power of two). */
const RING = 1 << 16;

/**
 * Runs a fan-out scenario.
 *
 * @param ctx The server and the parameters.
 * @returns `rate` (deliveries/s), `p50_ms` and `p99_ms` (fixed rate only), `lost`,
 *   `reordered`, `errors`, `per_frame`, `server_hwm_mb` and the CPU figures.
 */
export async function runFanout(ctx: RunContext): Promise<Metrics> {
  const p = ctx.params as unknown as FanoutParams;
  const n = p.subscribers;
  const meter = new MeasureWindow(ctx.serverPid);
  const latency = new Samples();
  const expected = new Float64Array(n).fill(1); // next sequence number per subscriber
  const checked = new Uint8Array(n); // first delivery parsed and checked in full
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

  const onDelivery = (i: number, text: string) => {
    if (checked[i] === 0) {
      expectFields(text, DELIVERY);
      checked[i] = 1;
    }
    const seq = numberField(text, "seq");
    if (!(seq > 0 && seq <= published)) {
      errors++;
      return;
    }
    received++;
    if (seq >= expected[i]) expected[i] = seq + 1;
    else reordered++;
    if (p.rate > 0 && meter.open) latency.push(performance.now() - numberField(text, "sent"));
    if (byDelivery && --due[seq & (RING - 1)] === 0 && seq === complete + 1) advance();
  };
  const onAck = (ok: boolean) => {
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
  const onFrame = () => frames++;

  const { sockets, publish } = ctx.protocol === "nats"
    ? await natsClients(ctx.url, n, { onDelivery, onFrame, onAck })
    : await switchboardClients(ctx.url, ctx.subscribeUrl ?? ctx.url, n, p.batch, {
      onDelivery,
      onFrame,
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
  let ticker: ReturnType<typeof setTimeout> | undefined;
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

  const w = await meter.run(p.warmupMs, p.measureMs, () => received);
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
  const latencies: Metrics = p.rate > 0
    ? { p50_ms: percentile(samples, 50), p99_ms: percentile(samples, 99) }
    : {};
  return {
    rate: w.rate,
    ...latencies,
    lost: published * n - received,
    reordered,
    errors,
    per_frame: received / frames,
    server_hwm_mb: serverHwm / 1024,
    ...cpuMetrics(w),
  };
}

/** What the clients of a fan-out report to the scenario. */
interface FanoutEvents {
  /** A delivery's JSON text arrived at subscriber `index`. */
  onDelivery(index: number, text: string): void;
  /** A subscriber received a WebSocket frame. */
  onFrame(): void;
  /** The publisher got an acknowledgement, successful or not. */
  onAck(ok: boolean): void;
}

/** The connections of a fan-out and how to publish. */
interface FanoutClients {
  /** The publisher and the subscribers, to close at the end. */
  sockets: WebSocket[];
  /** Sends one publish (its JSON text). */
  publish(text: string): void;
}

async function switchboardClients(
  url: string,
  subUrl: string,
  n: number,
  batch: boolean,
  on: FanoutEvents,
): Promise<FanoutClients> {
  const subscribers = await openSockets(batch ? batchUrl(subUrl) : subUrl, n, {
    ready: async (ws, i) => {
      ws.send(SUB_REQUEST);
      expectFields(await nextMessage(ws), { mode: "pub_sub", action: "ack", code: 200 });
      ws.onmessage = batch
        ? (e) => {
          on.onFrame();
          for (const line of (e.data as string).split("\n")) on.onDelivery(i, line);
        }
        : (e) => {
          on.onFrame();
          on.onDelivery(i, e.data as string);
        };
    },
  });
  const [publisher] = await openSockets(url, 1);
  // On another node, the subscription crosses to Redis after the acks: give it time to land.
  if (subUrl !== url) await sleep(500);
  publisher.onmessage = (e) => on.onAck(isOk(e.data));
  return { sockets: [publisher, ...subscribers], publish: (text) => publisher.send(text) };
}

async function natsClients(url: string, n: number, on: FanoutEvents): Promise<FanoutClients> {
  const subscribers = await openNats(url, n, {
    subject: TOPIC,
    handlers: { onMsg: on.onDelivery, onFrame: on.onFrame },
  });
  const [publisher] = await openNats(url, 1, {
    handlers: { onPong: () => on.onAck(true), onErr: () => on.onAck(false) },
  });
  return {
    sockets: [publisher, ...subscribers],
    publish: (text) => publisher.send(pubWithAck(TOPIC, text)),
  };
}
