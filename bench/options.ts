/**
 * The command line of `deno task bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { SCENARIOS } from "./scenarios/mod.ts";

/** A server under test. */
export interface Target {
  /** "switchboard" or "raw". */
  name: TargetName;
  /** Program and arguments; a leading `deno` means the running Deno binary. */
  command: string[];
}

/** The two targets, Switchboard first in each A B pair. */
export type TargetName = "switchboard" | "raw";

/** What a benchmark run does. */
export interface Options {
  quick: boolean;
  reps: number;
  /** A run during which other processes used more CPU than this (% of a core) is disturbed. */
  maxOther: number;
  /** How often a disturbed run is repeated before its figures are kept anyway. */
  retries: number;
  /** Scenario ids to run, in run order. */
  scenarios: string[];
  targets: Record<TargetName, Target>;
  /** Where the JSON goes. */
  out: string;
  /** The repository root: servers and the load generator start here. */
  root: string;
}

/** Help text for `--help`. */
export const USAGE = `Usage: deno task bench [options]

  --quick              one repetition of short runs (under a minute)
  --reps N             repetitions (default 3; 1 with --quick)
  --max-other PCT      a run is disturbed when other processes used more CPU than this,
                       in % of one core (default 30)
  --retries N          repeat a disturbed run up to N times (default 2; 0 with --quick)
  --only a,b           scenarios to run, plus the baselines of batching ones
                       (${SCENARIOS.map((s) => s.id).join(", ")})
  --switchboard "cmd"  command of the Switchboard target (default: deno run --allow-all main.ts)
  --raw "cmd"          command of the raw target (default: deno run --allow-all bench/raw_server.ts)
  --out FILE           JSON results (default: bench/results/latest.json)

Each run gets PORT and HOST=127.0.0.1 in its environment.`;

/**
 * Parses the command line.
 *
 * @param args The arguments after the script name.
 * @returns The options, or "help" when help was asked for.
 * @throws {Error} On an unknown flag, a bad number or an unknown scenario.
 */
export function parseOptions(args: string[]): Options | "help" {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      reps: { type: "string" },
      "max-other": { type: "string", default: "30" },
      retries: { type: "string" },
      only: { type: "string" },
      switchboard: { type: "string", default: "deno run --allow-all main.ts" },
      raw: { type: "string", default: "deno run --allow-all bench/raw_server.ts" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const root = join(import.meta.dirname!, "..");
  const reps = count("reps", values.reps ?? (values.quick ? "1" : "3"), 1);
  const retries = count("retries", values.retries ?? (values.quick ? "0" : "2"), 0);
  const maxOther = count("max-other", values["max-other"], 0);
  const known = SCENARIOS.map((s) => s.id);
  const scenarios = values.only ? values.only.split(",").map((s) => s.trim()) : known;
  for (const id of [...scenarios]) {
    const scenario = SCENARIOS.find((s) => s.id === id);
    if (!scenario) throw new Error(`Unknown scenario "${id}": expected one of ${known.join(", ")}`);
    // A batching variant is judged against the raw figures of its baseline: run that too.
    if (scenario.baseline) scenarios.push(scenario.baseline);
  }
  return {
    quick: values.quick,
    reps,
    maxOther,
    retries,
    scenarios: known.filter((id) => scenarios.includes(id)),
    targets: {
      switchboard: { name: "switchboard", command: words(values.switchboard) },
      raw: { name: "raw", command: words(values.raw) },
    },
    out: values.out ?? join(root, "bench", "results", "latest.json"),
    root,
  };
}

function count(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`Invalid --${flag} "${text}": expected a whole number from ${min}`);
  }
  return n;
}

function words(command: string): string[] {
  return command.trim().split(/\s+/);
}
