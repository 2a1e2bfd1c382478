/**
 * The shapes the SDK exchanges with the server (docs/protocol.md) and its options.
 *
 * @module
 */

/** A correlation id, echoed by the server. The SDK uses increasing numbers. */
export type MessageId = string | number;

/** Any message from the server: one JSON object. */
export interface Message {
  mode: string;
  action: string;
  src?: string;
  id?: MessageId;
  command?: string;
  topic?: string | string[];
  code?: number;
  msg?: string;
  data?: unknown;
  /** On replies: more replies follow. */
  more?: boolean;
  /** On progress replies: 0..100 (the old library's field name). */
  process?: number;
  /** On deliveries replayed on subscribe: the topic's retained value. */
  retained?: boolean;
  /** On publications of a topic with history: its offset (+1 per publication) and epoch. */
  offset?: number;
  epoch?: string;
  /** On publications sent again by a recovery. */
  recovered?: boolean;
  [key: string]: unknown;
}

/** A reply to a call (`action: "res"`); broadcasts and `sendTo` messages have this shape too. */
export interface Reply<T = unknown> extends Message {
  code: number;
  msg: string;
  data?: T;
}

/** The server's answer to sub, unsub and pub; `data` holds the client's current filters. */
export interface Ack extends Message {
  code: number;
  msg: string;
  data?: string[];
}

/** A publish delivered to a subscriber (`action: "pub"`), with the publisher's fields. */
export interface Delivery<T = unknown> extends Message {
  topic: string;
  code: number;
  msg: string;
  data?: T;
}

/** One connection present on a topic (`presence`). */
export interface PresenceEntry {
  /** The connection id. */
  client: string;
  /** The JWT `sub` of the connection, or null. */
  user: string | null;
  /** Its role, or null. */
  src: string | null;
  /** The JWT `info` claim, or null. */
  info: unknown;
}

/** The answer of `presenceStats`. */
export interface PresenceStats {
  /** Connections present. */
  clients: number;
  /** Distinct non-null users among them. */
  users: number;
}

/**
 * A presence change on a topic of a subscription made with `joinLeave`: another connection
 * joined or left, or (`sync`) more changed at once than the server lists (with the counts), or
 * changes were missed (without counts; `topic` is then the subscription's filter): read the list
 * again with `presence`.
 */
export type PresenceEvent =
  | { type: "join" | "leave"; topic: string; entry: PresenceEntry }
  | { type: "sync"; topic: string; joins?: number; leaves?: number };

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Called with the join and leave events of the presence topics the filters match (the server
   * sends them because the `sub` carries `"join_leave": true`); never about this client itself.
   */
  joinLeave?: (event: PresenceEvent) => void;
}

/** What `publish` sends besides the topic. */
export interface PublishOptions {
  /** Default 200. */
  code?: number;
  /** Default "". */
  msg?: string;
  data?: unknown;
  /** Keep as the topic's last value for later subscribers; with `data: null` it clears it. */
  retain?: boolean;
  /** A local time limit for the ack (408). */
  timeoutMs?: number;
}

/** Options of `call`. */
export interface CallOptions {
  /** Positional arguments (`args`). */
  args?: unknown[];
  /** Keyword arguments (`kwargs`). */
  kwargs?: Record<string, unknown>;
  /** Aborting rejects the call with the signal's reason (the server is not told). */
  signal?: AbortSignal;
  /** A local time limit: rejects with code 408 (default: the client's `timeoutMs`, else none). */
  timeoutMs?: number;
  /** Called for every reply that carries `process`, the final one included. */
  onProgress?: (percent: number, msg: string, reply: Reply) => void;
  /** Called for every intermediate reply (`more: true`). */
  onReply?: (reply: Reply) => void;
  /** Resolve with the whole final reply instead of its `data`. */
  fullReply?: boolean;
}

/** Options of `dialogue`. */
export type DialogueOptions = Pick<CallOptions, "args" | "kwargs" | "signal" | "timeoutMs">;

/** Back-off of reconnection attempts: the delay doubles from `minMs` up to `maxMs`, with jitter. */
export interface ReconnectOptions {
  /** The first delay (default 500). */
  minMs?: number;
  /** The largest delay (default 5000). */
  maxMs?: number;
}

/** Options of `connect`. */
export interface ConnectOptions {
  /** The client's role, sent as `?src=` and in every message (default "front"). */
  src?: string;
  /** Ask for several messages per frame (`?batch=1`, default true). */
  batch?: boolean;
  /** Sent as `?token=`; a function is called before every connection (to refresh a JWT). */
  token?: string | (() => string | Promise<string>);
  /**
   * Where a JWT comes from: called before every connection and on the server's `expiring`
   * notice, whose new token is sent as a `refresh` so the connection lives on. Wins over `token`.
   */
  getToken?: () => string | Promise<string>;
  /** Reconnect after a drop (default `{ minMs: 500, maxMs: 5000 }`); `false` to stay closed. */
  reconnect?: ReconnectOptions | false;
  /** The default local time limit of calls and acks, in ms (default none: the server's applies). */
  timeoutMs?: number;
  /** Give up a connection attempt that has not opened after this long (default 10000). */
  openTimeoutMs?: number;
  /** Most messages held while not connected; more are rejected with 503 (default 1000). */
  maxQueue?: number;
  /** The WebSocket class to use (default the global one): for tests and other runtimes. */
  WebSocket?: new (url: string) => WebSocket;
}

/** The connection's state. */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

/** The client's events and what their listeners get. */
export interface ClientEvents {
  /** The socket opened (again): subscriptions are being restored and the queue was sent. */
  open: { reconnected: boolean };
  /** A socket closed (or an attempt failed); `error` says why when the socket knows. */
  close: { code: number; reason: string; willReconnect: boolean; error?: string };
  /** A reconnection attempt is scheduled. */
  reconnect: { attempt: number; delayMs: number };
  /** Something failed that no promise reports: a socket error, a bad frame, a refused `sub`. */
  error: Error;
  /** An unsolicited message: a broadcast, a `sendTo` message, a reply nobody waits for. */
  message: Message;
  /** A token refresh answered by the server (`exp`, seconds) or refused (`error`). */
  refresh: { exp?: number; error?: Error };
  /**
   * A recovery finished (after a reconnect, or a gap in a topic's offsets). `recovered: false`:
   * something published on these filters could not be brought back (history expired or
   * trimmed, more missed than the server's cap, the server restarted): reload the state.
   */
  recovery: { recovered: boolean; filters: string[] };
}
