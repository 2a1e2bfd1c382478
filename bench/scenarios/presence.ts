/**
 * Presence: 1,000 clients join one topic while 100 of them watch join/leave. The same joins are
 * timed twice on one server, first on a topic without presence, then on one with it
 * (`PRESENCE=bench/presence`), so the cost of presence is the difference.
 *
 * A run: a warm-up, then per topic the watchers open and subscribe with `"join_leave": true`
 * (each awaiting its ack), then the other clients open and subscribe; the join time runs from the
 * first connection to the last ack. On the presence topic every watcher must then get a join for
 * each of the other 900 clients, and for each watcher that subscribed after it (of two watchers,
 * exactly one sees the other's join): 100 × 900 + 100 × 99 / 2 = 94,950 events. Checked: none
 * lost, none twice, no `presence_sync` (the storm guard's "too many: read the list again"), and
 * the server's /metrics shows no dropped message and no client closed as slow. All clients batch
 * (`?batch=1`, as the SDK does).
 *
 * @module
 */
import type { Metrics, RunContext } from "./types.ts";
import { closeSockets, openSockets } from "./_connect.ts";
import { cpuSeconds, machineCpuSeconds } from "../proc.ts";

/** Parameters of the presence scenario. */
export interface PresenceParams {
  clients: number;
  watchers: number;
  /** Connections opened at the same time. */
  concurrency: number;
  /** How long the events may take to arrive after the last join. */
  eventsMs: number;
}

/** The topic with presence; the server runs with `PRESENCE` set to it. */
export const PRESENCE_TOPIC = "bench/presence";
const PLAIN_TOPIC = "bench/plain";

/** What one phase (one topic) saw. */
interface Phase {
  sockets: WebSocket[];
  joinSeconds: number;
  /** Server CPU seconds from the first connection to the last ack. */
  serverCpu: number;
  /** Per watcher, the ids of the clients it got a join for. */
  seen: Set<string>[];
  events: number;
  syncs: number;
}

/**
 * Runs the presence scenario.
 *
 * @param ctx The server and the parameters.
 * @returns `join_s` (with presence), `join_plain_s` (without), the server's CPU seconds for the
 *   joins and all their events (`server_cpu_s`) and for the joins without presence
 *   (`server_cpu_plain_s`), `events_s` (first connection to the last
 *   event), `events`, `lost`, `duplicates`, `syncs`, `dropped`, `slow_closed`, `other_cpu`.
 */
export async function runPresence(ctx: RunContext): Promise<Metrics> {
  const { clients, watchers, concurrency, eventsMs } = ctx.params as unknown as PresenceParams;
  const url = new URL(ctx.url);
  url.searchParams.set("batch", "1");
  url.searchParams.set("src", "front");
  const pid = ctx.serverPid;
  const warm = await join(pid, url.href, "bench/warm", 50, 5, concurrency);
  await closeSockets(warm.sockets, 5000);
  const t0 = { time: performance.now(), machine: machineCpuSeconds(), server: cpuSeconds(pid) };
  const self0 = cpuSeconds("self");
  const plain = await join(pid, url.href, PLAIN_TOPIC, clients, watchers, concurrency);
  await closeSockets(plain.sockets, 5000);

  const started = performance.now();
  const cpuAtStart = cpuSeconds(pid);
  const phase = await join(pid, url.href, PRESENCE_TOPIC, clients, watchers, concurrency);
  const others = clients - watchers;
  const expected = watchers * others + (watchers * (watchers - 1)) / 2;
  const deadline = performance.now() + eventsMs;
  while (phase.events < expected && phase.syncs === 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const eventsSeconds = (performance.now() - started) / 1000;
  const serverCpu = cpuSeconds(pid) - cpuAtStart; // the joins and every event
  const seconds = (performance.now() - t0.time) / 1000;
  const busy = machineCpuSeconds() - t0.machine - (cpuSeconds(pid) - t0.server) -
    (cpuSeconds("self") - self0);
  const unique = phase.seen.reduce((n, s) => n + s.size, 0);
  const metrics = await serverCounters(ctx.url);
  await closeSockets(phase.sockets, 5000);
  return {
    join_s: phase.joinSeconds,
    join_plain_s: plain.joinSeconds,
    server_cpu_s: serverCpu,
    server_cpu_plain_s: plain.serverCpu,
    events_s: eventsSeconds,
    events: phase.events,
    lost: expected - unique,
    duplicates: phase.events - unique,
    syncs: phase.syncs,
    dropped: metrics.messages_dropped_total ?? NaN,
    slow_closed: metrics.slow_clients_closed_total ?? NaN,
    // Other processes' CPU, % of a core: the runner repeats a run they disturbed.
    other_cpu: (busy / seconds) * 100,
  };
}

/** Opens the watchers, then the other clients; each subscribes to `topic` and awaits its ack. */
async function join(
  serverPid: number,
  url: string,
  topic: string,
  clients: number,
  watchers: number,
  concurrency: number,
): Promise<Phase> {
  const phase: Phase = {
    sockets: [],
    joinSeconds: 0,
    serverCpu: 0,
    seen: [],
    events: 0,
    syncs: 0,
  };
  const subscribe = (ws: WebSocket, watcher: number | null) => {
    const acked = Promise.withResolvers<void>();
    const seen = watcher === null ? null : phase.seen[watcher] = new Set<string>();
    ws.onmessage = (e) => {
      for (const line of String(e.data).split("\n")) {
        if (line.includes('"action":"ack"')) {
          if (!line.includes('"code":200')) acked.reject(new Error(`Subscribe refused: ${line}`));
          acked.resolve();
        } else if (line.includes('"action":"join"') && seen !== null) {
          phase.events++;
          // The client id by substring: JSON.parse of 94,950 events would load this process.
          const at = line.indexOf('"client":"') + 10;
          seen.add(line.slice(at, line.indexOf('"', at)));
        } else if (line.includes('"action":"presence_sync"')) phase.syncs++;
      }
    };
    const msg = {
      mode: "pub_sub",
      action: "sub",
      topic,
      join_leave: watcher !== null || undefined,
    };
    ws.send(JSON.stringify(msg));
    return acked.promise;
  };
  const started = performance.now();
  const cpu = cpuSeconds(serverPid);
  const first = await openSockets(url, watchers, {
    concurrency,
    ready: (ws, i) => subscribe(ws, i),
  });
  const rest = await openSockets(url, clients - watchers, {
    concurrency,
    ready: (ws) => subscribe(ws, null),
  });
  phase.joinSeconds = (performance.now() - started) / 1000;
  phase.serverCpu = cpuSeconds(serverPid) - cpu;
  phase.sockets = [...first, ...rest];
  return phase;
}

/** The server's counters from /metrics (`switchboard_` prefix removed). */
async function serverCounters(wsUrl: string): Promise<Record<string, number>> {
  const url = new URL("/metrics", wsUrl.replace(/^ws/, "http"));
  const text = await (await fetch(url)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^switchboard_(\w+) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
