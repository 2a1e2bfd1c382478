/**
 * The Redis presence store (`BROKER_URL=redis://…`): every node's presence entries in Redis, each
 * with an expiry that its own node keeps pushing forward, so the clients of a node that died
 * leave presence within PRESENCE_TTL_S. docs/presence.md explains the design; in short:
 *
 * - Keys per topic (lib/broker/redis_presence_scripts.ts): a hash of entries and a sorted set of
 *   expiry times, changed only by Lua scripts that touch those two keys (one hash slot).
 * - Timing, for a ttl T: every node refreshes its own entries every T/4, to expire ¾T later; one
 *   node at a time (the holder of the lock `<prefix>:presence:sweeper`, taken for T/4) sweeps
 *   every T/8 the topics listed in the set `<prefix>:presence:topics`, removing expired entries.
 *   So a dead node's entries are gone at most ⅞T after its death.
 * - Changes: whichever node removes or adds an entry in Redis (a join, a leave, a sweep, a read
 *   that finds expired entries, a refresh that puts back an entry swept while its node was cut
 *   off) reports it to its own sink and publishes it on `<prefix>:presence` for the others. A
 *   script's answer says what it changed, so each change is reported once, never twice.
 * - Redis down: joins and leaves are not written (a refresh writes them back later, with their
 *   join events; entries of clients that left meanwhile expire, with their leave events); reads
 *   reject. When the relay connection comes back, the sink hears of the gap (changes relayed
 *   meanwhile were missed) and watchers are told to read the lists again.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { PresenceEntry, PresenceSink, PresenceStore } from "./broker.ts";
import { reason, type RedisConnection, type RedisLink } from "./redis_connection.ts";
import {
  EXPIRE_SCRIPT,
  JOIN_SCRIPT,
  LEAVE_SCRIPT,
  LOCK_SCRIPT,
  presenceKeys,
} from "./redis_presence_scripts.ts";

/** Options of {@linkcode RedisPresence}. */
export interface RedisPresenceOptions {
  /** This node's id: non-empty, no space. Relayed changes that start with it are its own. */
  nodeId: string;
  /** PRESENCE_TTL_S, in seconds. */
  ttlSeconds: number;
  /** The clock of the refresh and sweep timers and of expiry times. */
  clock?: Clock;
}

type Change = "join" | "leave";

/**
 * Presence entries shared by the nodes of one Redis.
 *
 * @example
 * ```ts
 * const redis = new RedisConnection("redis://127.0.0.1:6379", { log });
 * const presence = new RedisPresence(redis, { nodeId: "n1", ttlSeconds: 60 });
 * presence.listen({ change: (kind, topic, entry) => console.log(kind, topic, entry.client) });
 * presence.join("panels/7", { client: "n1-1", user: "ann", src: "front", info: null });
 * await presence.close();
 * ```
 */
