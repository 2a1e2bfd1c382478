/**
 * The Redis history store: per-topic history shared by every node. One Lua script numbers a
 * publication, stores it, sets the ttl of the topic's keys and publishes it on the topic's
 * channel, atomically, so what is stored and what is delivered live can never disagree, and every
 * node (this one too) delivers in the order Redis assigned.
 *
 * Keys, hash-tagged like the topic's channel on Cluster, so the script touches one slot:
 * - `{<prefix>:<topic>}:hs` — a stream, one entry per publication, id `<offset>-0`, fields
 *   `t` (time) and `m` (the numbered delivery text), trimmed to the rule's size by XADD MAXLEN.
 *   A stream rather than a list: XRANGE reads "after offset n" by id, with no index arithmetic
 *   that a trim racing a read could shift.
 * - `{<prefix>:<topic>}:hm` — a hash: `e` epoch, `o` top offset, `d` time of the newest entry
 *   trimmed. When it is missing (expired, lost) or its stream is gone, the script starts a new
 *   epoch from offset 1.
 * - `<prefix>:h:topics` — a sorted set topic → last publication time, for wildcard recovery; a
 *   hint kept outside the script (it is in another slot), pruned past the longest ttl, and
 *   expiring with it.
 *
 * The channel payload is `~h <offset> <text>`: it starts with no node id, so the transport of
 * every node delivers it, the publisher's own included. On Cluster the script SPUBLISHes it, and
 * when other nodes hold wildcard filters the firehose copy follows once the script answered.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { topicMatches } from "../wire/topic.ts";
import type * as H from "./broker.ts";
import type { RedisConnection } from "./redis_connection.ts";

/**
 * KEYS: stream, meta. ARGV: body, time, size, ttl ms, new epoch, channel, PUBLISH or SPUBLISH,
 * the firehose mark ("*" or "").
 * Returns {offset, epoch, text}.
 */
const APPEND = `
local meta = redis.call('HMGET', KEYS[2], 'e', 'o')
local epoch = meta[1]
local offset = tonumber(meta[2] or '0')
if (not epoch) or (offset > 0 and redis.call('EXISTS', KEYS[1]) == 0) then
  epoch = ARGV[5]
  offset = 0
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', epoch, 'd', 0)
end
offset = offset + 1
local text = string.sub(ARGV[1], 1, -2) .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}'
local size = tonumber(ARGV[3])
local len = redis.call('XLEN', KEYS[1])
if len >= size then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - size + 1)
  redis.call('HSET', KEYS[2], 'd', old[#old][2][2])
end
redis.call('XADD', KEYS[1], 'MAXLEN', size, offset .. '-0', 't', ARGV[2], 'm', text)
redis.call('HSET', KEYS[2], 'o', offset)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[7], ARGV[6], '~h ' .. offset .. ARGV[8] .. ' ' .. text)
return {offset, epoch, text}`;

/** KEYS: stream, meta. ARGV: first offset wanted. Returns {epoch, top, dropped, id, t, m, …}. */
const READ = `
local meta = redis.call('HMGET', KEYS[2], 'e', 'o', 'd')
if not meta[1] then return {} end
local out = {meta[1], meta[2], meta[3] or '0'}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+')) do
  out[#out + 1] = e[1]
  out[#out + 1] = e[2][2]
  out[#out + 1] = e[2][4]
end
return out`;

/** Options of {@linkcode RedisHistory}. */
export interface RedisHistoryOptions {
  /** The server's clock (entry times, expiry on read). */
  clock: Clock;
  /** Resolves once the transport's subscriptions so far are confirmed (reads wait for it). */
  settled(): Promise<void>;
  /** The longest ttl of any rule, in ms: the topic index is pruned past it. */
  maxTtlMs: number;
  /** How the script publishes a topic (the transport's `route`) and sends the firehose copy. */
  route(topic: string): { command: string; channel: string; fire: boolean };
  fire(topic: string, sender: string, seq: string, text: string): void;
}

/**
 * Histories in Redis, shared by every node.
 *
 * @example
 * ```ts
 * const history = new RedisHistory(redis, { clock: systemClock, settled, maxTtlMs: 300_000 });
 * const entry = await history.append("a", '{"topic":"a"}', { size: 10, ttlMs: 60_000 }, Date.now());
 * await history.close();
 * ```
 */
export class RedisHistory implements H.HistoryStore {
  readonly relays = true;
  readonly #redis: RedisConnection;
  readonly #options: RedisHistoryOptions;
  readonly #index: string;
  readonly #stats: H.HistoryStats = { topics: 0, entries: 0 };
  #refreshing = false;
  #closing: Promise<void> | undefined;

  /**
   * @param redis The node's Redis connections (shared with the transport and store).
   * @param options The clock, the transport's `settled`, the longest ttl.
   */
  constructor(redis: RedisConnection, options: RedisHistoryOptions) {
    this.#redis = redis;
    this.#options = options;
    this.#index = `${redis.namespace}h:topics`;
    redis.use();
  }

