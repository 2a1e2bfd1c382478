/**
 * The load generator: one process per run, started by bench/runner.ts. It runs one scenario
 * against one server and prints the figures as one line of JSON on stdout.
 *
 * Usage: `deno run --allow-all bench/load.ts '{"scenario":"closed_loop","url":"ws://…",
 * "serverPid":123,"params":{…}}'`
 *
 * A separate process, not the orchestrator, so that every run starts from a fresh isolate (no
 * heap or JIT state carried over from the previous run) and its CPU time can be read on its
 * own from /proc. One process, not several: on 2 cores a second generator only takes CPU from
 * the server (docs/benchmarks.md has the figures).
 *
 * @module
 */
import { scenarioById } from "./scenarios/mod.ts";
import type { RunContext } from "./scenarios/types.ts";

/** What the orchestrator passes as the only argument. */
export interface LoadRequest extends RunContext {
  /** The scenario id. */
  scenario: string;
}

if (import.meta.main) {
  const request = JSON.parse(Deno.args[0] ?? "{}") as LoadRequest;
  try {
    const metrics = await scenarioById(request.scenario).run(request);
    console.log(JSON.stringify(metrics));
    // Exit at once: leftover timers of the scenario must not hold the process.
    Deno.exit(0);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(1);
  }
}
