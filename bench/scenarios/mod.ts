/**
 * The scenarios, in the order they run, with their parameters (full and `--quick`), the figures
 * they report and the targets for them.
 *
 * @module
 */
import type { Metric, Scenario } from "./types.ts";
import { runClosedLoop } from "./closed_loop.ts";
import { runPipelined } from "./pipelined.ts";
import { runFanout } from "./fanout.ts";
import { runIdle } from "./idle.ts";
import { BENCH_API_KEY, runApiPublish } from "./api_publish.ts";
import { PRESENCE_TOPIC, runPresence } from "./presence.ts";
import { runFanoutCross } from "./fanout_cross.ts";
import { HISTORY_SCENARIOS } from "./history.ts";

const FULL = { warmupMs: 1000, measureMs: 5000 };
const QUICK = { warmupMs: 300, measureMs: 1000 };

const cpu: Metric[] = [
  { key: "server_cpu", label: "server CPU (% of a core)", digits: 0, diagnostic: true },
  { key: "load_cpu", label: "load generator CPU (% of a core)", digits: 0, diagnostic: true },
  { key: "other_cpu", label: "everything else (% of a core)", digits: 0, diagnostic: true },
];
const zero = (key: string, label: string): Metric => ({
  key,
  label,
  digits: 0,
  target: { kind: "zero" },
});

/** The checks every fan-out run makes: nothing lost, reordered or malformed. */
const delivered: Metric[] = [
  zero("lost", "deliveries lost"),
  zero("reordered", "deliveries out of order"),
  zero("errors", "bad deliveries or failed acks"),
];
const latency: Metric[] = [
  { key: "p50_ms", label: "publish→delivery p50 (ms)", digits: 2 },
  {
    key: "p99_ms",
    label: "publish→delivery p99 (ms)",
    digits: 2,
    target: { kind: "ratio_max", value: 1.2 },
  },
];
/** Full and quick parameters of a fan-out scenario. */
const fanoutRuns = (params: Record<string, number>, batch: boolean) => ({
  full: { ...params, batch, ...FULL, drainMs: 2000 },
  quick: { ...params, batch, ...QUICK, drainMs: 1000 },
});

const pipelined = { connections: 50, depth: 8 };
const fanoutFixed = { subscribers: 1000, rate: 50, window: 0 };
const fanoutMax = { subscribers: 1000, rate: 0, window: 16 };
/** Both nodes of the cross-node scenarios meet on the machine's Redis, under their own prefix. */
const CROSS_BROKER = "redis://127.0.0.1:6379/?prefix=sbbench";
/** Parameters of a cross-node fan-out: a fan-out's, plus the nodes' BROKER_URL. */
const crossRuns = (params: Record<string, number>) => {
  const { full, quick } = fanoutRuns(params, false);
  return {
    full: { ...full, brokerUrl: CROSS_BROKER },
    quick: { ...quick, brokerUrl: CROSS_BROKER },
  };
};