  #keys(topic: string): [string, string] {
    const tag = `{${this.#redis.namespace}${topic}}`;
    return [`${tag}:hs`, `${tag}:hm`];
  }

  async append(
    topic: string,
    body: string,
    limits: H.HistoryLimits,
    time: number,
  ): Promise<H.Appended> {
    const client = this.#redis.sender();
    if (client === undefined) throw new Error("Redis is unavailable");
    const epoch = crypto.randomUUID().slice(0, 8);
    const route = this.#options.route(topic);
    const args = [body, String(time), String(limits.size), String(limits.ttlMs), epoch];
    args.push(route.channel, route.command, route.fire ? "*" : "");
    const done = this.#redis.eval(client, APPEND, this.#keys(topic), args);
    const index = this.#index;
    client.run(["ZADD", index, String(time), topic], index).catch(this.#redis.onSendError);
    // The index goes too once nothing was published for the longest ttl.
    const keep = String(Math.max(this.#options.maxTtlMs, limits.ttlMs));
    client.run(["PEXPIRE", index, keep], index).catch(this.#redis.onSendError);
    const [offset, actual, text] = await done as [number, string, string];
    if (route.fire) this.#options.fire(topic, "~h", String(offset), text);
    return { offset, epoch: actual, text, time };
  }

  async read(
    topic: string,
    query: H.HistoryQuery,
    limits: H.HistoryLimits,
  ): Promise<H.HistoryRead> {
    await this.#options.settled();
    const client = this.#command();
    const from = query.after === undefined ? "-" : String(query.after + 1);
    const flat = await this.#redis.eval(client, READ, this.#keys(topic), [from]) as string[];
    if (flat.length === 0) return { offset: 0, epoch: "", entries: [], first: 1, droppedAt: 0 };
    const top = Number(flat[1]);
    let droppedAt = Number(flat[2]);
    const oldest = this.#options.clock.now() - limits.ttlMs;
    const entries: H.HistoryEntry[] = [];
    for (let i = 3; i < flat.length; i += 3) {
      const offset = parseInt(flat[i], 10);
      const time = Number(flat[i + 1]);
      if (time < oldest) {
        droppedAt = Math.max(droppedAt, time);
        continue;
      }
      if (query.since !== undefined && time < query.since) continue;
      entries.push({ offset, time, text: flat[i + 2] });
    }
    // Without `after`, every entry was read: the oldest readable is the first kept or skipped
    // by `since`. With it, what precedes `after` is not known here; the caller only asks whether
    // `after + 1` is still there, which the first entry read tells.
    const first = entries.length > 0
      ? (query.since === undefined ? entries[0].offset : this.#firstOf(flat, oldest))
      : top + 1;
    return { offset: top, epoch: flat[0], entries, first, droppedAt };
  }

  #firstOf(flat: string[], oldest: number): number {
    for (let i = 3; i < flat.length; i += 3) {
      if (Number(flat[i + 1]) >= oldest) return parseInt(flat[i], 10);
    }
    return Number(flat[1]) + 1;
  }

  async topics(filter: string, since: number): Promise<string[]> {
    await this.#options.settled();
    const client = this.#command();
    const stale = this.#options.clock.now() - this.#options.maxTtlMs;
    const index = this.#index;
    client.run(["ZREMRANGEBYSCORE", index, "-inf", `(${stale}`], index).catch(() => {});
    const all = await client.run(["ZRANGEBYSCORE", index, String(since), "+inf"], index);
    return (all as string[]).filter((topic) => topicMatches(filter, topic));
  }

  stats(): H.HistoryStats {
    if (!this.#refreshing && this.#redis.command.ready) {
      this.#refreshing = true;
      this.#refresh().catch(() => {}).finally(() => this.#refreshing = false);
    }
    return { ...this.#stats };
  }

  /** Topics from the index, entries summed over at most 1000 of them. */
  async #refresh(): Promise<void> {
    const client = this.#command();
    const since = this.#options.clock.now() - this.#options.maxTtlMs;
    const index = this.#index;
    const range = ["ZRANGEBYSCORE", index, String(since), "+inf", "LIMIT", "0", "1000"];
    const topics = await client.run(range, index) as string[];
    const lengths = await Promise.all(topics.map((t) => {
      const stream = this.#keys(t)[0];
      return client.run(["XLEN", stream], stream) as Promise<number>;
    }));
    this.#stats.topics = lengths.filter((n) => n > 0).length;
    this.#stats.entries = lengths.reduce((a, b) => a + b, 0);
  }

  #command() {
    const client = this.#redis.command.client;
    if (client === undefined || !this.#redis.command.ready) {
      throw new Error("Redis is unavailable");
    }
    return client;
  }

  close(): Promise<void> {
    return this.#closing ??= this.#redis.release();
  }
}
