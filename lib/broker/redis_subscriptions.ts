/**
 * The Redis subscriptions of one node's subscriber connection, for the Redis transport: which
 * channels (`c:<name>`) and patterns (`p:<glob>`) are wanted, by how many filters each (derived
 * from the transport's subscribe and unsubscribe calls), and making Redis match after each
 * (re)connection.
 *
 * @module
 */
import type { Listener } from "./redis_clients.ts";
import { reason, type RedisConnection, type RedisLink } from "./redis_connection.ts";

/** Options of {@linkcode SubscriptionSet}. */
export interface SubscriptionSetOptions {
  /** Where the subscribed messages go. */
  listener: Listener;
  /** A subscription Redis confirmed (after `want`, or after a resync for every key). */
  confirmed(key: string): void;
  /** Every wanted subscription is confirmed after a (re)connection. */
  synced(): void;
}

/** The wanted subscriptions and the subscriber connection that holds them. */
export class SubscriptionSet {
  /** The subscriber connection. */
  readonly link: RedisLink;
  readonly #redis: RedisConnection;
  readonly #options: SubscriptionSetOptions;
  /** Wanted Redis subscriptions → how many filters need each. */
  readonly #wanted = new Map<string, number>();
  readonly #inflight = new Set<Promise<unknown>>();
  #synced = false;
  #epoch = 0;
  #closed = false;

  constructor(redis: RedisConnection, options: SubscriptionSetOptions) {
    this.#redis = redis;
    this.#options = options;
    this.link = redis.open("subscriber", () => this.#resync());
  }

  /** True once every wanted subscription is confirmed since the last (re)connection. */
  get synced(): boolean {
    return this.#synced && this.link.ready;
  }

  /** Whether a key is wanted. */
  has(key: string): boolean {
    return this.#wanted.has(key);
  }

  /** One more filter needs the key; true when it is the first. */
  want(key: string): boolean {
    const n = this.#wanted.get(key) ?? 0;
    this.#wanted.set(key, n + 1);
    if (n === 0) this.#apply(key, true);
    return n === 0;
  }

  /** One filter less needs the key; true when it was the last. */
  unwant(key: string): boolean {
    const n = this.#wanted.get(key);
    if (n === undefined) return false;
    if (n > 1) {
      this.#wanted.set(key, n - 1);
      return false;
    }
    this.#wanted.delete(key);
    this.#apply(key, false);
    return true;
  }

  /** Drops the subscriber connection for a new one (a stall), which subscribes everything. */
  replace(): void {
    this.#synced = false;
    this.link.replace();
  }

  /** Resolves once every subscribe and unsubscribe sent so far is confirmed by Redis. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** Closes the subscriber connection. */
  close(): Promise<void> {
    this.#closed = true;
    return this.link.close();
  }

  /** Sends one (un)subscribe now if connected; otherwise #resync does it on reconnection. */
  #apply(key: string, on: boolean): void {
    const sub = this.link.client;
    if (sub === undefined || !sub.ready || this.#closed) return;
    const kind = key[0] as "c" | "p";
    const names = [key.slice(2)];
    const { listener } = this.#options;
    const op = on ? sub.listen(kind, names, listener) : sub.unlisten(kind, names, listener);
    this.#track(op).then(() => {
      if (on && this.#wanted.has(key)) this.#options.confirmed(key);
    }, () => {});
  }

  #track(op: Promise<unknown>): Promise<unknown> {
    this.#inflight.add(op);
    op.then(() => this.#inflight.delete(op), (err) => {
      this.#inflight.delete(op);
      if (this.link.ready) {
        this.#redis.warn("subscribe", `Redis (un)subscribe failed: ${reason(err)}`);
      }
    });
    return op;
  }

  /**
   * Makes Redis's subscriptions match #wanted after a (re)connection: a plain client re-subscribes
   * only what Redis had confirmed, so a change made while the connection was down is made here.
   */
  #resync(): void {
    const sub = this.link.client!;
    this.#synced = false;
    const epoch = ++this.#epoch;
    const { listener } = this.#options;
    const wanted = { c: [] as string[], p: [] as string[] };
    for (const key of this.#wanted.keys()) wanted[key[0] as "c" | "p"].push(key.slice(2));
    const ops: Promise<unknown>[] = [];
    for (const kind of ["c", "p"] as const) {
      if (wanted[kind].length > 0) ops.push(sub.listen(kind, wanted[kind], listener));
      const stale = sub.listening(kind).filter((name) => !this.#wanted.has(`${kind}:${name}`));
      if (stale.length > 0) ops.push(sub.unlisten(kind, stale, listener));
    }
    Promise.allSettled(ops.map((op) => this.#track(op))).then((results) => {
      if (epoch !== this.#epoch || !sub.ready || this.#closed) return;
      if (results.some((r) => r.status === "rejected")) return; // logged by #track
      this.#synced = true;
      for (const key of this.#wanted.keys()) this.#options.confirmed(key);
      this.#options.synced();
    });
  }
}
