/**
 * The Redis broker (`BROKER_URL=redis://host:port`): several nodes behind a load balancer act as
 * one. docs/deployment.md explains the design; in short:
 *
 * - Two connections: one for commands (PUBLISH, retained values), one in subscriber mode.
 * - One channel per topic, `<prefix>:t:<topic>`, so a node receives only the topics its clients
 *   subscribe to. An exact filter SUBSCRIBEs its channel; a wildcard filter PSUBSCRIBEs a glob
 *   that covers it (`+` and `#` become `*`, which also crosses `/`; pub/sub's topic tree drops
 *   what over-matches). `<prefix>:b` carries broadcasts, `<prefix>:s` `sendTo` messages.
 * - A payload is `<node id><seq> <delivery text>`: a node drops its own publishes (delivered
 *   locally already) and the extra copies Redis sends when several of the node's subscriptions
 *   match one publish (they arrive back to back, so each equals the message before it).
 * - Retained values live in the hash `<prefix>:retained`; a script keeps it within MAX_RETAINED.
 * - Redis down: nothing on the local path blocks or throws. Commands are refused at once instead
 *   of queued, counted in `dropped` and logged at most every 5 s; `healthy` is false; both
 *   connections reconnect with back-off and the subscriptions are made again.
 *
 * @module
 */
import type { createClient } from "redis";
import type { Logger } from "../log.ts";
import { hasWildcard, topicMatches } from "../wire/topic.ts";
import type { Store, Target, Transport, TransportSink } from "./broker.ts";
import {
  DEFAULT_PREFIX,
  escapeGlob,
  parseRedisUrl,
  redisSubscriptions,
  scanPattern,
} from "./redis_channels.ts";

export { DEFAULT_PREFIX, escapeGlob, parseRedisUrl, redisSubscriptions };

type Client = ReturnType<typeof createClient>;

/**
 * Commands waiting for Redis beyond this many are refused (counted as dropped), so a slow Redis
 * cannot grow memory without bound; a burst of this size drains in well under a second.
 */
export const QUEUE_LIMIT = 100_000;
const ID_LENGTH = 36; // crypto.randomUUID()
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const CONNECT_TIMEOUT_MS = 3000;
const LOG_EVERY_MS = 5000;
const SCAN_COUNT = 500;
/** HSET unless that would add a topic beyond the cap: KEYS[1] hash, ARGV topic, text, cap. */
const RETAIN_SCRIPT = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or " +
  "redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then " +
  "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";

/** Options of {@linkcode RedisBroker}. */
export interface RedisBrokerOptions {
  /** The most topics with a retained value (MAX_RETAINED), enforced in Redis. */
  maxRetained: number;
  /** Where connection problems go (one line per kind every 5 s at most). */
  log: Logger;
}

/** One of the two connections and its reconnection state. */
interface Link {
  readonly name: string;
  client: Client | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  attempt: Promise<void> | undefined;
  failures: number;
}

const newLink = (name: string): Link => ({
  name,
  client: undefined,
  timer: undefined,
  attempt: undefined,
  failures: 0,
});

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A broker for several nodes sharing one Redis. It connects in the background: `healthy` is
 * false until both connections are up and the subscriptions are confirmed.
 *
 * @example
 * ```ts
 * const broker = new RedisBroker("redis://127.0.0.1:6379", sink, { maxRetained: 10_000, log });
 * broker.subscribe("orders/+");
 * await broker.close();
 * ```
 */
export class RedisBroker implements Transport, Store {
  readonly kind = "redis";
  /** This node's id: a payload that starts with it is this node's own publish. */
  readonly nodeId: string = crypto.randomUUID();
  /** Messages received from Redis, every copy counted (for tests and metrics). */
  received = 0;
  /** Publishes, broadcasts, `sendTo`s and retained values that did not reach Redis. */
  dropped = 0;

