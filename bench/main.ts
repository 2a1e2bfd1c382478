/**
 * `deno task bench`: measures Switchboard against the bare Deno WebSocket server
 * (bench/raw_server.ts) in the same run, interleaved A B A B, each run on a fresh server
 * process, and prints a markdown table (median, min–max, ratio, targets) and writes the JSON.
 * Exits with 1 when a run failed (a server or the load generator broke), else 0, whether or not
 * the targets are met.
 *
 * The method is in docs/benchmarks.md; `--help` lists the flags.
 *
 * @module
 */
import { parseOptions, type TargetName, USAGE } from "./options.ts";
import { describeMachine } from "./machine.ts";
import { SCENARIOS } from "./scenarios/mod.ts";
import { type RunResult, runWithRetries } from "./runner.ts";
import { type BenchResults, formatNumber, summarizeRuns, toMarkdown, writeJson } from "./report.ts";

/** Open files the idle scenario needs in the server and in the load generator, each. */
const IDLE_FILES = 5200;

let options;
try {
  options = parseOptions(Deno.args);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  Deno.exit(2);
}
if (options === "help") {
  console.log(USAGE);
  Deno.exit(0);
}

const machine = describeMachine();
const scenarios = SCENARIOS.filter((s) => options.scenarios.includes(s.id));
// Deno raises its soft open-file limit to the hard one at start, so this is what every Deno
// child gets too; only the hard limit (`ulimit -Hn`) can be too low.
const openFiles = Number(machine.openFiles);
if (options.scenarios.includes("idle") && openFiles < IDLE_FILES) {
  console.error(
    `Warning: the open-file limit is ${machine.openFiles}; the idle scenario needs about ` +
      `${IDLE_FILES}: raise it first ("ulimit -n 8192")`,
  );
}

const plan = scenarios.flatMap((scenario) =>
  Array.from({ length: options.reps }, (_, i) => i + 1).flatMap((rep) =>
    (scenario.baseline || scenario.switchboardOnly
      ? ["switchboard"] as const
      : ["switchboard", "raw"] as const)
      .map((target: TargetName) => ({ scenario, rep, target }))
  )
);
console.error(
  `Benchmark: ${plan.length} runs, ${options.quick ? "quick" : "full"}, ${options.reps} rep(s); ` +
    `${machine.cpu}, ${machine.cores} cores, Deno ${machine.deno}`,
);

const runs: RunResult[] = [];
const started = performance.now();
for (const [i, { scenario, rep, target }] of plan.entries()) {
  const t0 = performance.now();
  const params = options.quick ? scenario.quick : scenario.full;
  const result = await runWithRetries({ scenario, params, target: options.targets[target] }, {
    ...options,
    onRetry: (other) =>
      console.error(`  disturbed: other processes used ${other.toFixed(0)}% of a core; again`),
  });
  runs.push({ scenario: scenario.id, target, rep, ...result });
  const head = scenario.metrics[0];
  const shown = result.metrics
    ? `${formatNumber(result.metrics[head.key], head.digits)} ${head.label}`
    : `failed: ${result.error!.split("\n")[0]}`;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.error(
    `[${i + 1}/${plan.length}] ${scenario.id} · ${target} · rep ${rep}: ${shown} (${seconds} s)`,
  );
}

const results: BenchResults = {
  date: new Date().toISOString(),
  quick: options.quick,
  reps: options.reps,
  machine,
  commands: {
    switchboard: options.targets.switchboard.command.join(" "),
    raw: options.targets.raw.command.join(" "),
  },
  scenarios: summarizeRuns(scenarios, runs, options.quick),
  runs,
};
console.log(toMarkdown(results));
await writeJson(options.out, results);
console.error(
  `\nWrote ${options.out} in ${((performance.now() - started) / 1000).toFixed(0)} s total`,
);
// Targets missed are results, not failures; a run that could not measure is.
if (runs.some((r) => r.error)) Deno.exit(1);
