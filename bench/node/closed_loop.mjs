/**
 * Request/reply, closed loop (as bench/scenarios/closed_loop.ts): each connection sends an
 * `echo` request without `id`, waits for the reply, parses it, sends the next.
 *
 * @module
 */
import { MeasureWindow } from "./window.mjs";
import { closeSockets, nextMessage, openSockets } from "./connect.mjs";
import { batchUrl, ECHO_REPLY, echoRequest, expectFields } from "./protocol.mjs";
import { percentile, Samples } from "./stats.mjs";

/**
 * Runs the closed loop.
 *
 * @param {{ url: string, serverPid: number, params: Record<string, any> }} ctx The server and
 *   the parameters (`connections`, `batch`, `warmupMs`, `measureMs`).
 * @returns {Promise<Record<string, number>>} `rps`, `p50_ms`, `p99_ms`, `errors` and the CPU
 *   figures.
 */
export async function runClosedLoop(ctx) {
  const { connections, batch, warmupMs, measureMs } = ctx.params;
  const request = echoRequest();
  const meter = new MeasureWindow(ctx.serverPid);
  const rtt = new Samples();
  let done = 0;
  let errors = 0;
  let running = true;

  const sockets = await openSockets(batch ? batchUrl(ctx.url) : ctx.url, connections, {
    ready: async (ws) => {
      ws.send(request);
      expectFields(JSON.parse(await nextMessage(ws)), { ...ECHO_REPLY, id: undefined });
    },
  });
  for (const ws of sockets) {
    let sentAt = performance.now();
    ws.on("message", (data) => {
      // One request in flight: one reply per frame, even for a batching client.
      if (JSON.parse(data.toString()).code === 200) done++;
      else errors++;
      if (meter.open) rtt.push(performance.now() - sentAt);
      if (!running) return;
      sentAt = performance.now();
      ws.send(request);
    });
    ws.send(request);
  }

  const w = await meter.run(warmupMs, measureMs, () => done);
  running = false;
  await closeSockets(sockets);
  const samples = rtt.view();
  const { rate, ...cpu } = w;
  return {
    rps: rate,
    p50_ms: percentile(samples, 50),
    p99_ms: percentile(samples, 99),
    errors,
    ...cpu,
  };
}
