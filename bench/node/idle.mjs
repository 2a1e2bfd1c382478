/**
 * Idle connections (as bench/scenarios/idle.ts): the server's resident memory before and after
 * opening many connections that send nothing, divided by their number. "Before" is taken after
 * one connection has opened, answered an `echo` and closed.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { closeSockets, nextMessage, openSockets, WebSocket } from "./connect.mjs";
import { ECHO_REPLY, echoRequest, expectFields } from "./protocol.mjs";
import { memoryKb } from "./proc.mjs";

/**
 * Runs the idle scenario.
 *
 * @param {{ url: string, serverPid: number, params: Record<string, any> }} ctx The server and
 *   the parameters (`connections`, `settleMs`).
 * @returns {Promise<Record<string, number>>} `kb_per_conn`, `rss_before_mb`, `rss_after_mb`,
 *   `not_open` and `open_s`.
 */
export async function runIdle(ctx) {
  const { connections, settleMs } = ctx.params;
  const warm = await openSockets(ctx.url, 1, {
    ready: async (ws) => {
      ws.send(echoRequest());
      expectFields(JSON.parse(await nextMessage(ws)), ECHO_REPLY);
    },
  });
  await closeSockets(warm);
  await sleep(settleMs);
  const before = memoryKb(ctx.serverPid);

  const started = performance.now();
  const sockets = await openSockets(ctx.url, connections, { concurrency: 200 });
  const openSeconds = (performance.now() - started) / 1000;
  await sleep(settleMs);
  const after = memoryKb(ctx.serverPid);
  const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  await closeSockets(sockets, 5000);

  return {
    kb_per_conn: (after - before) / connections,
    rss_before_mb: before / 1024,
    rss_after_mb: after / 1024,
    not_open: connections - open,
    open_s: openSeconds,
  };
}
