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

/** What the load generator gets for one run. */
export interface RunContext {
  /** The WebSocket URL of the server under test, e.g. `ws://127.0.0.1:40123/`. */
  url: string;
  /** The server's process id, for CPU and memory figures from /proc. */
  serverPid: number;
  /** The scenario's parameters for this run (full or `--quick`). */
  params: Params;
  /** Where subscribers connect, when not to `url` (another node: bench/scenarios/fanout_cross.ts). */
  subscribeUrl?: string;
}

/** How a metric's Switchboard / raw figure is judged against the targets. */
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
  /** Short id, used on the command line (`--only`) and in the JSON. */
  id: string;
  /** One line saying what it measures. */
  title: string;
  /** Parameters of a full run. */
  full: Params;
  /** Parameters of a `--quick` run. */
  quick: Params;
  /** Extra server environment for this scenario (e.g. a higher `MAX_CLIENTS`). */
  env?: Record<string, string>;
  /**
   * Only for the batching variants: run against Switchboard alone and judge its figures against
   * the raw server's figures in this other scenario (the raw server does not batch).
   */
  baseline?: string;
  /** Run against Switchboard alone, with no raw figures (what it measures has no raw twin). */
  switchboardOnly?: boolean;
  /** The figures it reports. */
  metrics: Metric[];
  /** Runs the load in the load-generator process and returns the figures. */
  run(ctx: RunContext): Promise<Metrics>;
}
