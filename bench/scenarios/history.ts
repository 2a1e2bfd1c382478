/**
 * History scenarios (docs/history.md): the fan-out runs again with a history rule on the fan-out
 * topic, so every publish is numbered, stored and acked with its offset.
 *
 * - `fanout_max_history`: the memory broker at maximum rate. Judged against `fanout_max` of the
 *   same bench run (history off): its Switchboard rate must be at least 0.9× that one's
 *   (docs/benchmarks.md, "History", reads both rows). The raw column is the raw server's
 *   `fanout_max` run, as for the other variants.
 * - `fanout_max_norule`: the same with history rules that do not cover the topic: what a topic
 *   without history pays (one cached rule lookup per publish) against `fanout_max`.
 * - `fanout_fixed_history_redis`: one node on Redis (the Lua script numbers, stores and
 *   publishes; the node delivers when the entry comes back), 50 publishes/s: publish→delivery
 *   p50/p99 with history over Redis.
 *
 * They run against Switchboard alone, with the Deno load generator (as they were measured), and
 * take the raw and nats-server columns from their baseline. The maximum-rate ones run once per
 * window of `--windows`, like `fanout_max`: `fanout_max_history_w4` is read against
 * `fanout_max_w4`.
 *
 * @module
 */
import type { Scenario } from "./types.ts";
import { cpu, delivered, fanoutRuns } from "./_metrics.ts";
import { TOPIC } from "./_protocol.ts";

/** The fan-out topic keeps 1,000 entries for 300 s. */
const HISTORY = `${TOPIC}=1000:300`;

/** The history scenarios, run after the fan-out ones they are compared with. */
export const HISTORY_SCENARIOS: Scenario[] = [
  {
    id: "fanout_max_history",
    family: "fanout_max_history",
    run: "fanout",
    targets: ["switchboard"],
    generators: ["deno"],
    windowed: true,
    title: "Fan-out at maximum rate, ≤ N in flight, history on the topic (memory): vs fanout_max",
    ...fanoutRuns({ subscribers: 1000, rate: 0, window: 16 }, false),
    env: { HISTORY },
    baseline: "fanout_max",
    metrics: [
      { key: "rate", label: "deliveries/s", digits: 0 },
      { key: "server_us", label: "server CPU per delivery (µs)", digits: 2 },
      { key: "server_hwm_mb", label: "server peak RSS (MB)", digits: 0 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_max_norule",
    family: "fanout_max_norule",
    run: "fanout",
    targets: ["switchboard"],
    generators: ["deno"],
    windowed: true,
    title: "Fan-out at maximum rate, ≤ N in flight, history rules but none for the topic",
    ...fanoutRuns({ subscribers: 1000, rate: 0, window: 16 }, false),
    env: { HISTORY: "line/+/state=100,alarms/#=1000" },
    baseline: "fanout_max",
    metrics: [
      { key: "rate", label: "deliveries/s", digits: 0 },
      { key: "server_us", label: "server CPU per delivery (µs)", digits: 2 },
      ...delivered,
      ...cpu,
    ],
  },
  {
    id: "fanout_fixed_history_redis",
    family: "fanout_fixed_history_redis",
    run: "fanout",
    targets: ["switchboard"],
    generators: ["deno"],
    title: "Fan-out at a fixed rate with history over Redis: 1 → 1,000 subscribers, 50 publishes/s",
    ...fanoutRuns({ subscribers: 1000, rate: 50, window: 0 }, false),
    env: {
      HISTORY,
      BROKER_URL: `redis://127.0.0.1:6379/?prefix=bench-${crypto.randomUUID().slice(0, 8)}`,
    },
    baseline: "fanout_fixed",
    metrics: [
      { key: "p50_ms", label: "publish→delivery p50 (ms)", digits: 2 },
      { key: "p99_ms", label: "publish→delivery p99 (ms)", digits: 2 },
      { key: "rate", label: "deliveries/s", digits: 0 },
      ...delivered,
      ...cpu,
    ],
  },
];
