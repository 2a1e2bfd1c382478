/**
 * The Redis connections of one node, shared by the Redis transport and the Redis store: one
 * command connection for both (so a retained value and the live publish after it stay in order),
 * plus the transport's subscriber connection. This module owns what the two have in common:
 * loading the client, connecting and reconnecting with back-off, refusing commands at once while
 * Redis is away (counted in `dropped`), and warnings throttled to one per kind every 5 s.
 *
 * @module
 */
import type { createClient } from "redis";
import type { Logger } from "../log.ts";
import { parseRedisUrl } from "./redis_channels.ts";

/** A node-redis client. */
export type RedisClient = ReturnType<typeof createClient>;

/**
 * Commands waiting for Redis beyond this many are refused (counted as dropped), so a slow Redis
 * cannot grow memory without bound; a burst of this size drains in well under a second.
 */
export const QUEUE_LIMIT = 100_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const CONNECT_TIMEOUT_MS = 3000;
const LOG_EVERY_MS = 5000;

/** Why something failed, for a log line. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One connection and its reconnection: back-off from 100 ms doubling to 2 s, plus jitter. */
export class RedisLink {
  /** For log lines: `command`, `subscriber`. */
  readonly name: string;
  readonly #lost: (link: RedisLink, cause: unknown) => void;
  #client: RedisClient | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt: Promise<void> | undefined;
  #failures = 0;
  #closed = false;

  /**
   * @param name For log lines.
   * @param lost Called on each failed connection or lost connection, before the next attempt.
   */
  constructor(name: string, lost: (link: RedisLink, cause: unknown) => void) {
    this.name = name;
    this.#lost = lost;
  }

  /** The client, once started. */
  get client(): RedisClient | undefined {
    return this.#client;
  }

  /** True while the connection is up. */
  get ready(): boolean {
    return !this.#closed && this.#client?.isReady === true;
  }

