/**
 * The server: the only file that calls `Deno.serve` and `Deno.upgradeWebSocket`. It accepts
 * clients, hands their frames to the intake (intake.ts), and offers the programmatic API
 * (`command`, `publish`, `broadcast`, `sendTo`, `offload`, `shutdown`).
 */
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Config, type ConfigInput, parseConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import {
  Connection,
  type ConnectionEvents,
  ConnectionState,
  forgetConnection,
  type SendLimits,
} from "./session/connection.ts";
import { Router } from "./commands/router.ts";
import { addCommand, loadRoutes, type Manifest, type Routes } from "./commands/routes.ts";
import { Code, type Outgoing } from "./wire/protocol.ts";
import { replyText } from "./wire/messages.ts";
import { Intake } from "./session/intake.ts";
import { Metrics } from "./metrics.ts";
import { PubSub } from "./pubsub/pubsub.ts";
import type { Broker, Target } from "./broker/broker.ts";
import { createBroker } from "./broker/mod.ts";
import { WorkerPool } from "./workers/pool.ts";
import type { Command, OffloadOptions, PublishMessage } from "./commands/command.ts";
import type { TopicCallback } from "./pubsub/topic_file.ts";
import { handleHttp } from "./http/handler.ts";
import { ROUTES_FILE } from "./commands/routes_gen.ts";
import { Gate } from "./session/admission.ts";
import type { Principal } from "./session/auth.ts";

/** Options of `createServer`: any setting (as `port` or `PORT`), plus where the app is. */
export interface ServerOptions extends Record<string, unknown> {
  /** The app folder; its routes.gen.ts is loaded when `routes` is not given. */
  root?: string;
  /** The routes manifest (main.ts imports routes.gen.ts statically and passes it). */
  routes?: Partial<Manifest>;
  /** A logger; by default one from LOG_LEVEL and LOG_FORMAT. */
  logger?: Logger;
}

/**
 * Creates and starts a server.
 *
 * @param options Settings (`port`, `maxClients` or `MAX_CLIENTS`, …), `root` or `routes`.
 * @returns The running server; `await server.shutdown()` stops it.
 * @throws {StartupError} On a bad setting or a bad routes file.
 * @example
 * ```ts
 * const server = await createServer({ port: 0, root: import.meta.dirname });
 * server.command("web", () => {});
 * await server.shutdown();
 * ```
 */
export async function createServer(options: ServerOptions = {}): Promise<Switchboard> {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) input[toEnvName(key)] = value;
  const config = parseConfig(input as ConfigInput);
  let manifest = options.routes;
  if (manifest === undefined && options.root !== undefined) {
    const url = pathToFileURL(join(resolve(options.root), ROUTES_FILE)).href;
    manifest = (await import(url)).default as Manifest;
  }
  const server = new Switchboard(config, loadRoutes(manifest ?? {}), options.logger);
  await server.listen();
  return server;
}

function toEnvName(key: string): string {
  return /[a-z]/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() : key;
}

/** The "client limit reached" warning is written at most this often. */
const FULL_LOG_EVERY_MS = 10_000;
/** How long shutdown waits for clients to acknowledge the 1001 close. */
const CLOSE_WAIT_MS = 500;

