/**
 * The Node load generator: one process per run, started by bench/runner.ts like the Deno one
 * (bench/load.ts), with the same request and the same figures. It runs one scenario against one
 * server and prints the figures as one line of JSON on stdout.
 *
 * Usage: `node bench/node/load.mjs '{"scenario":"closed_loop","protocol":"switchboard",
 * "url":"ws://…","serverPid":123,"params":{…}}'`; `node bench/node/load.mjs --version` prints
 * the versions of Node, ws and bufferutil (whether it loads).
 *
 * It differs from the Deno generator on purpose in one way: it parses every message it receives
 * with `JSON.parse`, as an application would, where the Deno one checks most messages by
 * substring. Its client is npm `ws` (with `bufferutil` when installed), the most used Node
 * WebSocket client.
 *
 * @module
 */
import { createRequire } from "node:module";
import { hasBufferutil } from "./connect.mjs";
import { runClosedLoop } from "./closed_loop.mjs";
import { runPipelined } from "./pipelined.mjs";
import { runFanout } from "./fanout.mjs";
import { runIdle } from "./idle.mjs";

/** The scenarios by the id bench/scenarios/mod.ts gives them. */
const RUNS = {
  closed_loop: runClosedLoop,
  pipelined: runPipelined,
  fanout: runFanout,
  idle: runIdle,
};

const arg = process.argv[2] ?? "{}";
if (arg === "--version") {
  const ws = createRequire(import.meta.url)("ws/package.json").version;
  console.log(JSON.stringify({ node: process.versions.node, ws, bufferutil: hasBufferutil() }));
  process.exit(0);
}
try {
  const request = JSON.parse(arg);
  const run = RUNS[request.run];
  if (!run) {
    throw new Error(`Unknown scenario "${request.run}": expected one of ${Object.keys(RUNS)}`);
  }
  const metrics = await run(request);
  console.log(JSON.stringify(metrics));
  // Exit at once: leftover timers or sockets must not hold the process.
  process.exit(0);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
