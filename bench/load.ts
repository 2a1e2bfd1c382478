/**
 * The Deno load generator: one process per run, started by bench/runner.ts. It runs one
 * scenario against one server and prints the figures as one line of JSON on stdout. The Node
 * load generator (bench/node/load.mjs) takes the same request and prints the same figures.
 *
 * Usage: `deno run --allow-all bench/load.ts '{"run":"closed_loop","protocol":"switchboard",
 * "url":"ws://…","serverPid":123,"params":{…}}'`
 *
 * A separate process, not the orchestrator, so that every run starts from a fresh isolate (no
 * heap or JIT state carried over from the previous run) and its CPU time can be read on its
 * own from /proc. One process, not several: on 2 cores a second generator only takes CPU from
 * the server (docs/benchmarks.md has the figures).
 *
 * @module
 */
import type { Metrics, RunContext, RunKind } from "./scenarios/types.ts";
import { runClosedLoop } from "./scenarios/closed_loop.ts";
import { runPipelined } from "./scenarios/pipelined.ts";
import { runFanout } from "./scenarios/fanout.ts";
import { runIdle } from "./scenarios/idle.ts";
import { runFanoutCross } from "./scenarios/fanout_cross.ts";
import { runApiPublish } from "./scenarios/api_publish.ts";
import { runPresence } from "./scenarios/presence.ts";

/**
 * The implementation of each kind of scenario. The last three are the feature scenarios', which
 * only this generator implements (their scenarios say `generators: ["deno"]`).
 */
const RUNS: Record<RunKind, (ctx: RunContext) => Promise<Metrics>> = {
  closed_loop: runClosedLoop,
  pipelined: runPipelined,
  fanout: runFanout,
  idle: runIdle,
  fanout_cross: runFanoutCross,
  api_publish: runApiPublish,
  presence: runPresence,
};

if (import.meta.main) {
  try {
    const request = JSON.parse(Deno.args[0] ?? "{}") as RunContext;
    const run = RUNS[request.run];
    if (!run) {
      throw new Error(`Unknown scenario "${request.run}": expected one of ${Object.keys(RUNS)}`);
    }
    const metrics = await run(request);
    console.log(JSON.stringify(metrics));
    // Exit at once: leftover timers of the scenario must not hold the process.
    Deno.exit(0);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(1);
  }
}
