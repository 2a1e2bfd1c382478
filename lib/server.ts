/**
 * The server: wires the modules together and runs the process's life (listen, shutdown);
 * lib/http/listener.ts is the only file that touches Deno's HTTP server. A frame goes socket →
 * intake (session/) → dispatcher (commands/) → a command run, or pub/sub → hub → subscribers;
 * docs/architecture.md follows both paths and names the one owner of each piece of state.
 */
import type { Config } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { type Clock, delay, systemClock } from "./clock.ts";
import { Intake } from "./session/intake.ts";
import { Gate } from "./session/admission.ts";
import { Dispatcher } from "./commands/dispatcher.ts";
import { addCommand, type Routes } from "./routes.ts";
import type { Command, OffloadOptions, PublishMessage } from "./commands/command.ts";
import type { Outgoing } from "./wire/protocol.ts";
import { replyText } from "./wire/messages.ts";
import { Metrics } from "./metrics.ts";
import { PubSub } from "./pubsub/pubsub.ts";
import { Presence } from "./pubsub/presence.ts";
import type { TopicCallback } from "./pubsub/topic_file.ts";
import type { Broker, Target } from "./broker/broker.ts";
import type { Connection } from "./session/connection.ts";
import { createBroker } from "./broker/mod.ts";
import { WorkerPool } from "./workers/pool.ts";
import { handleHttp, type HttpHost } from "./http/handler.ts";
import { listen } from "./http/listener.ts";
import { Hub } from "./hub.ts";
import { Sessions } from "./session/sessions.ts";
import { Api } from "./http/api.ts";
import { answerPeer } from "./http/api_cluster.ts";
import { loadHistoryRules } from "./wire/history_rules.ts";
import { History } from "./pubsub/history.ts";
import { Recovery } from "./pubsub/recovery.ts";

/** How long shutdown waits for clients to acknowledge the 1001 close. */
const CLOSE_WAIT_MS = 500;

