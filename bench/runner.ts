/**
 * One run: a fresh server process for one target, one load-generator process for one scenario,
 * the figures back, both processes gone.
 *
 * @module
 */
import type { Metrics, Params, RunContext, Scenario } from "./scenarios/types.ts";
import type { GeneratorName, Target, TargetName } from "./options.ts";
import type { Generator } from "./tools.ts";
import { PLAIN_OUTPUT, startServer } from "./server_process.ts";
import { startNats } from "./nats_server.ts";

/** The outcome of one run. */
export interface RunResult {
  scenario: string;
  generator: GeneratorName;
  target: TargetName;
  /** Repetition, from 1. */
  rep: number;
  /** The figures, when the run succeeded. */
  metrics?: Metrics;
  /** What went wrong, when it did not. */
  error?: string;
  /** How many times it ran: more than 1 when earlier attempts were disturbed. */
  attempts: number;
  /** Whether other processes used more CPU than allowed even in the last attempt. */
  disturbed: boolean;
}

/** Time a load generator may take beyond the scenario's own durations (connecting, closing). */
const SLACK_MS = 60_000;

/** What to run: one scenario with its parameters, by one load generator against one target. */
export interface Job {
  scenario: Scenario;
  /** The scenario's parameters (full or quick). */
  params: Params;
  target: Target;
  generator: Generator;
}

/** The outcome of `runOnce`. */
export type Outcome = Pick<RunResult, "metrics" | "error">;

/** Options of `runWithRetries`. */
export interface RetryOptions {
  /** The repository root (working directory of both processes). */
  root: string;
  /** A run is disturbed when other processes used more CPU than this, % of one core. */
  maxOther: number;
  /** How many more times a disturbed run is repeated. */
  retries: number;
  /** Told the other processes' CPU use before each retry. */
  onRetry?: (otherCpu: number) => void;
}

/**
 * Runs a job, and again when other processes used more CPU than `maxOther` during the window,
 * at most `retries` more times.
 *
 * @param job The scenario, its parameters and the target.
 * @param options Repository root, disturbance threshold, retries.
 * @returns The last attempt's outcome, how many attempts and whether it was still disturbed.
 */
export async function runWithRetries(
  job: Job,
  options: RetryOptions,
): Promise<Outcome & Pick<RunResult, "attempts" | "disturbed">> {
  for (let attempts = 1;; attempts++) {
    const outcome = await runOnce(job, options.root);
    const other = outcome.metrics?.other_cpu ?? 0;
    const disturbed = other > options.maxOther;
    if (!disturbed || attempts > options.retries) return { ...outcome, attempts, disturbed };
    options.onRetry?.(other);
  }
}

/**
 * Runs one scenario against one target: a fresh server, a fresh load generator.
 *
 * @param job The scenario, its parameters and the target.
 * @param root The repository root (working directory of both processes).
 * @returns The figures, or the error; never throws for a failing server or generator.
 */
export async function runOnce(job: Job, root: string): Promise<Outcome> {
  const { scenario, params, target, generator } = job;
  let server;
  try {
    server = target.name === "nats"
      ? await startNats(target.command[0])
      : await startServer(target.command, { cwd: root, env: scenario.env });
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  try {
    const request: RunContext = {
      run: scenario.run,
      protocol: target.name === "nats" ? "nats" : "switchboard",
      url: server.url,
      serverPid: server.pid,
      params,
    };
    const budget = Object.entries(params)
      .filter(([key, value]) => key.endsWith("Ms") && typeof value === "number")
      .reduce((sum, [, value]) => sum + (value as number), SLACK_MS);
    const [program, ...args] = generator.command;
    const out = await new Deno.Command(program, {
      args: [...args, JSON.stringify(request)],
      cwd: root,
      env: PLAIN_OUTPUT,
      stdin: "null",
      signal: AbortSignal.timeout(budget),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    if (out.success) return { metrics: JSON.parse(stdout.split("\n").at(-1)!) };
    const stderr = new TextDecoder().decode(out.stderr).trim();
    const why = out.signal ? `killed by ${out.signal} after ${budget} ms` : `exit ${out.code}`;
    const said = server.output().trim().slice(-500);
    return {
      error: `${generator.name} load generator failed (${why}): ${stderr.slice(-1000)}` +
        (said ? `\nServer output: ${said}` : ""),
    };
  } finally {
    await server.stop();
  }
}
