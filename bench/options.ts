/**
 * The command line of `deno task bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { SCENARIOS } from "./scenarios/mod.ts";
import type { GeneratorName, TargetName } from "./scenarios/types.ts";

export type { GeneratorName, TargetName };

/** A server under test. */
export interface Target {
  /** "switchboard", "raw" or "nats". */
  name: TargetName;
  /**
   * Program and arguments; a leading `deno` means the running Deno binary. For nats-server,
   * the program alone: the harness adds its configuration.
   */
  command: string[];
}

/** The load generators, in run order. */
export const GENERATORS: GeneratorName[] = ["deno", "node"];

/** What a benchmark run does. */
export interface Options {
  quick: boolean;
  reps: number;
  /** A run during which other processes used more CPU than this (% of a core) is disturbed. */
  maxOther: number;
  /** How often a disturbed run is repeated before its figures are kept anyway. */
  retries: number;
  /** Scenario families to run (ids without window), in run order. */
  scenarios: string[];
  /** Publishes in flight in the maximum-rate fan-outs: each is a run of its own. */
  windows: number[];
  /** When a publish stops being in flight: acknowledged, or also delivered to every subscriber. */
  until: "acked" | "delivered";
  /** The load generators that run every scenario. */
  generators: GeneratorName[];
  /** The Node program for the Node generator. */
  node: string;
  /** The servers; nats-server's command is its program, or "none" to leave it out. */
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
  --windows 4,16       publishes in flight in the maximum-rate fan-outs, one run each
                       (default 4,16; 4 with --quick); --window N is the same for one
  --window-until W     when a publish stops being in flight: "acked" (default: its ack came
                       back) or "delivered" (that, and every subscriber has it)
  --generators a,b     load generators: deno, node (default both)
  --switchboard "cmd"  command of the Switchboard target (default: deno run --allow-all main.ts)
  --raw "cmd"          command of the raw target (default: deno run --allow-all bench/raw_server.ts)
  --nats PROGRAM       nats-server, a peer in the fan-out scenarios (default: nats-server from
                       PATH or /usr/sbin; "none" leaves it out)
  --node PROGRAM       Node 20 or later for the Node generator (default: node)
  --out FILE           JSON results (default: bench/results/latest.json)

The Switchboard and raw servers get PORT and HOST=127.0.0.1 in their environment; nats-server
gets a configuration file with a WebSocket port (no TLS, no compression). The Node generator's
packages are installed on first use (npm ci --prefix bench/node). A generator or nats-server
that is missing is reported as such; the run goes on without it.`;

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
      window: { type: "string" },
      windows: { type: "string" },
      "window-until": { type: "string", default: "acked" },
      generators: { type: "string", default: GENERATORS.join(",") },
      nats: { type: "string", default: "nats-server" },
      node: { type: "string", default: "node" },
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
  const scenarios = values.only ? list(values.only) : known;
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
    windows: list(values.windows ?? values.window ?? (values.quick ? "4" : "4,16"))
      .map((w) => count("windows", w, 1)),
    until: oneOf("window-until", values["window-until"], ["acked", "delivered"] as const),
    generators: list(values.generators).map((g) => {
      if (!GENERATORS.includes(g as GeneratorName)) {
        throw new Error(`Unknown generator "${g}": expected one of ${GENERATORS.join(", ")}`);
      }
      return g as GeneratorName;
    }),
    node: values.node,
    targets: {
      switchboard: { name: "switchboard", command: words(values.switchboard) },
      raw: { name: "raw", command: words(values.raw) },
      nats: { name: "nats", command: [values.nats] },
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

function oneOf<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!choices.includes(text as T)) {
    throw new Error(`Invalid --${flag} "${text}": expected one of ${choices.join(", ")}`);
  }
  return text as T;
}

function list(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

function words(command: string): string[] {
  return command.trim().split(/\s+/);
}
