/**
 * The scenarios, in the order they run, with their parameters (full and `--quick`), the servers
 * they run against, the figures they report and the issues' targets for them. Both load
 * generators (bench/load.ts, bench/node/load.mjs) run them from these parameters.
 *
 * @module
 */
import type { GeneratorName, Metric, Scenario, TargetName } from "./types.ts";
import { BENCH_API_KEY } from "./api_publish.ts";
import { PRESENCE_TOPIC } from "./presence.ts";
import { HISTORY_SCENARIOS } from "./history.ts";
import { cpu, delivered, fanoutRuns, FULL, QUICK, zero } from "./_metrics.ts";

const latency: Metric[] = [
  { key: "p50_ms", label: "publish→delivery p50 (ms)", digits: 2 },
  {
    key: "p99_ms",
    label: "publish→delivery p99 (ms)",
    digits: 2,
    target: { kind: "ratio_max", value: 1.2 },
  },
];
/** What a closed loop reports (plain and batching clients alike). */
const closedLoopMetrics: Metric[] = [
  { key: "rps", label: "round trips/s", digits: 0, target: { kind: "ratio_min", value: 0.9 } },
  { key: "p50_ms", label: "round trip p50 (ms)", digits: 3 },
  { key: "p99_ms", label: "round trip p99 (ms)", digits: 3 },
  { key: "server_us", label: "server CPU per round trip (µs)", digits: 2 },
  zero("errors", "error replies"),
  ...cpu,
];

const pipelined = { connections: 50, depth: 8 };
const fanoutFixed = { subscribers: 1000, rate: 50, window: 0 };
/** The window is replaced by each of `--windows` (`windowed`). */
const fanoutMax = { subscribers: 1000, rate: 0, window: 16 };

const REQ_RES: TargetName[] = ["switchboard", "raw"];
const FAN_OUT: TargetName[] = ["switchboard", "raw", "nats"];
const BATCHING: TargetName[] = ["switchboard"];
/**
 * The batching fan-out also runs against the raw server with `?batch=1` (which then joins a
 * turn's deliveries and does nothing else): the bare runtime with the same rule, reported beside
 * Switchboard's (FigureResult.rawOwn).
 */
const BATCHING_BOUND: TargetName[] = ["switchboard", "raw"];
/** The feature scenarios (across nodes, presence, the API): Switchboard alone. */
const SWITCHBOARD: TargetName[] = ["switchboard"];
/** Their kinds are implemented by the Deno load generator alone. */
const DENO: GeneratorName[] = ["deno"];

/** Both nodes of the cross-node scenarios meet on the machine's Redis, under their own prefix. */
const CROSS_BROKER = "redis://127.0.0.1:6379/?prefix=sbbench";
/**
 * Parameters of a cross-node fan-out: a fan-out's, plus the nodes' BROKER_URL. A publish stays
 * in flight until delivered whatever `--window-until` says: node A acknowledges it before node B
 * has it, so a window of acks alone would let A outrun B without bound (B then drops or closes its
 * subscribers as slow and nothing is measured).
 */
const crossRuns = (params: Record<string, number>) => {
  const { full, quick } = fanoutRuns(params, false);
  const until = "delivered";
  return {
    full: { ...full, brokerUrl: CROSS_BROKER, until },
    quick: { ...quick, brokerUrl: CROSS_BROKER, until },
  };
};

