/**
 * The Redis connections of one node, shared by the Redis transport and the Redis store (and the
 * history and presence stores): one command client for all (so a retained value and the live
 * publish after it stay in order), plus the transport's subscriber client. It works on one Redis,
 * on Sentinel and on Cluster alike (lib/broker/redis_clients.ts). This module owns what the users
 * have in common: loading the client, connecting and reconnecting with back-off, refusing commands
 * at once while Redis is away (counted in `dropped`), scripts run by EVALSHA on the node that holds
 * their key, and warnings throttled to one per kind every 5 s.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { createHandle, type RedisHandle } from "./redis_clients.ts";
import { reason, RedisLink } from "./redis_link.ts";
import { parseBrokerUrl, type RedisTarget } from "./redis_url.ts";

export type { RedisHandle } from "./redis_clients.ts";
export { reason, RedisLink } from "./redis_link.ts";

/**
 * Commands waiting for Redis beyond this many are refused (counted as dropped), so a slow Redis
 * cannot grow memory without bound; a burst of this size drains in well under a second.
 */
export const QUEUE_LIMIT = 100_000;
const CONNECT_TIMEOUT_MS = 3000;
const LOG_EVERY_MS = 5000;
/** While the command path of Sentinel or Cluster fails, a PING this often finds it back. */
const CHECK_MS = 250;

/** Options of {@linkcode RedisConnection}. */
export interface RedisConnectionOptions {
  /** Where connection problems go (one line per kind every 5 s at most). */
  log: Logger;
}

/**
 * The connections to one Redis deployment for one node. Each user (transport, store) calls
 * `use()` once and `release()` when it closes; the last release closes every connection.
 *
 * @example
 * ```ts
 * const redis = new RedisConnection("redis+sentinel://h1:26379,h2:26379/main?prefix=app", { log });
 * redis.use();
 * redis.sender()?.publish("app:b", "hello");
 * await redis.release();
 * ```
 */
export class RedisConnection {
  /** The key and channel namespace, `<prefix>:`. */
  readonly namespace: string;
  /** The addresses, for log lines (never a password). */
  readonly where: string;
  /** `single`, `sentinel` or `cluster`. */
  readonly mode: RedisTarget["mode"];
  /** The shared command connection. */
  readonly command: RedisLink;
  /** Commands refused or failed: not sent to Redis (publishes and retained values alike). */
  dropped = 0;

  readonly #log: Logger;
  readonly #target: RedisTarget;
  #module: Promise<typeof import("redis") | undefined> | undefined;
  readonly #links: RedisLink[] = [];
  readonly #onReady = new Set<() => void>();
  readonly #logged = new Map<string, { at: number; suppressed: number }>();
  readonly #shas = new Map<string, string>();
  #users = 0;
  #closing: Promise<void> | undefined;
  #up = false;
  /** Sentinel and Cluster: a command failed; commands are refused until a PING answers. */
  #failing = false;
  #check: ReturnType<typeof setTimeout> | undefined;
  #errorReply: (typeof import("redis"))["ErrorReply"] | undefined;

  /**
   * @param url BROKER_URL (any Redis topology, optional `?prefix=name`, default "sb").
   * @param options The logger.
   * @throws {StartupError} On a bad URL (see `parseBrokerUrl`).
   */
  constructor(url: string, options: RedisConnectionOptions) {
    this.#target = parseBrokerUrl(url);
    this.namespace = `${this.#target.prefix}:`;
    this.where = this.#target.where;
    this.mode = this.#target.mode;
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

  /** True while commands are sent (the command client is up and not known to fail). */
  get writable(): boolean {
    return this.command.ready && !this.#failing;
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

  /** The command client if it is up; otherwise counts a drop and warns. */
  sender(): RedisHandle | undefined {
    if (this.writable) return this.command.client;
    this.dropped++;
    this.warn("down", "Redis is unavailable: publishes and retained values stay on this node");
    return undefined;
  }

  /**
   * Runs a Lua script by EVALSHA (EVAL the first time, and again when Redis answers NOSCRIPT),
   * on the node that holds its first key. Every key must be in one hash slot (`{…}` hash tags).
   *
   * @param client The command client from {@linkcode sender}.
   * @param script The Lua source.
   * @param keys The keys it touches.
   * @param args Its arguments.
   */
  eval(client: RedisHandle, script: string, keys: string[], args: string[]): Promise<unknown> {
    // Sent at once (no await before it), so it keeps its place among this node's commands.
    const tail = [String(keys.length), ...keys, ...args];
    const sha = this.#shas.get(script);
    if (sha === undefined) {
      crypto.subtle.digest("SHA-1", new TextEncoder().encode(script)).then((bytes) => {
        const hex = [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0"));
        this.#shas.set(script, hex.join(""));
      });
      return client.run(["EVAL", script, ...tail], keys[0]);
    }
    return client.run(["EVALSHA", sha, ...tail], keys[0]).catch((err) => {
      // A new master after a failover, or a restarted Redis, has not seen the script yet.
      if (!reason(err).startsWith("NOSCRIPT")) throw err;
      return client.run(["EVAL", script, ...tail], keys[0]);
    });
  }

  /** For a command's rejection: counts a drop, warns, and on Sentinel or Cluster stops sending. */
  readonly onSendError = (err: unknown): void => {
    this.dropped++;
    this.warn("send", `Redis command failed: ${reason(err)}`);
    // An error reply (a script's error, say) is an answer: the path works.
    if (!(this.#errorReply !== undefined && err instanceof this.#errorReply)) this.#markFailing();
  };

  /** Sentinel and Cluster: stops sending until a PING answers. */
  #markFailing(): void {
    if (this.mode !== "single" && !this.#failing && this.#closing === undefined) {
      this.#failing = true;
      this.#check = setTimeout(this.#ping, CHECK_MS);
    }
  }

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

  readonly #ping = (): void => {
    if (this.#closing !== undefined) return;
    const client = this.command.client;
    const again = () => void (this.#check = setTimeout(this.#ping, CHECK_MS));
    if (client === undefined || !client.ready) return again();
    client.run(["PING"]).then(() => {
      this.#failing = false;
      for (const listener of this.#onReady) listener();
    }, again);
  };

  #start(link: RedisLink, onReady?: () => void): void {
    // Loaded lazily so that single-node servers do not pay for the client's start-up.
    this.#module ??= import("redis").catch((err) => {
      this.#log.error(`Cannot load the Redis client: ${reason(err)}`);
      return undefined;
    });
    this.#module.then((mod) => {
      if (mod === undefined || this.#closing !== undefined) return;
      this.#errorReply = mod.ErrorReply;
      const ready = () => {
        onReady?.();
        for (const listener of this.#onReady) listener();
      };
      link.start((reconnectStrategy) => {
        const handle = createHandle(mod, this.#target, {
          queueLimit: QUEUE_LIMIT,
          connectTimeout: CONNECT_TIMEOUT_MS,
          reconnectStrategy,
          onReady: ready,
          onDown: () => this.#markFailing(),
        });
        handle.onError(this.#onClientError);
        if (this.mode !== "single") {
          const connect = handle.connect.bind(handle);
          handle.connect = () => connect().then(ready);
        }
        return handle;
      });
    });
  }

  async #close(): Promise<void> {
    clearTimeout(this.#check);
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