export class RedisPresence implements PresenceStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #self: string;
  readonly #nodeId: string;
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #channel: string;
  readonly #index: string;
  readonly #lock: string;
  readonly #sub: RedisLink;
  /** This node's entries: topic → connection id → entry JSON. */
  readonly #own = new Map<string, Map<string, string>>();
  /** Writes and relays not answered yet: close waits for them. */
  readonly #inflight = new Set<Promise<unknown>>();
  #sink: PresenceSink | undefined;
  #held = 0;
  #ticks = 0;
  #timer: unknown;
  #sweeping = false;
  /** Whether the relay connection was up before (so a new "ready" is a reconnection). */
  #relayed = false;
  #listening = false;
  #closing: Promise<void> | undefined;

  /**
   * @param redis The node's Redis connections (shared with the transport and the store).
   * @param options This node's id, the ttl and the clock.
   */
  constructor(redis: RedisConnection, options: RedisPresenceOptions) {
    this.#redis = redis;
    this.#prefix = redis.namespace.slice(0, -1);
    this.#nodeId = options.nodeId;
    this.#self = `${options.nodeId} `;
    this.#clock = options.clock ?? systemClock;
    this.#tickMs = Math.max(50, Math.floor(options.ttlSeconds * 1000 / 8));
    this.#channel = `${redis.namespace}presence`;
    this.#index = `${redis.namespace}presence:topics`;
    this.#lock = `${redis.namespace}presence:sweeper`;
    redis.use();
    this.#sub = redis.open("presence", () => this.#subscribe());
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#tickMs);
  }

  get held(): number {
    return this.#held;
  }

  /** True when the relay channel is subscribed and the command connection is up. */
  get healthy(): boolean {
    return this.#redis.command.ready && this.#sub.ready && this.#listening;
  }

  listen(sink: PresenceSink): void {
    this.#sink = sink;
  }

  join(topic: string, entry: PresenceEntry): void {
    let own = this.#own.get(topic);
    const first = own === undefined;
    if (own === undefined) this.#own.set(topic, own = new Map());
    if (own.has(entry.client)) return;
    const json = JSON.stringify(entry);
    own.set(entry.client, json);
    this.#held++;
    this.#write(topic, [entry.client, json]);
    // The sweeper's list of topics; each refresh adds the node's topics again.
    if (first) this.#track(this.#redis.sender()?.run(["SADD", this.#index, topic], this.#index));
  }

  leave(topic: string, client: string): void {
    const own = this.#own.get(topic);
    if (own === undefined || !own.delete(client)) return;
    if (own.size === 0) this.#own.delete(topic);
    this.#held--;
    const [entries, expiry] = presenceKeys(this.#prefix, topic);
    this.#track(
      this.#eval(LEAVE_SCRIPT, [entries, expiry], [client])
        ?.then((removed) => this.#report("leave", topic, removed as string[])),
    );
  }

  async entries(topic: string): Promise<PresenceEntry[]> {
    const client = this.#redis.command.client;
    if (client === undefined || !this.#redis.command.ready) {
      throw new Error("Presence is unavailable: Redis is unreachable");
    }
    const live = await this.#expire(topic, true);
    return live.map((json) => JSON.parse(json) as PresenceEntry);
  }

  /** Removes this node's entries (reporting their leaves), then closes. */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#clock.clearTimeout(this.#timer);
    for (const [topic, own] of this.#own) {
      const [entries, expiry] = presenceKeys(this.#prefix, topic);
      this.#track(
        this.#eval(LEAVE_SCRIPT, [entries, expiry], [...own.keys()])
          ?.then((removed) => this.#report("leave", topic, removed as string[])),
      );
    }
    this.#own.clear();
    this.#held = 0;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await this.#sub.close();
    await this.#redis.release();
  }

  /** Every T/8: the sweep (if this node holds the lock); every T/4: the refresh. */
  #tick(): void {
    if (this.#closing !== undefined) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#tickMs);
    if (!this.#redis.command.ready) return;
    if (this.#ticks++ % 2 === 0) this.#refresh();
    if (this.#sweeping) return;
    this.#sweeping = true;
    const sweep = this.#sweep()
      .catch((err) => this.#redis.warn("sweep", `Presence sweep failed: ${reason(err)}`))
      .finally(() => {
        this.#sweeping = false;
        this.#inflight.delete(sweep);
      });
    this.#inflight.add(sweep); // close waits for it
  }

  #refresh(): void {
    if (this.#own.size === 0) return;
    for (const [topic, own] of this.#own) this.#write(topic, [...own].flat());
    const topics = [...this.#own.keys()];
    if (topics.length > 0) {
      this.#track(this.#redis.sender()?.run(["SADD", this.#index, ...topics], this.#index));
    }
  }

  async #sweep(): Promise<void> {
    const client = this.#redis.command.client!;
    const lockMs = String(this.#tickMs * 2);
    const held = await this.#redis.eval(client, LOCK_SCRIPT, [this.#lock], [this.#nodeId, lockMs]);
    if (Number(held) !== 1 || this.#closing !== undefined) return;
    const topics = await client.run(["SMEMBERS", this.#index], this.#index) as string[];
    for (const topic of topics) {
      if (this.#closing !== undefined) return;
      await this.#expire(topic, false, true);
    }
  }

  /** Removes a topic's expired entries (reporting their leaves); returns the live ones. */
  async #expire(topic: string, read: boolean, prune = false): Promise<string[]> {
    const client = this.#redis.command.client!;
    const [entries, expiry] = presenceKeys(this.#prefix, topic);
    const args = [`${this.#clock.now()}`, read ? "1" : "0"];
    const [gone, live, left] = await this.#redis.eval(
      client,
      EXPIRE_SCRIPT,
      [entries, expiry],
      args,
    ) as [
      string[],
      string[],
      number,
    ];
    this.#report("leave", topic, gone);
    if (prune && left === 0 && !this.#own.has(topic)) {
      await client.run(["SREM", this.#index, topic], this.#index);
    }
    return live;
  }

  /** Adds or refreshes entries (pairs of id and JSON); reports those that were not there. */
  #write(topic: string, pairs: string[]): void {
    const [entries, expiry] = presenceKeys(this.#prefix, topic);
    const ttlMs = this.#tickMs * 8;
    const expiresAt = `${this.#clock.now() + this.#tickMs * 6}`;
    this.#track(
      this.#eval(JOIN_SCRIPT, [entries, expiry], [expiresAt, `${ttlMs * 2}`, ...pairs])
        ?.then((added) => this.#report("join", topic, added as string[])),
    );
  }

  /** Keeps a write until it is answered; a failure is counted as a drop and logged. */
  #track(op: Promise<unknown> | undefined): void {
    if (op === undefined) return;
    const done = op.catch(this.#redis.onSendError).finally(() => this.#inflight.delete(done));
    this.#inflight.add(done);
  }

  /** Runs a script on a topic's keys; undefined (a drop, counted) when Redis is away. */
  #eval(script: string, keys: string[], args: string[]): Promise<unknown> | undefined {
    const client = this.#redis.sender();
    return client === undefined ? undefined : this.#redis.eval(client, script, keys, args);
  }

  /** Reports changes made in Redis by this node: here, and to the other nodes. */
  #report(kind: Change, topic: string, entries: string[]): void {
    for (const json of entries) {
      const payload = `${this.#self}${JSON.stringify([kind, topic])}\n${json}`;
      this.#track(this.#redis.command.client?.publish(this.#channel, payload));
      this.#tell(kind, topic, json);
    }
  }

  #tell(kind: Change, topic: string, json: string): void {
    try {
      this.#sink?.change(kind, topic, JSON.parse(json) as PresenceEntry);
    } catch (err) {
      this.#redis.warn("presence", `Cannot report a presence change: ${reason(err)}`);
    }
  }

  /** On each (re)connection of the relay: after a reconnection, changes may have been missed. */
  #subscribe(): void {
    if (this.#relayed) this.#sink?.gap?.();
    this.#relayed = true;
    // Listening again after a reconnection is harmless: a listener is held once per channel.
    this.#sub.client!.listen("c", [this.#channel], this.#onMessage).then(
      () => this.#listening = true,
      (err) => this.#redis.warn("presence", `Cannot subscribe to presence changes: ${reason(err)}`),
    );
  }

  /** Another node's change: `<node id> ["join"|"leave","<topic>"]\n<entry JSON>`. */
  readonly #onMessage = (message: string): void => {
    if (message.startsWith(this.#self)) return; // reported here already
    const space = message.indexOf(" ");
    const newline = message.indexOf("\n", space);
    if (space < 0 || newline < 0) return;
    try {
      const [kind, topic] = JSON.parse(message.slice(space + 1, newline)) as [Change, string];
      if (kind !== "join" && kind !== "leave") return;
      this.#tell(kind, topic, message.slice(newline + 1));
    } catch (err) {
      this.#redis.warn("presence", `Ignored a malformed presence change: ${reason(err)}`);
    }
  };
}
