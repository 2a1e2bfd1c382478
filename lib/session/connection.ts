/**
 * One client: its state, its send path with the slow-consumer guard, its subscriptions and the
 * bookkeeping of its running commands. Knows nothing of Deno's WebSocket: server.ts adapts it.
 */
import type { ClientMessage, MessageId } from "../wire/protocol.ts";
import type { ClientInfo } from "../commands/command.ts";
import type { Principal } from "./auth.ts";
import type { TokenBucket } from "./rate_limit.ts";

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

/** The send limits of one connection. */
export interface SendLimits {
  /** Bytes that may wait in the socket's buffer before deliveries are dropped. */
  sendBufferBytes: number;
  /** How long a client may stay over the budget before it is closed with 1013. */
  slowClientMs: number;
}

/** What a running command leaves on its connection, so dialogue messages can find it. */
export interface RunningCommand {
  /** Hands the handler a message of its dialogue. */
  deliver(msg: ClientMessage): void;
  /** Ends the command because the client left or the server shuts down. */
  cancel(reason: unknown): void;
  /** True while the handler waits in `recv()` (for clients without ids). */
  readonly waiting: boolean;
}

/** Where a connection's socket events go (the server). */
export interface ConnectionEvents {
  onOpen(conn: Connection): void;
  onMessage(conn: Connection, data: unknown): void;
  onClose(conn: Connection): void;
}

/** Counters the server reads for /metrics. */
export interface SendStats {
  sent: number;
  dropped: number;
  slowClosed: number;
}

let nextId = 0;
/** Makes connection ids unique across nodes too, so `sendTo({ id })` reaches one client. */
const NODE_TAG = crypto.randomUUID().slice(0, 8);

/** Clients over their send budget; one timer closes those that stay over it too long. */
const slow = new Set<Connection>();
let slowTimer: ReturnType<typeof setTimeout> | undefined;
const SLOW_CHECK_MS = 100;

function watchSlow(conn: Connection): void {
  slow.add(conn);
  slowTimer ??= setTimeout(checkSlowClients, SLOW_CHECK_MS);
}

function checkSlowClients(): void {
  slowTimer = undefined;
  const now = Date.now();
  for (const conn of slow) if (conn.checkSlow(now)) slow.delete(conn);
  if (slow.size > 0) slowTimer = setTimeout(checkSlowClients, SLOW_CHECK_MS);
}

/** Forgets a closed connection in the watches, stopping their timers when none is left. */
export function forgetConnection(conn: Connection): void {
  if (slow.delete(conn) && slow.size === 0) {
    clearTimeout(slowTimer);
    slowTimer = undefined;
  }
  if (waiting.delete(conn) && waiting.size === 0) {
    clearTimeout(flushTimer);
    flushTimer = undefined;
  }
}

/** Batching clients with joined messages waiting; one timer checks them all. */
const waiting = new Set<Connection>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function scheduleFlush(conn: Connection): void {
  waiting.add(conn);
  flushTimer ??= setTimeout(flushWaiting, 0);
}

function flushWaiting(): void {
  flushTimer = undefined;
  for (const conn of waiting) if (conn.flush()) waiting.delete(conn);
  if (waiting.size > 0) flushTimer = setTimeout(flushWaiting, 0);
}

/** One connected client. */
export class Connection implements ClientInfo {
  /** Server-assigned id, unique across nodes (a random node tag and a counter). */
  readonly id: string;
  state = ConnectionState.Open;
  src: string | undefined;
  /** The authenticated principal with its permissions, when auth is on. */
  auth: Principal | undefined;
  // Collections are made on first use: an idle client costs only this object (see docs/benchmarks.md).
  #topics: Set<string> | undefined;
  #running: Map<MessageId, RunningCommand> | undefined;
  /** The running command without id: later messages without id wait behind it. */
  serial: RunningCommand | null = null;
  /** Messages without id waiting for `serial` to finish. */
  readonly serialQueue: ClientMessage[] = [];
  /** Receives this connection's socket events. */
  events: ConnectionEvents | undefined;
  /** The per-connection rate limit, made at the first message when RATE_LIMIT is on. */
  bucket: TokenBucket | undefined;
  /** Closes the socket when the client's token expires. */
  expiry: ReturnType<typeof setTimeout> | undefined;
  /** Deliveries dropped because the client did not read. */
  dropped = 0;
  #overSince = 0;
  /** Messages joined for a batching client, waiting for the socket to finish writing. */
  #pending: string | undefined;
  #pendingBytes = 0;

  /** The authenticated principal's id, when auth is on. */
  get principal(): string | undefined {
    return this.auth?.id;
  }

  /** The topic filters this client subscribes to. */
  get topics(): Set<string> {
    return this.#topics ??= new Set();
  }

  /** Running commands with an id, by id: dialogue messages go to them. */
  get running(): Map<MessageId, RunningCommand> {
    return this.#running ??= new Map();
  }

  /** How many commands run on this connection (with or without id). */
  get runningCount(): number {
    return (this.#running?.size ?? 0) + (this.serial === null ? 0 : 1);
  }

  /** Whether the client subscribes to anything. */
  get subscribed(): boolean {
    return this.#topics !== undefined && this.#topics.size > 0;
  }

  /**
   * Routes the socket's events to the server without a closure per event and connection.
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
   * @param socket The socket, adapted.
   * @param ip The remote address.
   * @param limits The send budget.
   * @param stats Server-wide counters this connection adds to.
   * @param batch Whether the client opted in to several messages per frame.
   */
  constructor(
    readonly socket: SocketLike,
    readonly ip: string,
    readonly limits: SendLimits,
    readonly stats: SendStats,
    readonly batch = false,
  ) {
    this.id = `${NODE_TAG}-${(++nextId).toString(36)}`;
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
    const buffered = this.socket.bufferedAmount;
    if (buffered + this.#pendingBytes > this.limits.sendBufferBytes) return this.#overBudget();
    if (this.#overSince !== 0) this.#overSince = 0;
    this.stats.sent++;
    if (this.batch) {
      // Join what waits for this client: messages of the same turn, or sent while the socket is
      // still writing earlier bytes. The first message of an idle socket goes at once.
      if (this.#pending !== undefined) {
        this.#pending += "\n" + text;
        this.#pendingBytes += text.length + 1;
        return true;
      }
      if (buffered > 0) {
        this.#pending = text;
        this.#pendingBytes = text.length;
        scheduleFlush(this);
        return true;
      }
    }
    this.socket.send(text);
    return true;
  }

  /**
   * Sends the joined messages once the socket has written what it had (the batch flusher calls it).
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
    this.stats.dropped++;
    if (this.#overSince === 0) {
      this.#overSince = Date.now();
      watchSlow(this);
    } else this.checkSlow(Date.now());
    return false;
  }

  /**
   * Closes the client with 1013 when it has stayed over its send budget for SLOW_CLIENT_MS, even
   * if nothing more is sent to it (the slow-client watch calls this).
   *
   * @param now The time in ms.
   * @returns Whether the client no longer needs watching (caught up, or closed).
   */
  checkSlow(now: number): boolean {
    if (this.state !== ConnectionState.Open || this.#overSince === 0) return true;
    if (this.socket.bufferedAmount + this.#pendingBytes <= this.limits.sendBufferBytes) {
      this.#overSince = 0;
      return true;
    }
    if (now - this.#overSince <= this.limits.slowClientMs) return false;
    this.stats.slowClosed++;
    this.close(1013, "Too slow: messages were dropped");
    return true;
  }

  /**
   * Starts closing: no more sends; running commands are cancelled by the server's close handler.
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