  /**
   * Starts connecting.
   *
   * @param make Creates the client with this link's reconnect strategy.
   */
  start(make: (strategy: (retries: number, cause: Error) => false) => RedisClient): void {
    if (this.#closed) return;
    this.#client = make((_retries, cause) => this.#retry(cause));
    this.#connect();
  }

  /** Cancels a pending retry and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#attempt; // a connection attempt in progress ends connected or failed
    const client = this.#client;
    if (client === undefined || !client.isOpen) return;
    if (client.isReady) await client.close();
    else client.destroy();
  }

  #connect(): void {
    this.#timer = undefined;
    const client = this.#client!;
    if (this.#closed || client.isOpen) return;
    this.#attempt = client.connect().then(() => void (this.#failures = 0), () => {});
  }

  /**
   * The client's reconnect strategy. It always answers "stop" and schedules the next attempt
   * itself, so close() can cancel a pending retry instead of waiting for the client's timer.
   */
  #retry(cause: unknown): false {
    if (this.#closed) return false;
    this.#lost(this, cause);
    clearTimeout(this.#timer);
    const backoff = Math.min(RETRY_MIN_MS * 2 ** this.#failures++, RETRY_MAX_MS);
    this.#timer = setTimeout(() => this.#connect(), backoff + Math.random() * 100);
    return false;
  }
}

/** Options of {@linkcode RedisConnection}. */
export interface RedisConnectionOptions {
  /** Where connection problems go (one line per kind every 5 s at most). */
  log: Logger;
}

/**
 * The connections to one Redis for one node. Each user (transport, store) calls `use()` once and
 * `release()` when it closes; the last release closes every connection.
 *
 * @example
 * ```ts
 * const redis = new RedisConnection("redis://127.0.0.1:6379/?prefix=app", { log });
 * redis.use();
 * redis.sender()?.publish("app:b", "hello");
 * await redis.release();
 * ```
 */
export class RedisConnection {
  /** The key and channel namespace, `<prefix>:`. */
  readonly namespace: string;
  /** `host:port`, for log lines. */
  readonly where: string;
  /** The shared command connection. */
  readonly command: RedisLink;
  /** Commands refused or failed: not sent to Redis (publishes and retained values alike). */
  dropped = 0;

  readonly #log: Logger;
  readonly #url: string;
  #module: Promise<typeof import("redis") | undefined> | undefined;
  readonly #links: RedisLink[] = [];
  readonly #onReady = new Set<() => void>();
  readonly #logged = new Map<string, { at: number; suppressed: number }>();
  #users = 0;
  #closing: Promise<void> | undefined;
  #up = false;

  /**
   * @param url BROKER_URL (`redis://…` or `rediss://…`, optional `?prefix=name`, default "sb").
   * @param options The logger.
   * @throws {StartupError} On a bad URL (see `parseRedisUrl`).
   */
  constructor(url: string, options: RedisConnectionOptions) {
    const parsed = parseRedisUrl(url);
    this.namespace = `${parsed.prefix}:`;
    this.where = parsed.where;
    this.#url = parsed.url;
    this.#log = options.log;
    this.command = new RedisLink("command", this.#lost);
    this.#links.push(this.command);
  }

  /** Registers a user; each must call {@linkcode release} once. The first one connects. */
  use(): void {
    if (this.#users++ === 0 && this.#closing === undefined) this.#start(this.command);
  }

  /** Unregisters a user; the last one closes every connection. */
  release(): Promise<void> {
    if (--this.#users > 0) return Promise.resolve();
    return this.#closing ??= this.#close();
  }

  /** Calls `listener` each time a connection becomes ready. */
  onReady(listener: () => void): void {
    this.#onReady.add(listener);
  }

  /**
   * Opens one more connection, reconnected like the others.
   *
   * @param name For log lines.
   * @param onReady Called on each (re)connection, before the `onReady` listeners.
   * @returns The connection; its client appears once the client module is loaded.
   */
  open(name: string, onReady?: () => void): RedisLink {
    const link = new RedisLink(name, this.#lost);
    this.#links.push(link);
    this.#start(link, onReady);
    return link;
  }

  /** The command connection if it is up; otherwise counts a drop and warns. */
  sender(): RedisClient | undefined {
    if (this.command.ready) return this.command.client;
    this.dropped++;
    this.warn("down", "Redis is unavailable: publishes and retained values stay on this node");
    return undefined;
  }

  /** For a command's rejection: counts a drop and warns. */
  readonly onSendError = (err: unknown): void => {
    this.dropped++;
    this.warn("send", `Redis command failed: ${reason(err)}`);
  };

  /** Logs once that Redis is reachable, when the caller's state is complete (once per outage). */
  announce(fields: Record<string, unknown>): void {
    if (this.#up) return;
    this.#up = true;
    this.#log.info(`Connected to Redis at ${this.where}`, fields);
  }

  /** Logs a warning at most once every 5 s per kind, with the count it held back. */
  warn(kind: string, msg: string): void {
    const now = Date.now();
    const last = this.#logged.get(kind);
    if (last !== undefined && now - last.at < LOG_EVERY_MS) {
      last.suppressed++;
      return;
    }
    const held = last?.suppressed ?? 0;
    this.#logged.set(kind, { at: now, suppressed: 0 });
    this.#log.warn(held > 0 ? `${msg} (${held} more since the last report)` : msg);
  }

  #start(link: RedisLink, onReady?: () => void): void {
    // Loaded lazily so that single-node servers do not pay for the client's start-up.
    this.#module ??= import("redis").catch((err) => {
      this.#log.error(`Cannot load the Redis client: ${reason(err)}`);
      return undefined;
    });
    this.#module.then((mod) => {
      if (mod === undefined || this.#closing !== undefined) return;
      link.start((reconnectStrategy) => {
        const client = mod.createClient({
          url: this.#url,
          disableOfflineQueue: true,
          commandsQueueMaxLength: QUEUE_LIMIT,
          socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy },
        });
        client.on("error", this.#onClientError);
        client.on("ready", () => {
          onReady?.();
          for (const listener of this.#onReady) listener();
        });
        return client;
      });
    });
  }

  async #close(): Promise<void> {
    await this.#module; // a link not started yet stays so
    await Promise.all(this.#links.map((link) => link.close()));
  }

  readonly #onClientError = (err: unknown): void => {
    if (this.#log.enabled("debug")) this.#log.debug(`Redis client: ${reason(err)}`);
  };

  /** A connection failed or was lost: says so once, then at most every 5 s. */
  readonly #lost = (link: RedisLink, cause: unknown): void => {
    if (this.#closing !== undefined) return;
    if (this.#up) {
      this.#up = false;
      this.#logged.set("connect", { at: Date.now(), suppressed: 0 }); // the other link fails too
      this.#log.warn(
        `Lost the Redis connection to ${this.where} (${link.name}): ${
          reason(cause)
        }; local traffic continues, reconnecting`,
      );
    } else {
      this.warn("connect", `Cannot reach Redis at ${this.where}: ${reason(cause)}; retrying`);
    }
  };
}
