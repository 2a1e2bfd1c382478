/**
 * The runtime adapter: the only file that calls `Deno.serve` and `Deno.upgradeWebSocket`. Plain
 * HTTP goes to the endpoints (handler.ts); an upgrade passes the gate (origin, per-address limit,
 * authentication), then its socket becomes a connection of the hub.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Gate } from "../session/admission.ts";
import type { NewClient } from "../hub.ts";
import type { Connection, SocketLike } from "../session/connection.ts";

/** What the listener needs from the server. */
export interface ListenerHost {
  readonly config: Pick<Config, "PORT" | "HOST" | "IDLE_TIMEOUT_S">;
  readonly log: Logger;
  readonly gate: Gate;
  /** True once shutdown began: upgrades are refused with 503. */
  closing(): boolean;
  /** Counts a refused upgrade. */
  refused(): void;
  /** Makes the connection of an upgraded socket. */
  attach(socket: SocketLike, client: NewClient): Connection;
  /** Answers a plain HTTP request. */
  http(req: Request): Response | Promise<Response>;
  /** A line for the log once listening. */
  readonly started: Record<string, unknown>;
}

/**
 * Starts the HTTP server.
 *
 * @param host The server's side of it.
 * @returns The running HTTP server, once it listens.
 */
export function listen(host: ListenerHost): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const { promise, resolve } = Promise.withResolvers<Deno.HttpServer<Deno.NetAddr>>();
  const http: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    port: host.config.PORT,
    hostname: host.config.HOST,
    onListen: ({ hostname, port }) => {
      host.log.info(`Switchboard listening on ws://${hostname}:${port}/`, host.started);
      queueMicrotask(() => resolve(http));
    },
  }, (req, info) => request(host, req, info));
  return promise;
}

function request(
  host: ListenerHost,
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
): Response | Promise<Response> {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return host.http(req);
  const ip = info.remoteAddr.hostname; // must be read before upgrading: it throws afterwards
  if (host.closing()) return new Response("Server is shutting down\n", { status: 503 });
  return host.gate.admit(req, info, ip).then((admission) => {
    if (!admission.ok) {
      host.refused();
      return admission.response;
    }
    if (host.closing()) {
      host.gate.closed(ip);
      return new Response("Server is shutting down\n", { status: 503 });
    }
    const url = new URL(req.url);
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: host.config.IDLE_TIMEOUT_S });
    } catch (err) {
      host.gate.closed(ip);
      return new Response(`Bad WebSocket upgrade: ${(err as Error).message}\n`, { status: 400 });
    }
    const { socket, response } = upgraded;
    const conn = host.attach(socket, {
      ip,
      batch: url.searchParams.get("batch") === "1",
      src: url.searchParams.get("src") ?? undefined,
      auth: admission.principal,
    });
    // The connection is the listener object: no closure per event and socket.
    socket.addEventListener("open", conn);
    socket.addEventListener("message", conn);
    socket.addEventListener("close", conn);
    socket.addEventListener("error", conn);
    return response;
  });
}