/** All scenarios, in run order. */
export const SCENARIOS: Scenario[] = [
  {
    id: "closed_loop",
    family: "closed_loop",
    run: "closed_loop",
    targets: REQ_RES,
    title: "Request/reply, closed loop: 50 connections, one echo without id in flight each",
    full: { connections: 50, batch: false, ...FULL },
    quick: { connections: 50, batch: false, ...QUICK },
    metrics: closedLoopMetrics,
  },
  {
    id: "closed_loop_batch",
    family: "closed_loop_batch",
    run: "closed_loop",
    targets: BATCHING,
    title:
      "Closed loop, batching clients (?batch=1): a lone reply must not wait (vs raw closed loop)",
    full: { connections: 50, batch: true, ...FULL },
    quick: { connections: 50, batch: true, ...QUICK },
    baseline: "closed_loop",
    metrics: closedLoopMetrics,
  },
  {
    id: "pipelined",
    family: "pipelined",
    run: "pipelined",
    targets: REQ_RES,
    title: "Request/reply, pipelined: 50 connections × 8 echo requests with ids in flight",
    full: { ...pipelined, batch: false, ...FULL },
    quick: { ...pipelined, batch: false, ...QUICK },
    metrics: [
      { key: "rps", label: "replies/s", digits: 0, target: { kind: "ratio_min", value: 0.9 } },
      { key: "server_us", label: "server CPU per reply (µs)", digits: 2 },
      zero("errors", "error replies or unmatched ids"),
      ...cpu,
    ],
  },
  {
    id: "pipelined_batch",
    family: "pipelined_batch",
    run: "pipelined",
    targets: BATCHING,
    title: "Pipelined, batching clients (?batch=1): vs the raw server's unbatched pipelined run",
    full: { ...pipelined, batch: true, ...FULL },
    quick: { ...pipelined, batch: true, ...QUICK },
    baseline: "pipelined",
    metrics: [
      { key: "rps", label: "replies/s", digits: 0 },
      { key: "per_frame", label: "replies per frame", digits: 2 },
      { key: "server_us", label: "server CPU per reply (µs)", digits: 2 },
      zero("errors", "error replies or unmatched ids"),
      ...cpu,
    ],
  },
  {
    id: "fanout_fixed",
    family: "fanout_fixed",
    run: "fanout",
    targets: FAN_OUT,
    title: "Fan-out at a fixed rate: 1 publisher → 1,000 subscribers, 50 publishes/s",
    ...fanoutRuns(fanoutFixed, false),
    metrics: [
      ...latency,
      { key: "rate", label: "deliveries/s", digits: 0 },
      { key: "per_frame", label: "deliveries per frame", digits: 2 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_fixed_batch",
    family: "fanout_fixed_batch",
    run: "fanout",
    targets: BATCHING,
    title: "Fan-out at a fixed rate, batching subscribers: vs the raw server's unbatched run",
    ...fanoutRuns(fanoutFixed, true),
    baseline: "fanout_fixed",
    metrics: [
      ...latency,
      { key: "per_frame", label: "deliveries per frame", digits: 2 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_max",
    family: "fanout_max",
    run: "fanout",
    targets: FAN_OUT,
    windowed: true,
    title: "Fan-out at maximum rate: 1 → 1,000 subscribers, ≤ N publishes in flight",
    ...fanoutRuns(fanoutMax, false),
    metrics: [
      {
        key: "rate",
        label: "deliveries/s",
        digits: 0,
        target: { kind: "ratio_min", value: 0.95 },
      },
      { key: "per_frame", label: "deliveries per frame", digits: 2 },
      { key: "server_us", label: "server CPU per delivery (µs)", digits: 2 },
      { key: "server_hwm_mb", label: "server peak RSS (MB)", digits: 0 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_max_batch",
    family: "fanout_max_batch",
    run: "fanout",
    targets: BATCHING_BOUND,
    windowed: true,
    title: "Fan-out at maximum rate, ≤ N in flight, batching subscribers: vs the unbatched run",
    ...fanoutRuns(fanoutMax, true),
    baseline: "fanout_max",
    metrics: [
      { key: "rate", label: "deliveries/s", digits: 0, target: { kind: "ratio_min", value: 3 } },
      { key: "per_frame", label: "deliveries per frame", digits: 2 },
      { key: "server_us", label: "server CPU per delivery (µs)", digits: 2 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_cross_fixed",
    family: "fanout_cross_fixed",
    run: "fanout_cross",
    targets: SWITCHBOARD,
    generators: DENO,
    title:
      "Across nodes at a fixed rate: publisher on node A → 1,000 subscribers on node B via Redis",
    ...crossRuns(fanoutFixed),
    baseline: "fanout_fixed",
    env: { BROKER_URL: CROSS_BROKER },
    metrics: [
      ...latency,
      { key: "rate", label: "deliveries/s", digits: 0 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_cross_max",
    family: "fanout_cross_max",
    run: "fanout_cross",
    targets: SWITCHBOARD,
    generators: DENO,
    windowed: true,
    title:
      "Across nodes at maximum rate: node A → Redis → node B's 1,000 subscribers, ≤ N undelivered",
    ...crossRuns(fanoutMax),
    baseline: "fanout_max",
    env: { BROKER_URL: CROSS_BROKER },
    metrics: [
      // Its target (≥ 0.5×) is against Switchboard's own single-node fan-out_max of the same run,
      // which the table's raw column is not: docs/benchmarks.md "Across nodes" compares the two.
      { key: "rate", label: "deliveries/s", digits: 0 },
      { key: "server_us", label: "node A CPU per delivery (µs)", digits: 2 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "idle",
    family: "idle",
    run: "idle",
    targets: REQ_RES,
    title: "5,000 idle connections: server memory (VmRSS) per connection",
    full: { connections: 5000, settleMs: 1000 },
    // Quick: fewer connections, so that two generators still finish in about a minute.
    quick: { connections: 2000, settleMs: 300 },
    env: { MAX_CLIENTS: "6000" },
    metrics: [
      {
        key: "kb_per_conn",
        label: "server memory per connection (kB)",
        digits: 1,
        target: { kind: "ratio_max", value: 1.1 },
      },
      { key: "rss_before_mb", label: "server RSS before (MB)", digits: 1 },
      { key: "rss_after_mb", label: "server RSS with all open (MB)", digits: 1 },
      zero("not_open", "connections not open"),
      { key: "open_s", label: "time to open them all (s)", digits: 2 },
    ],
  },
  {
    id: "presence",
    family: "presence",
    run: "presence",
    // The raw server has no presence: Switchboard alone, no raw column.
    targets: SWITCHBOARD,
    generators: DENO,
    title: "Presence: 1,000 clients join one topic, 100 of them watch join/leave (vs no presence)",
    full: { clients: 1000, watchers: 100, concurrency: 50, eventsMs: 30_000 },
    quick: { clients: 1000, watchers: 100, concurrency: 50, eventsMs: 30_000 },
    env: { PRESENCE: PRESENCE_TOPIC, MAX_CLIENTS: "3000" },
    metrics: [
      { key: "join_s", label: "time for all to join, with presence (s)", digits: 2 },
      { key: "join_plain_s", label: "time for all to join, without presence (s)", digits: 2 },
      { key: "server_cpu_s", label: "server CPU, joins and all their events (s)", digits: 2 },
      {
        key: "server_cpu_plain_s",
        label: "server CPU, joins without presence (s)",
        digits: 2,
      },
      { key: "events_s", label: "time until every join event arrived (s)", digits: 2 },
      { key: "events", label: "join events received", digits: 0 },
      zero("lost", "join events lost"),
      zero("duplicates", "join events received twice"),
      zero("syncs", "presence_sync instead of events"),
      zero("dropped", "messages dropped for slow clients"),
      zero("slow_closed", "clients closed as slow"),
      { key: "other_cpu", label: "everything else (% of a core)", digits: 0, diagnostic: true },
    ],
  },
  ...HISTORY_SCENARIOS,
  /** The backend API (issue 14): Switchboard alone, its API next to a WebSocket publisher. */
  {
    id: "api_publish",
    family: "api_publish",
    run: "api_publish",
    targets: SWITCHBOARD,
    generators: DENO,
    title:
      "Backend API publish (HTTP keep-alive, 8 in flight) vs a WebSocket publisher, 1 subscriber",
    full: { window: 16, concurrency: 8, ...FULL },
    quick: { window: 16, concurrency: 8, ...QUICK },
    env: { API_KEY: BENCH_API_KEY, RATE_LIMIT: "0" },
    metrics: [
      { key: "api_rate", label: "API publishes/s", digits: 0 },
      { key: "ws_rate", label: "WebSocket publishes/s (same run)", digits: 0 },
      { key: "api_vs_ws", label: "API / WebSocket", digits: 2 },
      { key: "api_p50_ms", label: "API request p50 (ms)", digits: 2 },
      { key: "api_p99_ms", label: "API request p99 (ms)", digits: 2 },
      { key: "server_us", label: "server CPU per API publish (µs)", digits: 1 },
      { key: "ws_server_us", label: "server CPU per WebSocket publish (µs)", digits: 1 },
      zero("lost", "publishes not delivered"),
      zero("errors", "errors"),
      ...cpu,
    ],
  },
];

/**
 * The scenario runs of a benchmark: the chosen families in run order, each windowed one once per
 * window (id `fanout_max_w4`, `window` 4), its baseline renamed to match.
 *
 * @param families Scenario ids without window (`--only`).
 * @param flight Publishes in flight of the maximum-rate fan-outs (`--windows`), and when one
 *   stops being in flight (`--window-until`, unless the scenario sets its own `until`).
 * @returns The scenarios to run, in run order.
 */
export function expandScenarios(
  families: string[],
  flight: { windows: number[]; until: "acked" | "delivered" },
): Scenario[] {
  const { windows, until } = flight;
  const chosen = SCENARIOS.filter((s) => families.includes(s.family));
  const perWindow = windows.flatMap((window) =>
    chosen.filter((s) => s.windowed).map((s): Scenario => ({
      ...s,
      id: `${s.id}_w${window}`,
      title: s.title.replace("≤ N", `≤ ${window}`),
      baseline: s.baseline && `${s.baseline}_w${window}`,
      // A scenario's own `until` (across nodes: "delivered") is kept.
      full: { ...s.full, window, until: s.full.until ?? until },
      quick: { ...s.quick, window, until: s.quick.until ?? until },
    }))
  );
  // The windowed ones take the place of the first of them; the order is otherwise kept.
  const at = chosen.findIndex((s) => s.windowed);
  if (at < 0) return chosen;
  const rest = chosen.filter((s) => !s.windowed);
  return [...rest.slice(0, at), ...perWindow, ...rest.slice(at)];
}
