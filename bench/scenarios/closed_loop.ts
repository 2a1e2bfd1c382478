/**
 * Request/reply, closed loop: each connection sends an `echo` request without `id`, waits for
 * the reply, sends the next. Measures round trips per second and the round-trip time.
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { cpuMetrics, MeasureWindow } from "./_window.ts";
import { closeSockets, nextMessage, openSockets } from "./_connect.ts";
import { batchUrl, ECHO_REPLY, echoRequest, expectFields, isOk } from "./_protocol.ts";
import { percentile, Samples } from "../stats.ts";

/** Parameters of the closed loop. */
export interface ClosedLoopParams {
  connections: number;
  /** Connect with `?batch=1` (a lone reply must still come at once). */
  batch?: boolean;
  warmupMs: number;
  measureMs: number;
}

/**
 * Runs the closed loop.
 *
 * @param ctx The server and the parameters.
 * @returns `rps`, `p50_ms`, `p99_ms`, `errors` and the CPU figures.
 */
export async function runClosedLoop(ctx: RunContext): Promise<Metrics> {
  const { connections, batch, warmupMs, measureMs } = ctx.params as unknown as ClosedLoopParams;
  const request = echoRequest();
  const meter = new MeasureWindow(ctx.serverPid);
  const rtt = new Samples();
  let done = 0;
  let errors = 0;
  let running = true;

  const sockets = await openSockets(batch ? batchUrl(ctx.url) : ctx.url, connections, {
    ready: async (ws) => {
      ws.send(request);
      expectFields(await nextMessage(ws), { ...ECHO_REPLY, id: undefined });
    },
  });
  for (const ws of sockets) {
    let sentAt = performance.now();
    ws.onmessage = (e) => {
      if (isOk(e.data)) done++;
      else errors++;
      if (meter.open) rtt.push(performance.now() - sentAt);
      if (!running) return;
      sentAt = performance.now();
      ws.send(request);
    };
    ws.send(request);
  }

  const w = await meter.run(warmupMs, measureMs, () => done);
  running = false;
  await closeSockets(sockets);
  const samples = rtt.view();
  return {
    rps: w.rate,
    p50_ms: percentile(samples, 50),
    p99_ms: percentile(samples, 99),
    errors,
    ...cpuMetrics(w),
  };
}
