/**
 * The pure parts of the Redis broker: BROKER_URL parsing and how topic filters map to Redis
 * channels and glob patterns.
 */
import { StartupError } from "../wire/errors.ts";
import { hasWildcard } from "../wire/topic.ts";

/** The channel and key prefix when BROKER_URL has no `?prefix=`. */
export const DEFAULT_PREFIX = "sb";

/**
 * Parses BROKER_URL: `redis[s]://[user:password@]host[:port][/db][?prefix=name]`.
 *
 * @param raw The setting.
 * @returns The URL for the Redis client (without the query), the prefix, and `host:port`.
 * @throws {StartupError} On a malformed URL, a path that is not a database number, an empty
 *   prefix or an unknown query parameter. The message names the setting and the rule, never the
 *   URL: it may hold a password.
 */
export function parseRedisUrl(raw: string): { url: string; prefix: string; where: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new StartupError(
      "Invalid setting BROKER_URL: not a URL (expected redis://[user:password@]host[:port][/db])",
    );
  }
  const bad = (why: string) => new StartupError(`Invalid setting BROKER_URL: ${why}`);
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw bad("expected redis://");
  if (url.pathname.length > 1 && !/^\/\d+$/.test(url.pathname)) {
    throw bad("the path must be a database number such as /0");
  }
  for (const key of url.searchParams.keys()) {
    if (key !== "prefix") throw bad(`unknown option "${key}" (only prefix)`);
  }
  const prefix = url.searchParams.get("prefix") ?? DEFAULT_PREFIX;
  if (prefix === "") throw bad("prefix must not be empty");
  const clean = new URL(raw);
  clean.search = "";
  return { url: clean.href, prefix, where: `${url.hostname}:${url.port || 6379}` };
}

/**
 * Escapes the Redis glob metacharacters `* ? [ ] \` so the text matches only itself.
 *
 * @param text Literal text, such as a topic level.
 * @returns The text for a PSUBSCRIBE pattern or an HSCAN MATCH.
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

function globLevels(levels: string[]): string {
  return levels.map((level) => level === "+" ? "*" : escapeGlob(level)).join("/");
}

/**
 * The Redis subscriptions that cover a topic filter: `c:<channel>` for SUBSCRIBE, `p:<glob>` for
 * PSUBSCRIBE. They may cover more than the filter (`*` crosses `/`), never less.
 *
 * @param base The channel prefix of topics (`sb:t:`).
 * @param filter A valid topic filter.
 * @returns One or two subscriptions.
 * @example
 * ```ts
 * redisSubscriptions("sb:t:", "a/#"); // ["c:sb:t:a", "p:sb:t:a/*"]
 * ```
 */
export function redisSubscriptions(base: string, filter: string): string[] {
  if (!hasWildcard(filter)) return [`c:${base}${filter}`];
  const glob = escapeGlob(base);
  const levels = filter.split("/");
  if (levels.at(-1) !== "#") return [`p:${glob}${globLevels(levels)}`];
  levels.pop();
  if (levels.length === 0) return [`p:${glob}*`];
  // `a/#` matches `a` itself and everything below it.
  const parent = globLevels(levels);
  const below = `p:${glob}${parent}/*`;
  if (!hasWildcard(levels.join("/"))) return [`c:${base}${levels.join("/")}`, below];
  // `a/+` as a glob (`a/*`) already covers everything below it.
  return levels.at(-1) === "+" ? [`p:${glob}${parent}`] : [`p:${glob}${parent}`, below];
}

/** The HSCAN MATCH glob for a wildcard filter: its literal levels, then anything. */
export function scanPattern(filter: string): string {
  const levels = filter.split("/");
  const literal = levels.slice(0, levels.findIndex((l) => l === "+" || l === "#")).join("/");
  return `${escapeGlob(literal)}*`;
}

/**
 * Reads `<length>:<value><rest>` from `from` on: a value that may hold any character, then the
 * rest of the payload.
 *
 * @returns The value and the rest, or undefined when malformed.
 */
export function framed(message: string, from: number): [string, string] | undefined {
  const colon = message.indexOf(":", from);
  const length = Number(message.slice(from, colon));
  if (from <= 0 || colon < 0 || !Number.isInteger(length)) return undefined;
  return [message.slice(colon + 1, colon + 1 + length), message.slice(colon + 1 + length)];
}

/**
 * The channel names of one namespace (`<prefix>:`), on one Redis or Sentinel, or on Cluster:
 *
 * | what                 | one Redis, Sentinel   | Cluster (sharded)         |
 * | -------------------- | --------------------- | ------------------------- |
 * | a topic              | `<prefix>:t:<topic>`  | `{<prefix>:<topic>}t`     |
 * | broadcasts, sendTo   | `<prefix>:b`, `:s`    | the same                  |
 * | a node's probe       | `<prefix>:p:<node>`   | the same                  |
 * | firehose, interest   | —                     | `<prefix>:w`, `<prefix>:i` |
 *
 * On Cluster a topic's channel is in the slot of the `{<prefix>:<topic>}` keys of history and
 * presence, so their scripts can SPUBLISH it.
 */
export class ChannelNames {
  readonly broadcasts: string;
  readonly directs: string;
  readonly fire: string;
  readonly interest: string;
  readonly #ns: string;
  readonly #topics: string;
  readonly #cluster: boolean;

  constructor(namespace: string, cluster: boolean) {
    this.#ns = namespace;
    this.#cluster = cluster;
    this.#topics = cluster ? namespace : `${namespace}t:`;
    [this.broadcasts, this.directs] = [`${namespace}b`, `${namespace}s`];
    [this.fire, this.interest] = [`${namespace}w`, `${namespace}i`];
  }

  /** A node's probe channel. */
  probe(nodeId: string): string {
    return `${this.#ns}p:${nodeId}`;
  }

  /** A topic's channel. */
  topic(topic: string): string {
    return this.#cluster ? `{${this.#topics}${topic}}t` : this.#topics + topic;
  }

  /** The topic of a topic channel, or undefined for another channel. */
  topicOf(channel: string): string | undefined {
    if (!this.#cluster) {
      return channel.startsWith(this.#topics) ? channel.slice(this.#topics.length) : undefined;
    }
    if (channel[0] !== "{" || !channel.endsWith("}t")) return undefined;
    return channel.slice(this.#topics.length + 1, -2);
  }

  /** The subscriptions covering a filter (Cluster: a wildcard filter takes the firehose). */
  covering(filter: string): string[] {
    if (!this.#cluster) return redisSubscriptions(this.#topics, filter);
    return [`c:${hasWildcard(filter) ? this.fire : this.topic(filter)}`];
  }
}
