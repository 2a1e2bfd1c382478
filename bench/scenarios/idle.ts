/**
 * Idle connections: the server's resident memory (VmRSS from /proc) before and after opening
 * many connections that send nothing, divided by their number.
 *
 * "Before" is taken after one connection has opened, answered an `echo` and closed, so lazy
 * one-off set-up (the first upgrade, the first command) is not charged to the idle ones.
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { closeSockets, nextMessage, openSockets } from "./_connect.ts";
import { ECHO_REPLY, echoRequest, expectFields } from "./_protocol.ts";
import { memoryKb } from "../proc.ts";
import { setTimeout as sleep } from "node:timers/promises";

/** Parameters of the idle scenario. */
export interface IdleParams {
  connections: number;
  /** Wait after the last connection opened before reading memory. */
  settleMs: number;
}

/**
 * Runs the idle scenario.
 *
 * @param ctx The server and the parameters.
 * @returns `kb_per_conn`, `rss_before_mb`, `rss_after_mb`, `not_open` and `open_s` (seconds
 *   to open them all).
 */
export async function runIdle(ctx: RunContext): Promise<Metrics> {
  const { connections, settleMs } = ctx.params as unknown as IdleParams;
  const warm = await openSockets(ctx.url, 1, {
    ready: async (ws) => {
      ws.send(echoRequest());
      expectFields(await nextMessage(ws), ECHO_REPLY);
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
