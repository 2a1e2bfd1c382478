/**
 * Plain HTTP on the WebSocket port: /healthz, /metrics, /stats.json, /asyncapi.json,
 * /openapi.json, the console page, and the backend API under /api/. Everything else 404.
 */
import { CONSOLE_HTML } from "./console_page.ts";
import { buildContract } from "./asyncapi.ts";
import { statsResponse } from "./stats.ts";
import { buildOpenApi } from "./openapi.ts";
import { json } from "./api_client.ts";
import type { Config } from "../config.ts";
import type { Clock } from "../clock.ts";
import type { Metrics } from "../metrics.ts";
import type { Command } from "../commands/command.ts";
import type { TopicCallback } from "../pubsub/topic_file.ts";
import type { HistoryStore, Transport } from "../broker/broker.ts";
import type { WorkerPool } from "../workers/pool.ts";

/** What the HTTP endpoints read: the server's state, never its internals' methods. */
export interface HttpHost {
  readonly config: Config;
  readonly clock: Clock;
  readonly startedAt: number;
  readonly closing: boolean;
  readonly status: "ok" | "degraded";
  readonly running: number;
  readonly metrics: Metrics;
  readonly commands: Map<string, Command>;
  readonly topics: Map<string, TopicCallback>;
  readonly hub: {
    readonly size: number;
    readonly subscriptionCount: number;
    readonly stats: { published: number; delivered: number };
    topicCounts(): Iterable<readonly [filter: string, subscribers: number]>;
  };
  readonly broker: { readonly transport: Transport; readonly history?: HistoryStore };
  readonly presence: { readonly held: number; readonly eventsSent: number };
  readonly pool: Pick<WorkerPool, "stats">;
  /** The backend API, when API_KEY is set. */
  readonly api?: { handle(req: Request, method: string): Promise<Response> };
}

/**
 * Answers a request that is not a WebSocket upgrade.
 *
 * @param server The server, for its state.
 * @param req The request.
 * @returns The response.
 */
export function handleHttp(server: HttpHost, req: Request): Response | Promise<Response> {
  const path = new URL(req.url).pathname;
  if (path.startsWith("/api/")) {
    return server.api?.handle(req, path.slice(5)) ??
      json({ code: 404, msg: "The backend API is off: API_KEY is not set" });
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  if (path === "/healthz") {
    return Response.json(health(server), { status: server.closing ? 503 : 200 });
  }
  if (path === "/metrics") {
    return new Response(server.metrics.render(gauges(server)), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }
  if (path === "/stats.json") {
    return statsResponse(() => ({
      counters: { ...server.metrics.counters(), ...gauges(server) },
      topics: server.hub.topicCounts(),
    }));
  }
  if (path === "/asyncapi.json") {
    return Response.json(buildContract({
      commands: server.commands,
      topics: server.topics,
      serverSrc: server.config.SERVER_SRC,
    }));
  }
  if (path === "/openapi.json") {
    return Response.json(buildOpenApi({ commands: server.commands, enabled: !!server.api }));
  }
  if (path === "/") {
    return new Response(CONSOLE_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  return new Response("Not found\n", { status: 404 });
}

function health(server: HttpHost) {
  const pool = server.pool.stats();
  return {
    status: server.closing ? "shutting_down" : server.status,
    uptime: Math.round((server.clock.now() - server.startedAt) / 1000),
    connections: server.hub.size,
    broker: {
      kind: server.broker.transport.kind,
      healthy: server.broker.transport.healthy,
      ...(server.broker.transport.problem !== undefined &&
        { reason: server.broker.transport.problem }),
    },
    workers: { size: pool.size, busy: pool.busy, queued: pool.queued, stuck: pool.stuck },
  };
}

function gauges(server: HttpHost): Record<string, number> {
  const pool = server.pool.stats();
  const history = server.broker.history?.stats();
  return {
    connections: server.hub.size,
    history_topics: history?.topics ?? 0,
    history_entries: history?.entries ?? 0,
    running_commands: server.running,
    subscriptions: server.hub.subscriptionCount,
    published_total: server.hub.stats.published,
    delivered_total: server.hub.stats.delivered,
    broker_healthy: server.broker.transport.healthy ? 1 : 0,
    broker_received_total: server.broker.transport.received,
    broker_dropped_total: server.broker.transport.dropped,
    presence_entries: server.presence.held,
    presence_events_total: server.presence.eventsSent,
    broker_probe_rtt_ms: server.broker.transport.probeRttMs ?? 0,
    workers_size: pool.size,
    workers_busy: pool.busy,
    workers_queued: pool.queued,
    workers_restarts: pool.restarts,
    workers_stuck: pool.stuck,
    workers_timed_out: pool.timedOut,
    uptime_seconds: Math.round((server.clock.now() - server.startedAt) / 1000),
  };
}
