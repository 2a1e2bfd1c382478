/**
 * One Redis client and its reconnection, for lib/broker/redis_connection.ts.
 *
 * @module
 */
import type { RedisHandle } from "./redis_clients.ts";

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/** Why something failed, for a log line. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Creates a client with the given reconnect strategy (used by a plain client). */
export type Make = (strategy: (retries: number, cause: Error) => false) => RedisHandle;

/**
 * One client and its reconnection: back-off from 100 ms doubling to 2 s, plus jitter. A plain
 * client reconnects through its strategy; a Sentinel or Cluster client reconnects by itself once
 * connected, and a failed first connection is retried with a fresh client.
 */
export class RedisLink {
  /** For log lines: `command`, `subscriber`. */
  readonly name: string;
  readonly #lost: (link: RedisLink, cause: unknown) => void;
  #make: Make | undefined;
  #client: RedisHandle | undefined;
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
  get client(): RedisHandle | undefined {
    return this.#client;
  }

  /** True while the connection is up. */
  get ready(): boolean {
    return !this.#closed && this.#client?.ready === true;
  }

  /**
   * Starts connecting.
   *
   * @param make Creates a client with this link's reconnect strategy.
   */
  start(make: Make): void {
    if (this.#closed) return;
    this.#make = make;
    this.#fresh();
  }

  /** Drops the client and connects a new one (a stalled connection that looks up). */
  replace(): void {
    if (this.#closed || this.#make === undefined) return;
    this.#client?.destroy();
    this.#fresh();
  }

  /** Cancels a pending retry and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#attempt; // a connection attempt in progress ends connected or failed
    const client = this.#client;
    if (client === undefined) return;
    if (client.ready) await client.close().catch(() => client.destroy());
    else client.destroy();
  }

  #fresh(): void {
    clearTimeout(this.#timer);
    this.#client = this.#make!((_retries, cause) => this.#retry(cause));
    this.#connect();
  }

  #connect(): void {
    this.#timer = undefined;
    const client = this.#client!;
    if (this.#closed) return;
    this.#attempt = client.connect().then(() => void (this.#failures = 0), (err) => {
      if (this.#closed || client !== this.#client) return;
      client.destroy();
      this.#lost(this, err);
      this.#timer = setTimeout(() => this.#fresh(), this.#backoff());
    });
  }

  #backoff(): number {
    return Math.min(RETRY_MIN_MS * 2 ** this.#failures++, RETRY_MAX_MS) + Math.random() * 100;
  }

  /**
   * A plain client's reconnect strategy. It always answers "stop" and schedules the next attempt
   * itself, so close() can cancel a pending retry instead of waiting for the client's timer.
   */
  #retry(cause: unknown): false {
    if (this.#closed) return false;
    this.#lost(this, cause);
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#timer = setTimeout(() => {
      if (client === this.#client) this.#connect();
    }, this.#backoff());
    return false;
  }
}
