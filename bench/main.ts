/**
 * `deno task bench`: measures Switchboard against the bare Deno WebSocket server
 * (bench/raw_server.ts), and in the fan-out scenarios against nats-server too, in the same run,
 * each run on a fresh server process, interleaved (for each scenario and repetition: every load
 * generator, each against every target in turn). Two load generators run every scenario: Deno's
 * (bench/load.ts) and Node's with npm `ws` (bench/node/load.mjs). Prints markdown tables
 * (median, min–max, ratios, targets) and writes the JSON. Exits with 1 when a run failed (a
 * server or a load generator broke), else 0, whether or not the targets are met and whether or
 * not Node and nats-server are there.
 *
 * The method is in docs/benchmarks.md; `--help` lists the flags.
 *
 * @module
 */
import { type GeneratorName, GENERATORS, parseOptions, type TargetName, USAGE } from "./options.ts";
import { describeMachine } from "./machine.ts";
import { expandScenarios } from "./scenarios/mod.ts";
import type { Scenario } from "./scenarios/types.ts";
import { type RunResult, runWithRetries } from "./runner.ts";
import {
  type BenchResults,
  describeRun,
  formatNumber,
  type GeneratorResult,
  summarizeRuns,
  toMarkdown,
  writeJson,
} from "./report.ts";
import {
  denoGenerator,
  findNats,
  type Generator,
  isMissing,
  type Missing,
  nodeGenerator,
} from "./tools.ts";

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
const scenarios = expandScenarios(options.scenarios, options);
// Deno raises its soft open-file limit to the hard one at start, so this is what every child
// gets too (Node included); only the hard limit (`ulimit -Hn`) can be too low.
const openFiles = Number(machine.openFiles);
if (options.scenarios.includes("idle") && openFiles < IDLE_FILES) {
  console.error(
    `Warning: the open-file limit is ${machine.openFiles}; the idle scenario needs about ` +
      `${IDLE_FILES}: raise it first ("ulimit -n 8192")`,
  );
}

const generators = new Map<GeneratorName, Generator | Missing>();
for (const name of GENERATORS.filter((g) => options.generators.includes(g))) {
  generators.set(
    name,
    name === "deno"
      ? denoGenerator(options.root)
      : await nodeGenerator(options.root, options.node, (line) => console.error(line)),
  );
}
const nats = await findNats(options.targets.nats.command[0]);
for (const [name, g] of generators) {
  if (isMissing(g)) console.error(`The ${name} load generator does not run: ${g.missing}`);
}
if (isMissing(nats)) console.error(`nats-server does not run: ${nats.missing}`);

const ready = [...generators.values()].filter((g): g is Generator => !isMissing(g));
const targetsOf = (names: TargetName[]) =>
  names.filter((t) => t !== "nats" || !isMissing(nats)).map((t) =>
    t === "nats" && !isMissing(nats) ? { name: t, command: [nats.path] } : options.targets[t]
  );
/** Whether a generator runs a scenario (the feature scenarios: the Deno one alone). */
const runsWith = (scenario: Scenario, generator: GeneratorName) =>
  !scenario.generators || scenario.generators.includes(generator);
const plan = scenarios.flatMap((scenario) =>
  Array.from({ length: options.reps }, (_, i) => i + 1).flatMap((rep) =>
    ready.filter((g) => runsWith(scenario, g.name)).flatMap((generator) =>
      targetsOf(scenario.targets).map((target) => ({ scenario, rep, generator, target }))
    )
  )
);
console.error(
  `Benchmark: ${plan.length} runs, ${options.quick ? "quick" : "full"}, ${options.reps} ` +
    `rep(s), windows ${
      options.windows.join(", ")
    } (until ${options.until}); ${machine.cpu}, ${machine.cores} cores, ` +
    `Deno ${machine.deno}`,
);

const runs: RunResult[] = [];
const started = performance.now();
for (const [i, { scenario, rep, generator, target }] of plan.entries()) {
  const t0 = performance.now();
  const params = options.quick ? scenario.quick : scenario.full;
  const result = await runWithRetries({ scenario, params, target, generator }, {
    ...options,
    onRetry: (other) =>
      console.error(`  disturbed: other processes used ${other.toFixed(0)}% of a core; again`),
  });
  const run = { scenario: scenario.id, generator: generator.name, target: target.name, rep };
  runs.push({ ...run, ...result });
  const head = scenario.metrics[0];
  const shown = result.metrics
    ? `${formatNumber(result.metrics[head.key], head.digits)} ${head.label}`
    : `failed: ${result.error!.split("\n")[0]}`;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.error(`[${i + 1}/${plan.length}] ${describeRun(run)}: ${shown} (${seconds} s)`);
}

const results: BenchResults = {
  date: new Date().toISOString(),
  quick: options.quick,
  reps: options.reps,
  windows: options.windows,
  until: options.until,
  machine,
  commands: {
    switchboard: options.targets.switchboard.command.join(" "),
    raw: options.targets.raw.command.join(" "),
    nats: isMissing(nats) ? nats.missing : `${nats.version} (${nats.path})`,
  },
  nats: !isMissing(nats),
  generators: [...generators].map(([name, g]): GeneratorResult =>
    isMissing(g) ? { generator: name, missing: g.missing, scenarios: [] } : {
      generator: name,
      version: g.version,
      scenarios: summarizeRuns(scenarios.filter((s) => runsWith(s, name)), runs, {
        generator: name,
        quick: options.quick,
      }),
    }
  ),
  runs,
};
console.log(toMarkdown(results));
await writeJson(options.out, results);
console.error(
  `\nWrote ${options.out} in ${((performance.now() - started) / 1000).toFixed(0)} s total`,
);
// Targets missed are results, not failures; a run that could not measure is.
if (runs.some((r) => r.error)) Deno.exit(1);
