/**
 * One client: its state, who it is, and its send path with the slow-consumer guard and batching.
 * Knows nothing of Deno's WebSocket (server.ts adapts it), of commands or of subscriptions: the
 * dispatcher owns a connection's running commands, the hub its subscriptions.
 */
import type { Principal } from "./auth.ts";
import type { TokenBucket } from "./rate_limit.ts";
import type { Scheduled, SendScheduler } from "./send_scheduler.ts";

/** The part of a WebSocket a connection uses (server.ts passes Deno's). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  readonly bufferedAmount: number;
}

/** A connection's life: open until it starts closing, then closed for good. */
export enum ConnectionState {
  Open,
  Closing,
  Closed,
}

/** Counters the server reads for /metrics. */
export interface SendStats {
  sent: number;
  dropped: number;
  slowClosed: number;
}

/** What every connection of one server shares on its send path (one object, not one each). */
export interface SendPath {
  /** Bytes that may wait in the socket's buffer before deliveries are dropped. */
  readonly sendBufferBytes: number;
  /** How long a client may stay over the budget before it is closed with 1013. */
  readonly slowClientMs: number;
  /** Server-wide counters. */
  readonly stats: SendStats;
  /** The server's send-path timers. */
  readonly scheduler: SendScheduler;
}

/** Where a connection's socket events go (the server wires them). */
export interface ConnectionEvents {
  onOpen(conn: Connection): void;
  onMessage(conn: Connection, data: unknown): void;
  onClose(conn: Connection): void;
}

/** One connected client. */
export class Connection implements Scheduled {
  state = ConnectionState.Open;
  /** The role the client named (`?src=` or its first message's `src`). */
  src: string | undefined;
  /** The authenticated principal with its permissions, when auth is on. */
  auth: Principal | undefined;
  /** The per-connection rate limit, made at the first message when RATE_LIMIT is on. */
  bucket: TokenBucket | undefined;
  /** Receives this connection's socket events. */
  events: ConnectionEvents | undefined;
  /** Deliveries dropped because the client did not read. */
  dropped = 0;
  /** False for a client that cannot answer `ctx.recv()` (the backend HTTP API). */
  dialogue = true;
  /**
   * While set, the hub appends this client's deliveries here (topic, text, topic, text…) instead
   * of sending them: history holds them during a recovery (lib/pubsub/history_hold.ts).
   */
  held: string[] | undefined;
  #overSince = 0;
  /** Messages joined for a batching client, waiting for the socket to finish writing. */
  #pending: string | undefined;
  #pendingBytes = 0;

  /**
   * @param id The server-assigned id, unique across nodes.
   * @param socket The socket, adapted.
   * @param ip The remote address.
   * @param path The send limits, counters and timers every connection of the server shares.
   * @param batch Whether the client opted in to several messages per frame.
   */
  constructor(
    readonly id: string,
    readonly socket: SocketLike,
    readonly ip: string,
    readonly path: SendPath,
    readonly batch = false,
  ) {}

  /** The authenticated principal's id, when auth is on. */
  get principal(): string | undefined {
    return this.auth?.id;
  }

  /**
   * Routes the socket's events without a closure per event and connection.
   *
   * @param event An open, message, close or error event of this connection's socket.
   */
  handleEvent(event: Event): void {
    const events = this.events;
    if (events === undefined) return;
    if (event.type === "message") events.onMessage(this, (event as MessageEvent).data);
    else if (event.type === "open") events.onOpen(this);
    else if (event.type === "close") events.onClose(this);
    // "error" is always followed by "close", which does the cleanup.
  }

  /**
   * Sends one serialised message, unless the client is gone or too far behind.
   * Never waits: a client that does not read has its deliveries dropped, then is closed.
   *
   * @param text One JSON message.
   * @returns Whether it was handed to the socket.
   */
  send(text: string): boolean {
    if (this.state !== ConnectionState.Open) return false;
    const path = this.path;
    const buffered = this.socket.bufferedAmount;
    if (buffered + this.#pendingBytes > path.sendBufferBytes) return this.#overBudget();
    if (this.#overSince !== 0) this.#overSince = 0;
    path.stats.sent++;
    if (this.batch) {
      // Everything produced for this client in one turn leaves in one frame at its end (and
      // what comes while its socket is still writing earlier bytes joins that frame).
      if (this.#pending === undefined) {
        this.#pending = text;
        this.#pendingBytes = text.length;
        path.scheduler.scheduleFlush(this);
      } else {
        this.#pending += "\n" + text;
        this.#pendingBytes += text.length + 1;
      }
      return true;
    }
    this.socket.send(text);
    return true;
  }

  /**
   * Sends the joined messages unless the socket is still writing earlier bytes (the scheduler
   * calls it at the end of the turn, then again until the socket has written them).
   *
   * @returns Whether nothing is left waiting.
   */
  flush(): boolean {
    if (this.#pending === undefined) return true;
    if (this.state !== ConnectionState.Open) {
      this.#pending = undefined;
      this.#pendingBytes = 0;
      return true;
    }
    if (this.socket.bufferedAmount > 0) return false;
    const text = this.#pending;
    this.#pending = undefined;
    this.#pendingBytes = 0;
    this.socket.send(text);
    return true;
  }

  #overBudget(): false {
    this.dropped++;
    this.path.stats.dropped++;
    const now = this.path.scheduler.clock.now();
    if (this.#overSince === 0) {
      this.#overSince = now;
      this.path.scheduler.watchSlow(this);
    } else this.checkSlow(now);
    return false;
  }

  /**
   * Closes the client with 1013 when it has stayed over its send budget for SLOW_CLIENT_MS, even
   * if nothing more is sent to it (the scheduler calls this).
   *
   * @param now The time in ms.
   * @returns Whether the client no longer needs watching (caught up, or closed).
   */
  checkSlow(now: number): boolean {
    if (this.state !== ConnectionState.Open || this.#overSince === 0) return true;
    if (this.socket.bufferedAmount + this.#pendingBytes <= this.path.sendBufferBytes) {
      this.#overSince = 0;
      return true;
    }
    if (now - this.#overSince <= this.path.slowClientMs) return false;
    this.path.stats.slowClosed++;
    this.close(1013, "Too slow: messages were dropped");
    return true;
  }

  /**
   * Starts closing: no more sends. The hub ends its subscriptions and the dispatcher its commands
   * when the socket's close event arrives.
   *
   * @param code The WebSocket close code.
   * @param reason A short reason for the client.
   */
  close(code = 1000, reason = ""): void {
    if (this.state !== ConnectionState.Open) return;
    this.state = ConnectionState.Closing;
    try {
      this.socket.close(code, reason);
    } catch {
      // Already closed by the peer: nothing to do.
    }
  }
}
