/**
 * Request/reply, pipelined (as bench/scenarios/pipelined.ts): each connection keeps `depth`
 * `echo` requests with ids in flight and sends a new one for every reply; every reply is parsed
 * and its id must match a request in flight. With `batch` the connections open with `?batch=1`:
 * a frame of replies (one per line) is answered with one frame of new requests.
 *
 * @module
 */
import { MeasureWindow } from "./window.mjs";
import { closeSockets, nextMessage, openSockets } from "./connect.mjs";
import { batchUrl, ECHO_REPLY, echoRequest, expectFields } from "./protocol.mjs";

/**
 * Runs the pipelined load.
 *
 * @param {{ url: string, serverPid: number, params: Record<string, any> }} ctx The server and
 *   the parameters (`connections`, `depth`, `batch`, `warmupMs`, `measureMs`).
 * @returns {Promise<Record<string, number>>} `rps`, `errors` (error replies and unmatched
 *   ids), `per_frame` and the CPU figures.
 */
export async function runPipelined(ctx) {
  const { connections, depth, batch, warmupMs, measureMs } = ctx.params;
  const meter = new MeasureWindow(ctx.serverPid);
  let done = 0;
  let errors = 0;
  let frames = 0;
  let running = true;

  const sockets = await openSockets(batch ? batchUrl(ctx.url) : ctx.url, connections, {
    ready: async (ws) => {
      ws.send(echoRequest(0));
      expectFields(JSON.parse(await nextMessage(ws)), { ...ECHO_REPLY, id: 0 });
    },
  });
  for (const ws of sockets) {
    const inFlight = new Set();
    let nextId = 1;
    const request = () => {
      inFlight.add(nextId);
      return echoRequest(nextId++);
    };
    const onReply = (text) => {
      const reply = JSON.parse(text);
      if (reply.code === 200 && inFlight.delete(reply.id)) done++;
      else errors++;
    };
    ws.on(
      "message",
      batch
        ? (data) => {
          frames++;
          const replies = data.toString().split("\n");
          for (const r of replies) onReply(r);
          if (running) ws.send(Array.from(replies, request).join("\n"));
        }
        : (data) => {
          frames++;
          onReply(data.toString());
          if (running) ws.send(request());
        },
    );
    if (batch) ws.send(Array.from({ length: depth }, request).join("\n"));
    else for (let i = 0; i < depth; i++) ws.send(request());
  }

  const { rate, ...cpu } = await meter.run(warmupMs, measureMs, () => done);
  running = false;
  await closeSockets(sockets);
  return { rps: rate, errors, per_frame: (done + errors) / frames, ...cpu };
}
