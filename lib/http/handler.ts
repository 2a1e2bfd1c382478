/**
 * Plain HTTP on the WebSocket port: /healthz, /metrics and the console page. Everything else 404.
 */
import type { Switchboard } from "../server.ts";
import { CONSOLE_HTML } from "./console_page.ts";
import { buildContract } from "./asyncapi.ts";
import { statsResponse, topicCounts } from "./stats.ts";

/**
 * Answers a request that is not a WebSocket upgrade.
 *
 * @param server The server, for its state.
 * @param req The request.
 * @returns The response.
 */
export function handleHttp(server: Switchboard, req: Request): Response {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  const path = new URL(req.url).pathname;
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
      topics: topicCounts(server.connections),
    }));
  }
  if (path === "/asyncapi.json") {
    return Response.json(buildContract({
      commands: server.commands,
      topics: server.topics,
      serverSrc: server.config.SERVER_SRC,
    }));
  }
  if (path === "/") {
    return new Response(CONSOLE_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  return new Response("Not found\n", { status: 404 });
}

function health(server: Switchboard) {
  const pool = server.pool.stats();
  return {
    status: server.closing ? "shutting_down" : server.status,
    uptime: Math.round((Date.now() - server.startedAt) / 1000),
    connections: server.connections.size,
    broker: { kind: server.broker.transport.kind, healthy: server.broker.transport.healthy },
    workers: { size: pool.size, busy: pool.busy, queued: pool.queued, stuck: pool.stuck },
  };
}

function gauges(server: Switchboard): Record<string, number> {
  const pool = server.pool.stats();
  return {
    connections: server.connections.size,
    running_commands: server.running,
    subscriptions: server.pubsub.subscriptions,
    published_total: server.pubsub.stats.published,
    delivered_total: server.pubsub.stats.delivered,
    broker_healthy: server.broker.transport.healthy ? 1 : 0,
    broker_received_total: server.broker.transport.received,
    broker_dropped_total: server.broker.transport.dropped,
    workers_size: pool.size,
    workers_busy: pool.busy,
    workers_queued: pool.queued,
    workers_restarts: pool.restarts,
    workers_stuck: pool.stuck,
    workers_timed_out: pool.timedOut,
    uptime_seconds: Math.round((Date.now() - server.startedAt) / 1000),
  };
}
