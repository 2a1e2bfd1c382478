/**
 * The hub: owns who is connected and who subscribes to what, and delivers to them. Every
 * connection enters through {@linkcode Hub.admit} and leaves through {@linkcode Hub.leave} — the
 * one point where a connection's subscriptions end, however it ends (unsub aside): its own close,
 * a kick, a slow-client close, shutdown. Publishes fan out here, locally, and through the
 * transport to other nodes; what other nodes send arrives at {@linkcode Hub.local}.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { Target, Transport, TransportSink } from "./broker/broker.ts";
import { targets } from "./broker/targets.ts";
import type { Fanout } from "./pubsub/pubsub.ts";
import { type Membership, Subscriptions } from "./pubsub/subscriptions.ts";
import {
  Connection,
  type ConnectionEvents,
  ConnectionState,
  type SendPath,
  type SocketLike,
} from "./session/connection.ts";
import { SendScheduler } from "./session/send_scheduler.ts";
import { ExpiryTimers } from "./session/expiry.ts";
import type { Principal } from "./session/auth.ts";
import type { Config } from "./config.ts";
import type { Metrics } from "./metrics.ts";
import { replyText } from "./wire/messages.ts";
import { Code } from "./wire/protocol.ts";

/** What the hub is made with. */
export interface HubOptions {
  /** This node's id: connection ids start with it, so they are unique across nodes. */
  readonly nodeId: string;
  /** MAX_CLIENTS, SERVER_SRC, SEND_BUFFER_BYTES, SLOW_CLIENT_MS, REFRESH_NOTICE_S. */
  readonly config: Pick<
    Config,
    "MAX_CLIENTS" | "SERVER_SRC" | "SEND_BUFFER_BYTES" | "SLOW_CLIENT_MS" | "REFRESH_NOTICE_S"
  >;
  readonly clock: Clock;
  readonly log: Logger;
  /** Connection and send counters for /metrics. */
  readonly metrics: Pick<Metrics, "send" | "connectionsTotal" | "connectionsRefused">;
  /** Where a connection's frames go (the intake). */
  onMessage(conn: Connection, data: unknown): void;
}

/** Who a new connection is, as the upgrade found it. */
export interface NewClient {
  ip: string;
  batch?: boolean;
  src?: string;
  auth?: Principal;
}

/** Counters for /metrics. */
export interface HubStats {
  published: number;
  delivered: number;
}

/** The "client limit reached" warning is written at most this often. */
const FULL_LOG_EVERY_MS = 10_000;

/** The connections of one node, their subscriptions, and the fan-out. */
export class Hub implements Fanout {
  readonly stats: HubStats = { published: 0, delivered: 0 };
  /** Where the transport hands other nodes' traffic: delivered on this node only. */
  readonly local: TransportSink;
  readonly #options: HubOptions;
  readonly #connections = new Set<Connection>();
  readonly #subscriptions: Subscriptions<Connection>;
  readonly #expiry: ExpiryTimers;
  readonly #leaveHooks: ((conn: Connection) => void)[] = [];
  readonly #joinHooks: ((conn: Connection) => void)[] = [];
  readonly #sendPath: SendPath;
  readonly #events: ConnectionEvents;
  /** Told of every subscription made and ended (presence). */ membership?: Membership<Connection>;
  #transport: Transport | undefined;
  #nextId = 0;
  #lastFullLog = 0;

