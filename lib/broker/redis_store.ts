/**
 * The Redis store: state every node reads alike, kept in Redis. Retained values live in the hash
 * `<prefix>:retained` (field: topic, value: the serialised delivery); a script keeps it within
 * MAX_RETAINED, one cap for the whole cluster. An exact filter reads one field (HGET); a wildcard
 * filter scans the fields under its literal prefix (HSCAN with MATCH) and matches each topic
 * exactly (lib/wire/topic.ts).
 *
 * It writes on the command connection it shares with the Redis transport, so a retained value set
 * before a publish is in Redis when the publish arrives elsewhere. Redis down: nothing throws;
 * writes are counted as dropped, replays are skipped, each with a throttled warning.
 *
 * On Redis Cluster the hash stays one key, so it lives on one shard: the script touches only that
 * key (one slot), the cap stays exact for the whole cluster in one atomic step, and a wildcard
 * replay is one HSCAN on one node instead of a SCAN of every master. MAX_RETAINED bounds its size;
 * history and presence, which grow with traffic, are the ones split per topic.
 *
 * @module
 */
import { hasWildcard, topicMatches } from "../wire/topic.ts";
import type { Store } from "./broker.ts";
import { scanPattern } from "./redis_channels.ts";
import type { RedisConnection } from "./redis_connection.ts";

const SCAN_COUNT = 500;
const UNAVAILABLE = "Redis is unavailable: the retained value was not stored";
/** HSET unless that would add a topic beyond the cap: KEYS[1] hash, ARGV topic, text, cap. */
const RETAIN_SCRIPT = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or " +
  "redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then " +
  "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";

/** Options of {@linkcode RedisStore}. */
export interface RedisStoreOptions {
  /** The most topics with a retained value (MAX_RETAINED), enforced in Redis. */
  maxRetained: number;
}

/**
 * Retained values in Redis, shared by every node. `retain` answers later: its promise gives the
 * refusal (the cap is reached, Redis is unavailable) for the publisher's ack, or null.
 *
 * @example
 * ```ts
 * const redis = new RedisConnection("redis://127.0.0.1:6379", { log });
 * const store = new RedisStore(redis, { maxRetained: 10_000 });
 * store.retain("line/1/state", '{"data":"running"}');
 * await store.close();
 * ```
 */
export class RedisStore implements Store {
  readonly #redis: RedisConnection;
  readonly #maxRetained: number;
  readonly #key: string;
  #closing: Promise<void> | undefined;

  /**
   * @param redis The node's Redis connections (shared with the transport).
   * @param options The retained-value cap.
   */
  constructor(redis: RedisConnection, options: RedisStoreOptions) {
    this.#redis = redis;
    this.#maxRetained = options.maxRetained;
    this.#key = `${redis.namespace}retained`;
    redis.use();
  }

  /**
   * Sets or clears a retained value.
   *
   * @returns The refusal for the publisher's ack, or null once Redis stored it.
   */
  retain(topic: string, text: string | null): Promise<string | null> {
    const client = this.#redis.sender();
    if (client === undefined) return Promise.resolve(UNAVAILABLE);
    if (text === null) {
      return client.run(["HDEL", this.#key, topic], this.#key).then(() => null, (err) => {
        this.#redis.onSendError(err);
        return UNAVAILABLE;
      });
    }
    const args = [topic, text, String(this.#maxRetained)];
    return this.#redis.eval(client, RETAIN_SCRIPT, [this.#key], args).then((stored: unknown) => {
      if (stored !== 0) return null;
      const why = `Cannot retain a message on ${
        JSON.stringify(topic)
      }: the limit of ${this.#maxRetained} retained topics is reached`;
      this.#redis.warn("retain", why);
      return why;
    }, (err) => {
      this.#redis.onSendError(err);
      return UNAVAILABLE;
    });
  }

  async retained(filter: string, visit: (topic: string, text: string) => void): Promise<void> {
    const client = this.#redis.command.client;
    if (client === undefined || !this.#redis.writable) {
      this.#redis.warn("replay", "Redis is unavailable: retained values are not replayed");
      return;
    }
    if (!hasWildcard(filter)) {
      const text: unknown = await client.run(["HGET", this.#key, filter], this.#key);
      if (typeof text === "string") visit(filter, text);
      return;
    }
    // HSCAN may return an entry twice while the hash grows.
    const seen = new Set<string>();
    const match = scanPattern(filter);
    let cursor = "0";
    do {
      const args = ["HSCAN", this.#key, cursor, "MATCH", match, "COUNT", `${SCAN_COUNT}`];
      const [next, flat] = await client.run(args, this.#key) as [string, string[]];
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const topic = flat[i];
        if (seen.has(topic) || !topicMatches(filter, topic)) continue;
        seen.add(topic);
        visit(topic, flat[i + 1]);
      }
    } while (cursor !== "0");
  }

  close(): Promise<void> {
    return this.#closing ??= this.#redis.release();
  }
}