/** A running Switchboard server. */
export class Switchboard {
  readonly log: Logger;
  readonly commands: Map<string, Command>;
  readonly topics: Map<string, TopicCallback>;
  readonly connections = new Set<Connection>();
  readonly metrics = new Metrics();
  readonly broker: Broker;
  readonly pubsub: PubSub;
  readonly pool: WorkerPool;
  readonly router: Router;
  readonly gate: Gate;
  readonly intake: Intake;
  readonly startedAt = Date.now();
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  readonly #sendLimits: SendLimits;
  readonly #events: ConnectionEvents = {
    onOpen: (conn) => this.#open(conn),
    onMessage: (conn, data) => this.intake.message(conn, data),
    onClose: (conn) => this.#close(conn),
  };
  #closing = false;
  #lastFullLog = 0;
  #closed: Promise<void> | undefined;

  constructor(readonly config: Config, routes: Routes, logger?: Logger) {
    this.log = logger ?? createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
    this.commands = routes.commands;
    this.topics = routes.topics;
    this.broker = createBroker(config, this.pubsubSink(), {
      log: this.log,
      nodeId: crypto.randomUUID(),
    });
    this.pubsub = new PubSub(this);
    this.pool = new WorkerPool(routes.workers, {
      size: config.WORKERS,
      queueLimit: config.WORKER_QUEUE,
      timeoutMs: config.WORKER_TIMEOUT_MS,
      stuckLimit: config.WORKER_STUCK_LIMIT,
      log: (level, msg, extra) => this.log[level](msg, extra),
    });
    this.router = new Router(this);
    this.gate = new Gate(config, this.log, routes.auth);
    this.intake = new Intake(config, this.metrics, this.router, this.log);
    this.#sendLimits = {
      sendBufferBytes: config.SEND_BUFFER_BYTES,
      slowClientMs: config.SLOW_CLIENT_MS,
    };
  }

  /** The broker hands other nodes' traffic to pub/sub, which exists only after the broker. */
  private pubsubSink() {
    return {
      deliver: (topic: string, text: string) => this.pubsub.deliver(topic, text),
      broadcast: (text: string) => this.pubsub.broadcast(text),
      sendTo: (target: Target, text: string) => this.pubsub.sendTo(target, text),
    };
  }

  /** The port listened on (useful with `port: 0`). */
  get port(): number {
    return this.#http?.addr.port ?? 0;
  }

  /** The address listened on. */
  get hostname(): string {
    return this.#http?.addr.hostname ?? this.config.HOST;
  }

  /** Starts listening; createServer calls it. */
  listen(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#http = Deno.serve({
      port: this.config.PORT,
      hostname: this.config.HOST,
      onListen: ({ hostname, port }) => {
        this.log.info(`Switchboard listening on ws://${hostname}:${port}/`, {
          commands: this.commands.size,
          broker: this.broker.transport.kind,
        });
        resolve();
      },
    }, (req, info) => this.#request(req, info));
    return promise;
  }

  #request(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response | Promise<Response> {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return handleHttp(this, req);
    const ip = info.remoteAddr.hostname; // must be read before upgrading: it throws afterwards
    if (this.#closing) return new Response("Server is shutting down\n", { status: 503 });
    return this.gate.admit(req, info, ip).then((admission) => {
      if (!admission.ok) {
        this.metrics.connectionsRefused++;
        return admission.response;
      }
      if (this.#closing) {
        this.gate.closed(ip);
        return new Response("Server is shutting down\n", { status: 503 });
      }
      return this.#upgrade(req, ip, admission.principal);
    });
  }

  #upgrade(req: Request, ip: string, principal: Principal | undefined): Response {
    const url = new URL(req.url);
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: this.config.IDLE_TIMEOUT_S });
    } catch (err) {
      this.gate.closed(ip);
      return new Response(`Bad WebSocket upgrade: ${(err as Error).message}\n`, { status: 400 });
    }
    const { socket, response } = upgraded;
    const conn = new Connection(
      socket,
      ip,
      this.#sendLimits,
      this.metrics.send,
      url.searchParams.get("batch") === "1",
    );
    conn.src = url.searchParams.get("src") ?? undefined;
    conn.auth = principal;
    conn.events = this.#events;
    socket.addEventListener("open", conn);
    socket.addEventListener("message", conn);
    socket.addEventListener("close", conn);
    socket.addEventListener("error", conn);
    return response;
  }

  #open(conn: Connection): void {
    if (this.connections.size >= this.config.MAX_CLIENTS) {
      this.metrics.connectionsRefused++;
      const now = Date.now();
      if (now - this.#lastFullLog > FULL_LOG_EVERY_MS) {
        this.#lastFullLog = now;
        this.log.warn(`Client limit reached (${this.config.MAX_CLIENTS}): refusing new clients`);
      }
      conn.send(replyText(this.config.SERVER_SRC, undefined, undefined, {
        code: Code.UNAVAILABLE,
        msg: `Client limit reached (${this.config.MAX_CLIENTS})`,
      }));
      conn.close(1013, "Client limit reached");
      return;
    }
    this.connections.add(conn);
    this.metrics.connectionsTotal++;
    if (this.log.enabled("debug")) {
      this.log.debug("Client connected", { client: conn.id, ip: conn.ip, src: conn.src });
    }
    const expiresAt = conn.auth?.expiresAt;
    if (expiresAt !== undefined) {
      // Deno timers are 32-bit: a far-off expiry is re-armed when the first timer fires.
      const arm = () => {
        const left = expiresAt - Date.now();
        if (left <= 0) return conn.close(1008, "Token expired");
        conn.expiry = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
      };
      arm();
    }
  }

  #close(conn: Connection): void {
    if (conn.state === ConnectionState.Closed) return; // onclose can fire twice for one socket
    conn.state = ConnectionState.Closed;
    if (this.connections.delete(conn) && this.log.enabled("debug")) {
      this.log.debug("Client left", { client: conn.id, dropped: conn.dropped });
    }
    this.gate.closed(conn.ip);
    clearTimeout(conn.expiry);
    forgetConnection(conn);
    if (conn.runningCount > 0) {
      const reason = new DOMException("Client left", "AbortError");
      conn.serial?.cancel(reason);
      for (const run of [...conn.running.values()]) run.cancel(reason);
    }
    conn.serialQueue.length = 0;
    if (conn.subscribed) this.pubsub.removeConnection(conn);
  }

  /**
   * Adds or replaces a command.
   *
   * @param name The command's name (matched case-insensitively).
   * @param handler A function or a `defineCommand({...})` object.
   * @returns This server.
   */
  command(name: string, handler: unknown): this {
    addCommand(this.commands, name, handler);
    return this;
  }

  /**
   * Publishes on a topic, to subscribers on every node; runs no topic callback.
   *
   * @param topic The topic (no wildcards).
   * @param msg The payload; `retain: true` keeps it as the topic's value.
   */
  publish(topic: string, msg: PublishMessage): void {
    this.pubsub.publish(topic, msg);
  }

  /**
   * Sends a reply-shaped message without `id` to every client on every node.
   *
   * @param msg The payload (`code` 200 and `msg` "success" unless given).
   */
  broadcast(msg: Outgoing): void {
    const text = replyText(this.config.SERVER_SRC, undefined, undefined, msg);
    this.pubsub.broadcast(text);
    this.broker.transport.broadcast(text);
  }

  /**
   * Sends a reply-shaped message without `id` to the clients with a role or an id.
   *
   * @param target `{ src: "front" }` or `{ id: connectionId }`.
   * @param msg The payload.
   */
  sendTo(target: Target, msg: Outgoing): void {
    const text = replyText(this.config.SERVER_SRC, undefined, undefined, msg);
    this.pubsub.sendTo(target, text);
    this.broker.transport.sendTo(target, text);
  }

  /**
   * Runs `workers/<name>.ts` in the worker pool.
   *
   * @param name The worker's name.
   * @param input Its input (structured clone; transfer ArrayBuffers with `transfer`).
   * @param options Transfer list, signal and time limit.
   * @returns The worker function's result.
   */
  offload<T = unknown>(name: string, input: unknown, options?: OffloadOptions): Promise<T> {
    return this.pool.run<T>(name, input, options);
  }

  /** Counts a finished request (the router's hook). */
  countRequest(command: string, code: number, ms: number): void {
    this.metrics.countRequest(command, code, ms);
  }

  /** Handles sub, unsub and pub (the router's hook). */
  handlePubSub(conn: Connection, msg: Parameters<PubSub["handle"]>[1]): void {
    this.pubsub.handle(conn, msg);
  }

  /** Whether the server is stopping. */
  get closing(): boolean {
    return this.#closing;
  }

  /** `ok`, or `degraded` when the broker is down or workers are stuck. */
  get status(): "ok" | "degraded" {
    return this.broker.transport.healthy && !this.pool.degraded ? "ok" : "degraded";
  }

  /** Running commands on all connections. */
  get running(): number {
    let n = 0;
    for (const conn of this.connections) n += conn.runningCount;
    return n;
  }

  /**
   * Stops gracefully: refuses new clients, lets running commands finish for up to the grace
   * period, cancels what is left (503), closes clients with 1001 and stops listening.
   *
   * @param graceMs How long running commands may take (SHUTDOWN_GRACE_MS by default).
   */
  shutdown(graceMs = this.config.SHUTDOWN_GRACE_MS): Promise<void> {
    return this.#closed ??= this.#shutdown(graceMs);
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#closing = true;
    const deadline = Date.now() + graceMs;
    while (this.running > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const reason = new DOMException("Server is shutting down", "AbortError");
    for (const conn of this.connections) {
      conn.serial?.cancel(reason);
      if (conn.runningCount > 0) {
        for (const run of [...conn.running.values()]) run.cancel(reason);
      }
    }
    for (const conn of this.connections) conn.close(1001, "Server is shutting down");
    // Give the close handshakes (and what is still buffered) a moment to go out: Deno's own
    // shutdown drops open sockets at once.
    const closeBy = Date.now() + CLOSE_WAIT_MS;
    while (this.connections.size > 0 && Date.now() < closeBy) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.#http?.shutdown();
    await this.pool.close();
    await Promise.all([this.broker.transport.close(), this.broker.store.close()]);
    this.log.info("Switchboard stopped");
  }
}