  /** @param options The node id, the client limit, the clock and the logger. */
  constructor(options: HubOptions) {
    this.#options = options;
    const { config, metrics, clock } = options;
    this.#sendPath = {
      sendBufferBytes: config.SEND_BUFFER_BYTES,
      slowClientMs: config.SLOW_CLIENT_MS,
      stats: metrics.send,
      scheduler: new SendScheduler(clock),
    };
    this.#events = {
      onOpen: (conn) => this.admit(conn),
      onMessage: options.onMessage,
      onClose: (conn) => this.leave(conn),
    };
    this.#expiry = new ExpiryTimers(clock, config.REFRESH_NOTICE_S);
    this.#subscriptions = new Subscriptions({
      first: (filter) => this.#transport?.subscribe(filter),
      last: (filter) => this.#transport?.unsubscribe(filter),
      added: (conn, filter) => this.membership?.added?.(conn, filter),
      removed: (conn, filter) => this.membership?.removed?.(conn, filter),
    });
    this.local = {
      deliver: (topic, text) => this.#deliver(topic, text),
      broadcast: (text) => this.#broadcast(text),
      sendTo: (target, text) => this.#sendTo(target, text),
    };
  }

  /** Connects the hub to the other nodes (the transport is made after the hub, with its sink). */
  set transport(transport: Transport) {
    this.#transport = transport;
    for (const filter of this.#subscriptions.filters()) transport.subscribe(filter);
  }

  /** The number of connected clients. */
  get size(): number {
    return this.#connections.size;
  }

  /** The number of (filter, client) subscriptions on this node. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** The filters subscribed on this node, each with its number of local subscribers. */
  *topicCounts(): IterableIterator<[filter: string, subscribers: number]> {
    for (const filter of this.#subscriptions.filters()) {
      yield [filter, this.#subscriptions.count(filter)];
    }
  }

  /** The connected clients. */
  connections(): IterableIterator<Connection> {
    return this.#connections.values();
  }

  /**
   * Makes the connection of a socket, with an id unique across nodes (the node id and a
   * counter). Its socket's events then go to `conn.handleEvent`: the WebSocket upgrade adds it
   * as the listener; in-process tests call it with a fake socket.
   *
   * @param socket The socket.
   * @param client Its address, whether it batches, its role and its principal.
   * @returns The connection, not yet open.
   */
  attach(socket: SocketLike, client: NewClient): Connection {
    const id = `${this.#options.nodeId}-${(++this.#nextId).toString(36)}`;
    const conn = new Connection(id, socket, client.ip, this.#sendPath, client.batch);
    conn.src = client.src;
    conn.auth = client.auth;
    conn.events = this.#events;
    return conn;
  }

  /** Runs `hook` for every admitted connection, before its expiry is armed (the `subs` claim). */
  onJoin(hook: (conn: Connection) => void): void {
    this.#joinHooks.push(hook);
  }

  /**
   * Re-arms a connection's `expiring` notice and close from its principal (after a refresh).
   *
   * @param conn The connection, whose `auth` was just replaced.
   */
  renewExpiry(conn: Connection): void {
    if (this.#connections.has(conn)) this.#expiry.arm(conn);
  }

  /** Runs `hook` for every connection that leaves, after its subscriptions ended. */
  onLeave(hook: (conn: Connection) => void): void {
    this.#leaveHooks.push(hook);
  }

  /**
   * Takes in a connection whose socket opened, unless the node is full (then it gets a 503 and
   * is closed with 1013). Arms the close at its token's expiry.
   *
   * @returns Whether it was admitted.
   */
  admit(conn: Connection): boolean {
    const { config, clock, log, metrics } = this.#options;
    const { MAX_CLIENTS: maxClients, SERVER_SRC: serverSrc } = config;
    if (this.#connections.size >= maxClients) {
      metrics.connectionsRefused++;
      const now = clock.now();
      if (now - this.#lastFullLog > FULL_LOG_EVERY_MS) {
        this.#lastFullLog = now;
        log.warn(`Client limit reached (${maxClients}): refusing new clients`);
      }
      conn.send(replyText(serverSrc, undefined, undefined, {
        code: Code.UNAVAILABLE,
        msg: `Client limit reached (${maxClients})`,
      }));
      conn.close(1013, "Client limit reached");
      return false;
    }
    this.#connections.add(conn);
    metrics.connectionsTotal++;
    if (log.enabled("debug")) {
      log.debug("Client connected", { client: conn.id, ip: conn.ip, src: conn.src });
    }
    for (const hook of this.#joinHooks) hook(conn);
    if (conn.auth?.expiresAt !== undefined) this.#expiry.arm(conn);
    return true;
  }

  /**
   * Forgets a connection whose socket closed: its subscriptions end, then the leave hooks run.
   * Idempotent (a socket's close event can fire twice).
   *
   * @returns Whether it was admitted and is now gone.
   */
  leave(conn: Connection): boolean {
    if (conn.state === ConnectionState.Closed) return false;
    conn.state = ConnectionState.Closed;
    this.#expiry.forget(conn);
    this.#subscriptions.removeAll(conn);
    this.#sendPath.scheduler.forget(conn);
    const admitted = this.#connections.delete(conn);
    if (admitted && this.#options.log.enabled("debug")) {
      this.#options.log.debug("Client left", { client: conn.id, dropped: conn.dropped });
    }
    for (const hook of this.#leaveHooks) hook(conn);
    return admitted;
  }

  /**
   * Closes every connection (shutdown).
   *
   * @param code The close code.
   * @param reason The close reason.
   */
  closeAll(code: number, reason: string): void {
    for (const conn of this.#connections) conn.close(code, reason);
  }

  subscribe(conn: Connection, filter: string): boolean {
    return this.#subscriptions.add(conn, filter);
  }

  unsubscribe(conn: Connection, filter: string): boolean {
    return this.#subscriptions.remove(conn, filter);
  }

  filtersOf(conn: Connection): ReadonlySet<string> {
    return this.#subscriptions.of(conn);
  }

  /** Delivers a serialised publish here and hands the same string to the other nodes. */
  publish(topic: string, text: string): void {
    this.stats.published++;
    this.#deliver(topic, text);
    this.#transport?.publish(topic, text);
  }

  /** Sends a serialised message to every client of every node. */
  broadcast(text: string): void {
    this.#broadcast(text);
    this.#transport?.broadcast(text);
  }

  /** Sends a serialised message to the matching clients of every node. */
  sendTo(target: Target, text: string): void {
    this.#sendTo(target, text);
    this.#transport?.sendTo(target, text);
  }

  #deliver(topic: string, text: string): void {
    let n = 0;
    this.#subscriptions.match(topic, (conn) => {
      const held = conn.held;
      if (held !== undefined) {
        held.push(topic, text);
        n++;
      } else if (conn.send(text)) n++;
    });
    this.stats.delivered += n;
  }

  #broadcast(text: string): void {
    for (const conn of this.#connections) conn.send(text);
  }

  #sendTo(target: Target, text: string): void {
    for (const conn of this.#connections) if (targets(conn, target)) conn.send(text);
  }
}
