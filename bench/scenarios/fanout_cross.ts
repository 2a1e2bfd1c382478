/**
 * Fan-out across nodes: the publisher on node A (the server under test), the subscribers on a
 * node B this scenario starts with the same BROKER_URL, every delivery through Redis. The fan-out
 * itself is bench/scenarios/fanout.ts, with the subscribers pointed at B. Node B's CPU is not in
 * the CPU figures (they are node A's); both nodes, Redis and the load generator share the machine.
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { runFanout } from "./fanout.ts";
import { startServer } from "../server_process.ts";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Runs a fan-out with its subscribers on a second node.
 *
 * @param ctx Node A and the fan-out parameters, plus `brokerUrl` (the nodes' BROKER_URL).
 * @returns The fan-out figures (see `runFanout`).
 */
export async function runFanoutCross(ctx: RunContext): Promise<Metrics> {
  const brokerUrl = String(ctx.params.brokerUrl);
  const b = await startServer(["deno", "run", "--allow-all", "main.ts"], {
    env: { BROKER_URL: brokerUrl, LOG_LEVEL: "warn" },
  });
  try {
    const a = ctx.url.replace(/^ws:/, "http:");
    for (const http of [a, b.url.replace(/^ws:/, "http:")]) await healthy(http);
    return await runFanout({ ...ctx, subscribeUrl: b.url });
  } finally {
    await b.stop();
  }
}

/** Waits until a node's /healthz says ok (its broker connected): at most 15 s. */
async function healthy(base: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const res = await fetch(new URL("/healthz", base)).catch(() => undefined);
    const body = await res?.json().catch(() => undefined);
    if (body?.status === "ok") return;
    if (performance.now() > deadline) throw new Error(`Node ${base} is not healthy after 15 s`);
    await sleep(100);
  }
}