/** All scenarios, in run order. */
export const SCENARIOS: Scenario[] = [
  {
    id: "closed_loop",
    title: "Request/reply, closed loop: 50 connections, one echo without id in flight each",
    full: { connections: 50, ...FULL },
    quick: { connections: 50, ...QUICK },
    metrics: [
      { key: "rps", label: "round trips/s", digits: 0, target: { kind: "ratio_min", value: 0.9 } },
      { key: "p50_ms", label: "round trip p50 (ms)", digits: 3 },
      { key: "p99_ms", label: "round trip p99 (ms)", digits: 3 },
      { key: "server_us", label: "server CPU per round trip (µs)", digits: 2 },
      zero("errors", "error replies"),
      ...cpu,
    ],
    run: runClosedLoop,
  },
  {
    id: "pipelined",
    title: "Request/reply, pipelined: 50 connections × 8 echo requests with ids in flight",
    full: { ...pipelined, batch: false, ...FULL },
    quick: { ...pipelined, batch: false, ...QUICK },
    metrics: [
      { key: "rps", label: "replies/s", digits: 0, target: { kind: "ratio_min", value: 0.9 } },
      { key: "server_us", label: "server CPU per reply (µs)", digits: 2 },
      zero("errors", "error replies or unmatched ids"),
      ...cpu,
    ],
    run: runPipelined,
  },
  {
    id: "pipelined_batch",
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
    run: runPipelined,
  },
  {
    id: "fanout_fixed",
    title: "Fan-out at a fixed rate: 1 publisher → 1,000 subscribers, 50 publishes/s",
    ...fanoutRuns(fanoutFixed, false),
    metrics: [
      ...latency,
      { key: "rate", label: "deliveries/s", digits: 0 },
      ...delivered,
      ...cpu,
    ],
    run: runFanout,
  },
  {
    id: "fanout_fixed_batch",
    title: "Fan-out at a fixed rate, batching subscribers: vs the raw server's unbatched run",
    ...fanoutRuns(fanoutFixed, true),
    baseline: "fanout_fixed",
    metrics: [
      ...latency,
      { key: "per_frame", label: "deliveries per frame", digits: 2 },
      ...delivered,
      ...cpu,
    ],
    run: runFanout,
  },
  {
    id: "fanout_max",
    title: "Fan-out at maximum rate: 1 → 1,000 subscribers, ≤ 16 publishes not yet delivered",
    ...fanoutRuns(fanoutMax, false),
    metrics: [
      {
        key: "rate",
        label: "deliveries/s",
        digits: 0,
        target: { kind: "ratio_min", value: 0.95 },
      },
      { key: "server_us", label: "server CPU per delivery (µs)", digits: 2 },
      { key: "server_hwm_mb", label: "server peak RSS (MB)", digits: 0 },
      ...delivered,
      ...cpu,
    ],
    run: runFanout,
  },
  {
    id: "fanout_max_batch",
    title: "Fan-out at maximum rate, batching subscribers: vs the raw server's unbatched run",
    ...fanoutRuns(fanoutMax, true),
    baseline: "fanout_max",
    metrics: [
      { key: "rate", label: "deliveries/s", digits: 0, target: { kind: "ratio_min", value: 3 } },
      { key: "per_frame", label: "deliveries per frame", digits: 2 },
      { key: "server_us", label: "server CPU per delivery (µs)", digits: 2 },
      ...delivered,
      ...cpu,
    ],
    run: runFanout,
  },
  {
    id: "fanout_cross_fixed",
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
    run: runFanoutCross,
  },
  {
    id: "fanout_cross_max",
    title:
      "Across nodes at maximum rate: node A → Redis → node B's 1,000 subscribers, ≤ 16 in flight",
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
    run: runFanoutCross,
  },
  {
    id: "idle",
    title: "5,000 idle connections: server memory (VmRSS) per connection",
    full: { connections: 5000, settleMs: 1000 },
    quick: { connections: 5000, settleMs: 500 },
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
    run: runIdle,
  },
  {
    id: "presence",
    title: "Presence: 1,000 clients join one topic, 100 of them watch join/leave (vs no presence)",
    full: { clients: 1000, watchers: 100, concurrency: 50, eventsMs: 30_000 },
    quick: { clients: 1000, watchers: 100, concurrency: 50, eventsMs: 30_000 },
    env: { PRESENCE: PRESENCE_TOPIC, MAX_CLIENTS: "3000" },
    // The raw server has no presence: Switchboard alone, its own baseline (no raw column).
    baseline: "presence",
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
    run: runPresence,
  },
  ...HISTORY_SCENARIOS,
];

/** The backend API (issue 14): Switchboard alone, its API next to a WebSocket publisher. */
SCENARIOS.push({
  id: "api_publish",
  title:
    "Backend API publish (HTTP keep-alive, 8 in flight) vs a WebSocket publisher, 1 subscriber",
  full: { window: 16, concurrency: 8, ...FULL },
  quick: { window: 16, concurrency: 8, ...QUICK },
  env: { API_KEY: BENCH_API_KEY, RATE_LIMIT: "0" },
  switchboardOnly: true,
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
  run: runApiPublish,
});

/**
 * Finds a scenario by id.
 *
 * @param id A scenario id.
 * @returns The scenario.
 * @throws {Error} When there is none with that id.
 */
export function scenarioById(id: string): Scenario {
  const found = SCENARIOS.find((s) => s.id === id);
  if (!found) {
    throw new Error(
      `Unknown scenario "${id}": expected one of ${SCENARIOS.map((s) => s.id).join(", ")}`,
    );
  }
  return found;
}
