/**
 * The backend API's publish throughput next to a WebSocket publisher's, on the same server in
 * the same run (Switchboard only: the raw server has no API). One WebSocket subscriber takes
 * every publish of both phases, so both pay the same fan-out:
 *
 * 1. WebSocket: one publisher with at most `window` publishes not yet acknowledged.
 * 2. HTTP: `concurrency` loops, each `POST /api/publish` and await the answer, over keep-alive
 *    connections (fetch reuses them once a body has been read).
 *
 * Each phase has its own warm-up and window. RATE_LIMIT is 0 on this server: the limit of one
 * connection (5,000/s by default), which the API shares, would cap both phases.
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { cpuMetrics, MeasureWindow } from "./_window.ts";
import { closeSockets, nextMessage, openSockets } from "./_connect.ts";
import { expectFields, isOk, publishRequest, SUB_REQUEST, TOPIC } from "./_protocol.ts";
import { percentile, Samples } from "../stats.ts";
import { setTimeout as sleep } from "node:timers/promises";

/** The API key the scenario's server gets (API_KEY) and the load generator sends. */
export const BENCH_API_KEY = "bench-api-key-0123456789";

/** Parameters of the API publish scenario. */
export interface ApiPublishParams {
  /** WebSocket publishes in flight (not yet acknowledged). */
  window: number;
  /** HTTP requests in flight (one per keep-alive connection). */
  concurrency: number;
  warmupMs: number;
  measureMs: number;
}

/**
 * Runs the scenario.
 *
 * @param ctx The server and the parameters.
 * @returns `api_rate` and `ws_rate` (publishes/s), `api_vs_ws`, `api_p50_ms`, `api_p99_ms`,
 *   `ws_server_us` (server CPU per WebSocket publish), `lost`, `errors` and the CPU figures of
 *   the API window.
 */
export async function runApiPublish(ctx: RunContext): Promise<Metrics> {
  const p = ctx.params as unknown as ApiPublishParams;
  let delivered = 0;
  let errors = 0;
  const [subscriber] = await openSockets(ctx.url, 1, {
    ready: async (ws) => {
      ws.send(SUB_REQUEST);
      expectFields(await nextMessage(ws), { mode: "pub_sub", action: "ack", code: 200 });
      ws.onmessage = () => delivered++;
    },
  });

  // 1. WebSocket publisher.
  const [publisher] = await openSockets(ctx.url, 1);
  let wsSent = 0;
  let wsAcked = 0;
  let running = true;
  const fill = () => {
    while (running && wsSent - wsAcked < p.window) {
      publisher.send(publishRequest(++wsSent, performance.now()));
    }
  };
  publisher.onmessage = (e) => {
    if (!isOk(e.data)) errors++;
    wsAcked++;
    fill();
  };
  fill();
  const ws = await new MeasureWindow(ctx.serverPid).run(p.warmupMs, p.measureMs, () => wsAcked);
  running = false;
  while (wsAcked < wsSent) await sleep(5);

  // 2. HTTP API, keep-alive.
  const endpoint = new URL("/api/publish", ctx.url.replace(/^ws/, "http")).href;
  const headers = { authorization: `apikey ${BENCH_API_KEY}`, "content-type": "application/json" };
  const meter = new MeasureWindow(ctx.serverPid);
  const latency = new Samples();
  let apiDone = 0;
  let seq = 0;
  running = true;
  const loop = async () => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(endpoint, {
        method: "POST",
        headers,
        body: `{"topic":"${TOPIC}","src":"agent","msg":"tick","data":{"seq":${++seq}}}`,
      });
      const text = await res.text(); // read to the end: the connection goes back to the pool
      if (res.status !== 200 || !isOk(text)) errors++;
      if (meter.open) latency.push(performance.now() - t0);
      apiDone++;
    }
  };
  const loops = Array.from({ length: p.concurrency }, loop);
  const api = await meter.run(p.warmupMs, p.measureMs, () => apiDone);
  running = false;
  await Promise.all(loops);

  const published = wsSent + apiDone;
  const deadline = performance.now() + 2000;
  while (delivered < published && performance.now() < deadline) await sleep(10);
  await closeSockets([publisher, subscriber]);
  return {
    api_rate: api.rate,
    ws_rate: ws.rate,
    api_vs_ws: api.rate / ws.rate,
    api_p50_ms: percentile(latency.view(), 50),
    api_p99_ms: percentile(latency.view(), 99),
    ws_server_us: ws.serverUsPerOp,
    lost: published - delivered,
    errors,
    ...cpuMetrics(api),
  };
}
