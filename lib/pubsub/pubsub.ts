/**
 * Publish/subscribe requests: sub, unsub and pub from clients, publishes from server code,
 * retained values and topic callbacks. It checks and answers; who subscribes to what and the
 * fan-out belong to the hub (lib/hub.ts), retained values to the broker's store. A publish is
 * serialised once and the same string goes to every subscriber.
 */
import type { Connection } from "../session/connection.ts";
import type { PubSubMessage } from "../wire/protocol.ts";
import { Code, describeIssues, issuesToData } from "../wire/protocol.ts";
import { ackText, deliveryText } from "../wire/messages.ts";
import { checkTopic, type CheckTopicOptions } from "../wire/topic.ts";
import type { TopicCallback, TopicResult } from "./topic_file.ts";
import type { PublishMessage } from "../commands/command.ts";
import type { Store } from "../broker/broker.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { canPublish, canSubscribe } from "../session/permissions.ts";
import type { Presence } from "./presence.ts";
import type { History } from "./history.ts";
import type { Recovery } from "./recovery.ts";

/** Who subscribes to what, and the fan-out: the hub's side that pub/sub uses. */
export interface Fanout {
  /** Subscribes a client to a valid filter; false when it already held it. */
  subscribe(conn: Connection, filter: string): boolean;
  /** Unsubscribes; false when it did not hold the filter. */
  unsubscribe(conn: Connection, filter: string): boolean;
  /** The filters a client holds. */
  filtersOf(conn: Connection): ReadonlySet<string>;
  /** Delivers a serialised publish to subscribers on this node and every other. */
  publish(topic: string, text: string): void;
}

/** What pub/sub needs from the server's wiring. */
export interface PubSubHost {
  readonly config: Config;
  readonly log: Logger;
  /** Topic callbacks by topic. */
  readonly topics: Map<string, TopicCallback>;
  readonly fanout: Fanout;
  readonly store: Store;
  /** Presence (lib/pubsub/presence.ts): the presence requests and `join_leave` subs. */
  readonly presence?: Pick<Presence, "handle" | "watch">;
  /** False while publishes cannot reach the other nodes (acked 503, delivered here only). */
  relaying?(): boolean;
  /** Topics with history (lib/pubsub/history.ts) and subscriptions that recover. */
  readonly history: History;
  readonly recovery: Recovery;
}

/** Answers the pub/sub requests of one node. */
export class PubSub {
  readonly #filters: CheckTopicOptions;
  readonly #names: CheckTopicOptions;

  constructor(private readonly host: PubSubHost) {
    const { MAX_TOPIC_LENGTH: maxLength, MAX_TOPIC_LEVELS: maxLevels } = host.config;
    this.#filters = { wildcards: true, maxLength, maxLevels };
    this.#names = { wildcards: false, maxLength, maxLevels };
  }

  /**
   * Handles a client's sub, unsub or pub.
   *
   * @param conn The client.
   * @param msg The checked message.
   */
  handle(conn: Connection, msg: PubSubMessage): void {
    if (msg.action === "pub") this.#clientPublish(conn, msg);
    else if (msg.action === "sub") this.#subscribe(conn, msg);
    else if (msg.action === "history") void this.host.history.query(conn, msg);
    else if (msg.action === "presence" || msg.action === "presence_stats") {
      if (this.host.presence !== undefined) this.host.presence.handle(conn, msg);
      else this.#ack(conn, msg, Code.NOT_FOUND, "Presence is not available on this server");
    } else this.#unsubscribe(conn, msg);
  }