  readonly #sink: TransportSink;
  readonly #log: Logger;
  readonly #url: string;
  readonly #where: string;
  readonly #maxRetained: number;
  readonly #topics: string;
  readonly #broadcasts: string;
  readonly #directs: string;
  readonly #retainedKey: string;
  readonly #cmd = newLink("command");
  readonly #sub = newLink("subscriber");
  /** Wanted Redis subscriptions (see redisSubscriptions) → how many filters need each. */
  readonly #wanted = new Map<string, number>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #logged = new Map<string, { at: number; suppressed: number }>();
  readonly #started: Promise<void>;
  #closing: Promise<void> | undefined;
  #synced = false;
  #epoch = 0;
  #up = false;
  #seq = 0;
  #last = "";
  #lastChannel = "";

  /**
   * @param url BROKER_URL (`redis://…` or `rediss://…`, optional `?prefix=name`, default "sb").
   * @param sink Where other nodes' traffic goes.
   * @param options The retained-value cap and the logger.
   * @throws {StartupError} On a bad URL (see {@linkcode parseRedisUrl}).
   */
  constructor(url: string, sink: TransportSink, options: RedisBrokerOptions) {
    const parsed = parseRedisUrl(url);
    this.#sink = sink;
    this.#log = options.log;
    this.#url = parsed.url;
    this.#where = parsed.where;
    this.#maxRetained = options.maxRetained;
    const ns = `${parsed.prefix}:`;
    this.#topics = `${ns}t:`;
    this.#broadcasts = `${ns}b`;
    this.#directs = `${ns}s`;
    this.#retainedKey = `${ns}retained`;
    this.#want(`c:${this.#broadcasts}`);
    this.#want(`c:${this.#directs}`);
    // Loaded lazily so that single-node servers do not pay for the client's start-up.
    this.#started = import("redis").then(({ createClient }) => {
      for (const link of [this.#cmd, this.#sub]) {
        const client = createClient({
          url: this.#url,
          disableOfflineQueue: true,
          commandsQueueMaxLength: QUEUE_LIMIT,
          socket: {
            connectTimeout: CONNECT_TIMEOUT_MS,
            reconnectStrategy: (_retries: number, cause: Error) => this.#retry(link, cause),
          },
        });
        client.on("error", this.#onClientError);
        client.on("ready", () => link === this.#sub ? this.#resync() : this.#checkUp());
        link.client = client;
        this.#connect(link);
      }
    }, (err) => this.#log.error(`Cannot load the Redis client: ${reason(err)}`));
  }

  /** True when both connections are up and the subscriptions are confirmed. */
  get healthy(): boolean {
    return this.#closing === undefined && this.#synced && this.#cmd.client?.isReady === true &&
      this.#sub.client?.isReady === true;
  }

  subscribe(filter: string): void {
    for (const key of redisSubscriptions(this.#topics, filter)) this.#want(key);
  }

  unsubscribe(filter: string): void {
    for (const key of redisSubscriptions(this.#topics, filter)) this.#unwant(key);
  }

  publish(topic: string, text: string): void {
    const client = this.#sender();
    if (client === undefined) return;
    const payload = this.nodeId + (this.#seq++).toString(36) + " " + text;
    client.publish(this.#topics + topic, payload).catch(this.#onSendError);
  }

  broadcast(text: string): void {
    this.#sender()?.publish(this.#broadcasts, `${this.nodeId} ${text}`).catch(this.#onSendError);
  }

  sendTo(target: Target, text: string): void {
    const [kind, value] = "id" in target ? ["i", target.id] : ["s", target.src];
    const payload = `${this.nodeId}${kind}${value.length}:${value}${text}`;
    this.#sender()?.publish(this.#directs, payload).catch(this.#onSendError);
  }

  retain(topic: string, text: string | null): void {
    const client = this.#sender();
    if (client === undefined) return;
    if (text === null) {
      client.hDel(this.#retainedKey, topic).catch(this.#onSendError);
      return;
    }
    const args = [this.#retainedKey, topic, text, String(this.#maxRetained)];
    client.sendCommand(["EVAL", RETAIN_SCRIPT, "1", ...args]).then((stored: unknown) => {
      if (stored !== 0) return;
      this.#warn(
        "retain",
        `Cannot retain a message on ${
          JSON.stringify(topic)
        }: the limit of ${this.#maxRetained} retained topics is reached`,
      );
    }, this.#onSendError);
  }

  async retained(filter: string, visit: (topic: string, text: string) => void): Promise<void> {
    const client = this.#cmd.client;
    if (client === undefined || !client.isReady) {
      this.#warn("replay", "Redis is unavailable: retained values are not replayed");
      return;
    }
    if (!hasWildcard(filter)) {
      const text: unknown = await client.hGet(this.#retainedKey, filter);
      if (typeof text === "string") visit(filter, text);
      return;
    }
    // HSCAN may return an entry twice while the hash grows.
    const seen = new Set<string>();
    const match = scanPattern(filter);
    let cursor = "0";
    do {
      const args = ["HSCAN", this.#retainedKey, cursor, "MATCH", match, "COUNT", `${SCAN_COUNT}`];
      const [next, flat] = await client.sendCommand(args) as unknown as [string, string[]];
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const topic = flat[i];
        if (seen.has(topic) || !topicMatches(filter, topic)) continue;
        seen.add(topic);
        visit(topic, flat[i + 1]);
      }
    } while (cursor !== "0");
  }

  /** Resolves once every subscribe and unsubscribe sent so far is confirmed by Redis. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    await this.#started;
    await Promise.all([this.#shut(this.#cmd), this.#shut(this.#sub)]);
  }

  async #shut(link: Link): Promise<void> {
    clearTimeout(link.timer);
    link.timer = undefined;
    await link.attempt; // a connection attempt in progress ends connected or failed
    const client = link.client;
    if (client === undefined || !client.isOpen) return;
    if (client.isReady) await client.close();
    else client.destroy();
  }

  /** Other nodes' traffic; also the copies of this node's own publishes, which are dropped. */
  readonly #onMessage = (message: string, channel: string): void => {
    this.received++;
    if (message.startsWith(this.nodeId)) return; // delivered locally already
    try {
      if (channel.startsWith(this.#topics)) {
        // Every copy of one publish arrives back to back; the sequence number makes it unique.
        if (message === this.#last && channel === this.#lastChannel) return;
        this.#last = message;
        this.#lastChannel = channel;
        const space = message.indexOf(" ", ID_LENGTH);
        if (space < 0) return;
        this.#sink.deliver(channel.slice(this.#topics.length), message.slice(space + 1));
      } else if (channel === this.#broadcasts) {
        this.#sink.broadcast(message.slice(ID_LENGTH + 1));
      } else if (channel === this.#directs) {
        this.#direct(message);
      }
    } catch (err) {
      this.#warn("deliver", `Cannot deliver a message from Redis: ${reason(err)}`);
    }
  };

  #direct(message: string): void {
    const colon = message.indexOf(":", ID_LENGTH + 1);
    const length = Number(message.slice(ID_LENGTH + 1, colon));
    if (colon < 0 || !Number.isInteger(length)) return;
    const value = message.slice(colon + 1, colon + 1 + length);
    const target = message[ID_LENGTH] === "i" ? { id: value } : { src: value };
    this.#sink.sendTo(target, message.slice(colon + 1 + length));
  }

  /** The command connection if it is up; otherwise counts a drop. */
  #sender(): Client | undefined {
    const client = this.#cmd.client;
    if (client !== undefined && client.isReady) return client;
    this.dropped++;
    this.#warn("down", "Redis is unavailable: publishes and retained values stay on this node");
    return undefined;
  }

  readonly #onSendError = (err: unknown): void => {
    this.dropped++;
    this.#warn("send", `Redis command failed: ${reason(err)}`);
  };

  readonly #onClientError = (err: unknown): void => {
    if (this.#log.enabled("debug")) this.#log.debug(`Redis client: ${reason(err)}`);
  };

  #want(key: string): void {
    const n = this.#wanted.get(key) ?? 0;
    this.#wanted.set(key, n + 1);
    if (n === 0) this.#apply(key, true);
  }

  #unwant(key: string): void {
    const n = this.#wanted.get(key);
    if (n === undefined) return;
    if (n > 1) return void this.#wanted.set(key, n - 1);
    this.#wanted.delete(key);
    this.#apply(key, false);
  }

  /** Sends one (un)subscribe now if connected; otherwise #resync does it on reconnection. */
  #apply(key: string, on: boolean): void {
    const sub = this.#sub.client;
    if (sub === undefined || !sub.isReady || this.#closing !== undefined) return;
    const name = key.slice(2);
    const listener = this.#onMessage;
    if (key[0] === "c") {
      this.#track(on ? sub.subscribe(name, listener) : sub.unsubscribe(name, listener));
    } else this.#track(on ? sub.pSubscribe(name, listener) : sub.pUnsubscribe(name, listener));
  }

  #track(op: Promise<unknown>): Promise<unknown> {
    this.#inflight.add(op);
    op.then(() => this.#inflight.delete(op), (err) => {
      this.#inflight.delete(op);
      if (this.#sub.client?.isReady) {
        this.#warn("subscribe", `Redis (un)subscribe failed: ${reason(err)}`);
      }
    });
    return op;
  }

  /**
   * Makes Redis's subscriptions match #wanted after a (re)connection: the client re-subscribes only
   * what Redis had confirmed, so a change sent while the link was down is made here.
   */
  #resync(): void {
    const sub = this.#sub.client!;
    this.#synced = false;
    const epoch = ++this.#epoch;
    const listener = this.#onMessage;
    const wanted = { c: [] as string[], p: [] as string[] };
    for (const key of this.#wanted.keys()) wanted[key[0] as "c" | "p"].push(key.slice(2));
    const stale = (type: "CHANNELS" | "PATTERNS", tag: string) =>
      [...sub.getPubSubListeners(type).keys()].filter((name) => !this.#wanted.has(tag + name));
    const staleChannels = stale("CHANNELS", "c:");
    const stalePatterns = stale("PATTERNS", "p:");
    const ops: Promise<unknown>[] = [];
    if (wanted.c.length > 0) ops.push(sub.subscribe(wanted.c, listener));
    if (wanted.p.length > 0) ops.push(sub.pSubscribe(wanted.p, listener));
    if (staleChannels.length > 0) ops.push(sub.unsubscribe(staleChannels, listener));
    if (stalePatterns.length > 0) ops.push(sub.pUnsubscribe(stalePatterns, listener));
    Promise.allSettled(ops.map((op) => this.#track(op))).then((results) => {
      if (epoch !== this.#epoch || !sub.isReady) return;
      if (results.some((r) => r.status === "rejected")) return; // logged by #track
      this.#synced = true;
      this.#checkUp();
    });
  }

  #checkUp(): void {
    if (this.#up || !this.healthy) return;
    this.#up = true;
    this.#log.info(`Connected to Redis at ${this.#where}`, { node: this.nodeId });
  }

  #connect(link: Link): void {
    link.timer = undefined;
    const client = link.client!;
    if (this.#closing !== undefined || client.isOpen) return;
    link.attempt = client.connect().then(() => void (link.failures = 0), () => {});
  }

  /**
   * The client's reconnect strategy. It always answers "stop" and schedules the next attempt
   * itself, so close() can cancel a pending retry instead of waiting for the client's timer.
   */
  #retry(link: Link, cause: unknown): false {
    if (link === this.#sub) this.#synced = false;
    if (this.#closing !== undefined) return false;
    if (this.#up) {
      this.#up = false;
      this.#logged.set("connect", { at: Date.now(), suppressed: 0 }); // the other link fails too
      this.#log.warn(
        `Lost the Redis connection to ${this.#where} (${link.name}): ${
          reason(cause)
        }; local traffic continues, reconnecting`,
      );
    } else {
      this.#warn("connect", `Cannot reach Redis at ${this.#where}: ${reason(cause)}; retrying`);
    }
    clearTimeout(link.timer);
    const backoff = Math.min(RETRY_MIN_MS * 2 ** link.failures++, RETRY_MAX_MS);
    link.timer = setTimeout(() => this.#connect(link), backoff + Math.random() * 100);
    return false;
  }

  /** Logs a warning at most once every LOG_EVERY_MS per kind, with the count it held back. */
  #warn(kind: string, msg: string): void {
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
}
