/**
 * Request/reply, pipelined: each connection keeps `depth` `echo` requests with ids in flight and
 * sends a new one for every reply. Every reply's id must match a request in flight.
 *
 * With `batch`, connections open with `?batch=1`: replies may come several to a frame (split on
 * `\n`), and the client answers a frame of replies with one frame of new requests, the way a
 * batching SDK would.
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { cpuMetrics, MeasureWindow } from "./_window.ts";
import { closeSockets, nextMessage, openSockets } from "./_connect.ts";
import { batchUrl, ECHO_REPLY, echoRequest, expectFields, isOk, numberField } from "./_protocol.ts";

/** Parameters of the pipelined scenario. */
export interface PipelinedParams {
  connections: number;
  /** Requests in flight per connection. */
  depth: number;
  batch: boolean;
  warmupMs: number;
  measureMs: number;
}

/**
 * Runs the pipelined load.
 *
 * @param ctx The server and the parameters.
 * @returns `rps`, `errors` (error replies and unmatched ids), `per_frame` and the CPU figures.
 */
export async function runPipelined(ctx: RunContext): Promise<Metrics> {
  const { connections, depth, batch, warmupMs, measureMs } = ctx
    .params as unknown as PipelinedParams;
  const meter = new MeasureWindow(ctx.serverPid);
  let done = 0;
  let errors = 0;
  let frames = 0;
  let running = true;

  const sockets = await openSockets(batch ? batchUrl(ctx.url) : ctx.url, connections, {
    ready: async (ws) => {
      ws.send(echoRequest(0));
      expectFields(await nextMessage(ws), { ...ECHO_REPLY, id: 0 });
    },
  });
  for (const ws of sockets) {
    const inFlight = new Set<number>();
    let nextId = 1;
    const request = () => {
      inFlight.add(nextId);
      return echoRequest(nextId++);
    };
    const onReply = (text: string) => {
      if (isOk(text) && inFlight.delete(numberField(text, "id"))) done++;
      else errors++;
    };
    ws.onmessage = batch
      ? (e) => {
        frames++;
        const replies = (e.data as string).split("\n");
        for (const r of replies) onReply(r);
        if (running) ws.send(Array.from(replies, request).join("\n"));
      }
      : (e) => {
        frames++;
        onReply(e.data as string);
        if (running) ws.send(request());
      };
    if (batch) ws.send(Array.from({ length: depth }, request).join("\n"));
    else for (let i = 0; i < depth; i++) ws.send(request());
  }

  const w = await meter.run(warmupMs, measureMs, () => done);
  running = false;
  await closeSockets(sockets);
  return { rps: w.rate, errors, per_frame: (done + errors) / frames, ...cpuMetrics(w) };
}