  #ack(conn: Connection, msg: PubSubMessage, code: number, text: string, data?: unknown): void {
    conn.send(
      ackText(
        this.host.config.SERVER_SRC,
        msg.id,
        msg.topic,
        code,
        text,
        data ?? [...this.host.fanout.filtersOf(conn)],
      ),
    );
  }

  #subscribe(conn: Connection, msg: PubSubMessage): void {
    const filters = typeof msg.topic === "string" ? [msg.topic] : msg.topic;
    for (const filter of filters) {
      const error = checkTopic(filter, this.#filters);
      if (error !== null) return this.#ack(conn, msg, Code.BAD_REQUEST, error);
      if (conn.auth !== undefined && !canSubscribe(conn.auth.permissions, filter)) {
        return this.#ack(
          conn,
          msg,
          Code.FORBIDDEN,
          `Forbidden: subscribe to ${JSON.stringify(filter)}`,
        );
      }
    }
    const fanout = this.host.fanout;
    const held = fanout.filtersOf(conn);
    const added = [...new Set(filters)].filter((f) => !held.has(f));
    const limit = this.host.config.MAX_SUBSCRIPTIONS;
    if (held.size + added.length > limit) {
      return this.#ack(conn, msg, Code.BAD_REQUEST, `Too many subscriptions (limit ${limit})`);
    }
    if (this.host.recovery.wants(msg, filters)) {
      return void this.host.recovery.subscribe(conn, msg, filters, added);
    }
    for (const filter of added) fanout.subscribe(conn, filter);
    if (msg.join_leave === true) this.host.presence?.watch(conn, filters);
    this.#ack(conn, msg, Code.OK, "subscribed");
    // Overlapping filters of one sub (`a/1`, `a/+`) replay each retained value once.
    const replayed = added.length > 1 ? new Set<string>() : null;
    for (const filter of added) this.#replay(conn, filter, replayed);
  }

  #replay(conn: Connection, filter: string, replayed: Set<string> | null): void {
    const sent = this.host.store.retained(filter, (topic, text) => {
      if (replayed !== null) {
        if (replayed.has(topic)) return;
        replayed.add(topic);
      }
      conn.send(text);
    });
    if (sent instanceof Promise) {
      sent.catch((err) => this.host.log.warn(`Retained values of ${filter} not replayed: ${err}`));
    }
  }

  #unsubscribe(conn: Connection, msg: PubSubMessage): void {
    const filters = typeof msg.topic === "string" ? [msg.topic] : msg.topic;
    for (const filter of filters) this.host.fanout.unsubscribe(conn, filter);
    this.#ack(conn, msg, Code.OK, "unsubscribed");
  }

  #clientPublish(conn: Connection, msg: PubSubMessage): void {
    const topic = msg.topic;
    if (typeof topic !== "string") {
      return this.#ack(conn, msg, Code.BAD_REQUEST, "Publish takes one topic, not a list");
    }
    const error = checkTopic(topic, this.#names);
    if (error !== null) return this.#ack(conn, msg, Code.BAD_REQUEST, error);
    if (conn.auth !== undefined && !canPublish(conn.auth.permissions, topic)) {
      return this.#ack(conn, msg, Code.FORBIDDEN, `Forbidden: publish to ${JSON.stringify(topic)}`);
    }
    const callback = this.host.topics.get(topic);
    let published: PubSubMessage = msg;
    if (callback?.data !== undefined) {
      const checked = callback.data.safeParse(msg.data);
      if (!checked.success) {
        const issues = checked.error.issues.map((i) => ({ ...i, path: ["data", ...i.path] }));
        return this.#ack(
          conn,
          msg,
          Code.BAD_REQUEST,
          `Invalid data: ${describeIssues(issues)}`,
          issuesToData(issues),
        );
      }
      published = { ...msg, data: checked.data };
    }
    const rule = this.host.history.rules.ruleFor(topic);
    if (rule !== null) {
      const then = callback && (() => void this.#runCallback(callback, conn, published));
      return this.host.history.clientPublish(conn, msg, rule, then);
    }
    const text = deliveryText(msg.src ?? conn.src, topic, msg);
    const stored = msg.retain === true ? this.#retain(topic, msg, conn.src) : null;
    if (typeof stored === "string") return this.#ack(conn, msg, Code.BAD_REQUEST, stored);
    if (stored instanceof Promise) {
      // A store that answers later (Redis): the live publish goes out now, in order; the ack
      // waits for the store's answer and carries its refusal.
      stored.then((refused) => this.#published(conn, msg, refused));
    } else this.#published(conn, msg, null);
    this.host.fanout.publish(topic, text);
    if (callback !== undefined) this.#runCallback(callback, conn, published);
  }

  /**
   * The publisher's ack: 200, 400 with the store's refusal, or 503 when the publish stays on this
   * node because the broker is known down at publish time.
   */
  #published(conn: Connection, msg: PubSubMessage, refused: string | null): void {
    if (this.host.relaying?.() === false) {
      const why = "Published on this node only: the broker is unavailable";
      return this.#ack(conn, msg, Code.UNAVAILABLE, refused === null ? why : `${why}; ${refused}`);
    }
    if (refused !== null) return this.#ack(conn, msg, Code.BAD_REQUEST, refused);
    this.#ack(conn, msg, Code.OK, "published");
  }

  /**
   * Stores or clears a retained value; returns an error message when the store is full, or the
   * promise of one from a store that answers later.
   */
  #retain(
    topic: string,
    fields: PublishMessage,
    src: string | undefined,
  ): string | null | Promise<string | null> {
    try {
      const text = fields.data === null
        ? null
        : deliveryText(fields.src ?? src, topic, fields, true);
      return this.host.store.retain(topic, text) ?? null;
    } catch (err) {
      return err instanceof RangeError ? err.message : String(err);
    }
  }

  /**
   * Publishes from server code: a handler's `ctx.publish`, `server.publish` or a callback's
   * result. Runs no topic callback (no loops).
   *
   * @param topic The topic (no wildcards).
   * @param msg The payload; `retain` keeps it as the topic's value.
   * @throws {TypeError} When the topic is invalid.
   */
  publish(topic: string, msg: PublishMessage): void {
    const error = checkTopic(topic, this.#names);
    if (error !== null) throw new TypeError(error);
    const rule = this.host.history.rules.ruleFor(topic);
    if (rule !== null) return this.host.history.publish(topic, msg, rule);
    const text = deliveryText(msg.src ?? this.host.config.SERVER_SRC, topic, msg);
    if (msg.retain === true) {
      const stored = this.#retain(topic, msg, this.host.config.SERVER_SRC);
      if (typeof stored === "string") throw new RangeError(stored);
    }
    this.host.fanout.publish(topic, text);
  }

  async #runCallback(callback: TopicCallback, conn: Connection, msg: PubSubMessage): Promise<void> {
    let result: TopicResult;
    try {
      result = await callback.onPublish(msg, {
        topic: callback.topic,
        client: conn,
        log: this.host.log,
      });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.host.log.error(`Topic callback "${callback.topic}" failed: ${e.message}`, {
        stack: e.stack,
      });
      return;
    }
    if (result === undefined || result === null) return;
    for (const out of Array.isArray(result) ? result : [result]) {
      try {
        this.publish(callback.topic, out);
      } catch (err) {
        this.host.log.error(`Topic callback "${callback.topic}" returned a bad message: ${err}`);
      }
    }
  }
}
