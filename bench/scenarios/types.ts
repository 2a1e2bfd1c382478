/**
 * The shapes shared by the orchestrator and the load generator: what a scenario is, what it
 * measures and how its figures are judged.
 *
 * @module
 */

/** Parameters of one scenario run (connections, durations, rates); plain JSON. */
export type Params = Record<string, number | boolean | string>;

/** Figures one run produced, by metric key. */
export type Metrics = Record<string, number>;

/** The servers a scenario can run against; the order is the order of the runs and columns. */
export type TargetName = "switchboard" | "raw" | "nats";

/** The load generators: bench/load.ts on Deno, bench/node/load.mjs on Node with npm `ws`. */
export type GeneratorName = "deno" | "node";

/**
 * How a load generator runs a scenario: one implementation per kind in each generator that runs
 * it. The first four run in both generators; the feature scenarios' kinds (`fanout_cross`,
 * `api_publish`, `presence`) only in the Deno one (their scenarios say `generators: ["deno"]`).
 */
export type RunKind =
  | "closed_loop"
  | "pipelined"
  | "fanout"
  | "idle"
  | "fanout_cross"
  | "api_publish"
  | "presence";

/** What a load generator gets for one run (bench/load.ts, bench/node/load.mjs). */
export interface RunContext {
  /** Which implementation runs. */
  run: RunKind;
  /** The protocol the server speaks: Switchboard's (Switchboard and raw) or NATS's. */
  protocol: "switchboard" | "nats";
  /** The WebSocket URL of the server under test, e.g. `ws://127.0.0.1:40123/`. */
  url: string;
  /** The server's process id, for CPU and memory figures from /proc. */
  serverPid: number;
  /** The scenario's parameters for this run (full or `--quick`). */
  params: Params;
  /** Where subscribers connect, when not to `url` (another node: bench/scenarios/fanout_cross.ts). */
  subscribeUrl?: string;
}

/** How a metric's Switchboard / raw figure is judged against the issues' targets. */
export type Target =
  /** Ratio Switchboard / raw must be at least `value`. */
  | { kind: "ratio_min"; value: number }
  /** Ratio Switchboard / raw must be at most `value`. */
  | { kind: "ratio_max"; value: number }
  /** Switchboard's figure must be 0 in every repetition. */
  | { kind: "zero" };

/** One figure a scenario reports. */
export interface Metric {
  /** Key in `Metrics`. */
  key: string;
  /** Label for the table, with its unit. */
  label: string;
  /** Decimal places in the table. */
  digits: number;
  /** The target, if it sets one for this figure. */
  target?: Target;
  /** A diagnostic figure (CPU use): printed in the second table, never judged. */
  diagnostic?: boolean;
}

/** One scenario: how to run it and what it reports. */
export interface Scenario {
  /**
   * Short id, used in the tables and the JSON; a windowed scenario's id ends in its window
   * (`fanout_max_w4`).
   */
  id: string;
  /** The id without the window: what `--only` names. */
  family: string;
  /** One line saying what it measures. */
  title: string;
  /** Which implementation the load generators run. */
  run: RunKind;
  /** The servers it runs against, in run order. */
  targets: TargetName[];
  /**
   * The load generators that run it (default: every one). The feature scenarios whose kind only
   * the Deno generator implements say `["deno"]`.
   */
  generators?: GeneratorName[];
  /**
   * Whether it runs once per window of `--windows` (the maximum-rate fan-outs): its `window`
   * parameter is then that number.
   */
  windowed?: boolean;
  /** Parameters of a full run. */
  full: Params;
  /** Parameters of a `--quick` run. */
  quick: Params;
  /** Extra server environment for this scenario (e.g. a higher `MAX_CLIENTS`). */
  env?: Record<string, string>;
  /**
   * For the variants that run against Switchboard alone (batching, history, across nodes):
   * compare its figures with the raw server's (and nats-server's) figures in this other scenario
   * (the raw server does not batch, keep history or span nodes; nats-server has no opt-in, it
   * always batches). A scenario with neither a baseline nor a raw target (presence, the API) has
   * no raw column: what it measures has no raw twin. A variant with a baseline that also names
   * the raw target (the batching fan-out) is still judged against the baseline; its own raw
   * figures are reported beside it.
   */
  baseline?: string;
  /** The figures it reports. */
  metrics: Metric[];
}