/** A running Switchboard server. */
export class Switchboard implements HttpHost {
  readonly log: Logger;
  readonly clock: Clock;
  /** This node's one id: in every connection id, and how the transport tells its own traffic. */
  readonly nodeId: string = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  readonly commands: Map<string, Command>;
  readonly topics: Map<string, TopicCallback>;
  readonly metrics = new Metrics();
  readonly hub: Hub;
  readonly broker: Broker;
  readonly pubsub: PubSub;
  readonly presence: Presence;
  readonly pool: WorkerPool;
  readonly dispatcher: Dispatcher;
  readonly gate: Gate;
  readonly intake: Intake;
  readonly sessions: Sessions;
  /** The backend HTTP API, when API_KEY is set. */
  readonly api: Api | undefined;
  readonly startedAt: number;
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(
    readonly config: Config,
    routes: Routes,
    options: { logger?: Logger; clock?: Clock } = {},
  ) {
    this.log = options.logger ?? createLogger(config.LOG_LEVEL, config.LOG_FORMAT);
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.commands = routes.commands;
    this.topics = routes.topics;
    this.hub = new Hub({
      nodeId: this.nodeId,
      config,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      onMessage: (conn, data) => this.intake.message(conn, data),
    });
    // Other nodes' questions (the API's clients, send, disconnect) are answered by every node.
    const sink = {
      ...this.hub.local,
      answer: (question: string) => answerPeer(this.hub, this.nodeId, question),
    };
    const rules = loadHistoryRules(config.HISTORY, this.topics.values());
    this.broker = createBroker(config, sink, {
      log: this.log,
      nodeId: this.nodeId,
      clock: this.clock,
      historyMaxTtlMs: Math.max(0, ...rules.all.map((r) => r.ttlMs)),
    });
    this.hub.transport = this.broker.transport;
    this.presence = new Presence({
      config,
      clock: this.clock,
      log: this.log,
      topics: this.topics,
      store: this.broker.presence,
    });
    this.hub.membership = this.presence;
    this.pool = new WorkerPool(routes.workers, {
      size: config.WORKERS,
      queueLimit: config.WORKER_QUEUE,
      timeoutMs: config.WORKER_TIMEOUT_MS,
      stuckLimit: config.WORKER_STUCK_LIMIT,
      log: (level, msg, extra) => this.log[level](msg, extra),
      clock: this.clock,
    });
    const historyHost = {
      config,
      log: this.log,
      clock: this.clock,
      rules,
      store: this.broker.history,
      retained: this.broker.store,
      publish: (topic: string, text: string) => this.hub.publish(topic, text),
      relayed: () => void this.hub.stats.published++,
      filtersOf: (conn: Connection) => this.hub.filtersOf(conn),
      subscribe: (conn: Connection, filter: string) => void this.hub.subscribe(conn, filter),
      counts: this.metrics,
    };
    const history = new History(historyHost);
    this.pubsub = new PubSub({
      config,
      log: this.log,
      topics: this.topics,
      fanout: this.hub,
      store: this.broker.store,
      presence: this.presence,
      relaying: () => this.broker.transport.writable ?? true,
      history,
      recovery: new Recovery(historyHost, history),
    });
    this.dispatcher = new Dispatcher({
      config,
      log: this.log,
      clock: this.clock,
      commands: this.commands,
      publish: (topic, msg) => this.pubsub.publish(topic, msg),
      broadcast: (msg) => this.broadcast(msg),
      offload: (name, input, opts) => this.pool.run(name, input, opts),
      countRequest: (command, code, ms) => this.metrics.countRequest(command, code, ms),
      filtersOf: (conn) => this.hub.filtersOf(conn),
      pubsub: (conn, msg) => this.pubsub.handle(conn, msg),
    });
    this.gate = new Gate(config, this.log, routes.auth, this.clock);
    this.sessions = new Sessions({
      config,
      clock: this.clock,
      log: this.log,
      subscribe: (conn, msg) => this.pubsub.handle(conn, msg),
      filtersOf: (conn) => this.hub.filtersOf(conn),
      unsubscribe: (conn, filter) => this.hub.unsubscribe(conn, filter),
      renewExpiry: (conn) => this.hub.renewExpiry(conn),
    });
    this.hub.onJoin((conn) => this.sessions.joined(conn));
    this.api = config.API_KEY === undefined ? undefined : new Api(this, config.API_KEY);
    const dispatcher = this.dispatcher;
    this.intake = new Intake(config, this.metrics, {
      // Session messages never reach the dispatcher: a refresh is no dialogue answer.
      handle: (conn, msg) =>
        msg.mode === "session" ? this.sessions.handle(conn, msg) : dispatcher.handle(conn, msg),
    }, this.log);
    this.hub.onLeave((conn) => {
      this.gate.closed(conn.ip);
      this.dispatcher.drop(conn);
    });
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
  async listen(): Promise<void> {
    this.#http = await listen({
      config: this.config,
      log: this.log,
      gate: this.gate,
      closing: () => this.#closing,
      refused: () => this.metrics.connectionsRefused++,
      attach: (socket, client) => this.hub.attach(socket, client),
      http: (req) => handleHttp(this, req),
      started: { commands: this.commands.size, broker: this.broker.transport.kind },
    });
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
    this.hub.broadcast(replyText(this.config.SERVER_SRC, undefined, undefined, msg));
  }

  /**
   * Sends a reply-shaped message without `id` to the clients with a role or an id.
   *
   * @param target `{ src: "front" }`, `{ id: connectionId }` or `{ user: jwtSub }`.
   * @param msg The payload.
   */
  sendTo(target: Target, msg: Outgoing): void {
    this.hub.sendTo(target, replyText(this.config.SERVER_SRC, undefined, undefined, msg));
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
    return this.dispatcher.running;
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
    const deadline = this.clock.now() + graceMs;
    while (this.running > 0 && this.clock.now() < deadline) await delay(this.clock, 20);
    this.dispatcher.cancelAll(new DOMException("Server is shutting down", "AbortError"));
    this.hub.closeAll(1001, "Server is shutting down");
    // Give the close handshakes (and what is still buffered) a moment to go out: Deno's own
    // shutdown drops open sockets at once.
    const closeBy = this.clock.now() + CLOSE_WAIT_MS;
    while (this.hub.size > 0 && this.clock.now() < closeBy) await delay(this.clock, 10);
    await this.#http?.shutdown();
    await this.pool.close();
    this.presence.close();
    await Promise.all([
      this.broker.transport.close(),
      this.broker.store.close(),
      this.broker.presence.close(),
      this.broker.history.close(),
      this.broker.peers?.close(),
    ]);
    this.log.info("Switchboard stopped");
  }
}
