/**
 * History on the pub/sub side: publishes on topics with a history rule get an offset and an epoch
 * from the broker's history store (in their deliveries, the publisher's ack and the retained
 * value), and the `history` query reads what is stored. Subscriptions with history and recoveries
 * are lib/pubsub/recovery.ts. pub/sub (pubsub.ts) calls in here only for topics with a rule, so
 * topics without one pay a single cached lookup.
 *
 * @module
 */
import type { Connection } from "../session/connection.ts";
import type { PubSubMessage } from "../wire/protocol.ts";
import { Code } from "../wire/protocol.ts";
import { ackText, deliveryText } from "../wire/messages.ts";
import { checkQuery, historyReplyText, marked, publishAckText } from "../wire/history_messages.ts";
import { checkTopic, type CheckTopicOptions, hasWildcard } from "../wire/topic.ts";
import type { Appended, HistoryStore, Store } from "../broker/broker.ts";
import type { PublishMessage } from "../commands/command.ts";
import type { Config } from "../config.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { canSubscribe } from "../session/permissions.ts";
import type { HistoryRule, HistoryRules } from "../wire/history_rules.ts";
import { Holds } from "./history_hold.ts";

/** What history needs from the server's wiring. */
export interface HistoryHost {
  readonly config: Pick<
    Config,
    "SERVER_SRC" | "HISTORY_MAX_RECOVER" | "MAX_TOPIC_LENGTH" | "MAX_TOPIC_LEVELS"
  >;
  readonly log: Logger;
  readonly clock: Clock;
  readonly rules: HistoryRules;
  readonly store: HistoryStore;
  /** Retained values. */
  readonly retained: Store;
  /** Delivers on this node (and, for engines that do not relay, to the others). */
  publish(topic: string, text: string): void;
  /** Counts a publish that the store relays itself (/metrics `published_total`). */
  relayed(): void;
  /** The client's current filters, for acks. */
  filtersOf(conn: Connection): ReadonlySet<string>;
}

const DEFAULT_LIMIT = 10;

/** Publishes with offsets, and answers history queries. */
export class History {
  /** The rules, looked up once per topic. */
  readonly rules: HistoryRules;
  /** Deliveries held while history is sent. */
  readonly holds = new Holds();
  readonly #host: HistoryHost;
  readonly #filters: CheckTopicOptions;

  /** @param host Settings, clock, rules, the stores and the fan-out. */
  constructor(host: HistoryHost) {
    this.#host = host;
    this.rules = host.rules;
    const { MAX_TOPIC_LENGTH: maxLength, MAX_TOPIC_LEVELS: maxLevels } = host.config;
    this.#filters = { wildcards: true, maxLength, maxLevels };
  }

  /**
   * Publishes a client's message on a topic with history; acks it with its offset and epoch.
   *
   * @param conn The publisher.
   * @param msg Its checked message.
   * @param rule The topic's rule.
   * @param then Runs after the publication was delivered (the topic callback).
   */
  clientPublish(
    conn: Connection,
    msg: PubSubMessage,
    rule: HistoryRule,
    then: (() => void) | undefined,
  ): void {
    const topic = msg.topic as string;
    let appended: Appended | Promise<Appended>;
    try {
      appended = this.#append(topic, msg, msg.src ?? conn.src, rule);
    } catch (err) {
      const code = err instanceof RangeError ? Code.BAD_REQUEST : Code.UNAVAILABLE;
      return this.#refuse(conn, msg, code, message(err));
    }
    if (!(appended instanceof Promise)) {
      this.#published(conn, msg, appended);
      this.#host.publish(topic, appended.text);
      return then?.();
    }
    // The store delivers it, to this client too: hold that delivery until the ack went out.
    this.#host.relayed();
    this.holds.hold(conn, false);
    appended.then((entry) => {
      this.#published(conn, msg, entry);
      this.holds.release(conn, false);
      then?.();
    }, (err) => {
      this.holds.release(conn, false);
      const text = `Cannot publish on a topic with history: ${message(err)}`;
      this.#refuse(conn, msg, Code.UNAVAILABLE, text);
    });
  }

  /** Keeps the retained value and acks the publisher with the offset and epoch. */
  #published(conn: Connection, msg: PubSubMessage, entry: Appended): void {
    const topic = msg.topic as string;
    this.#retain(topic, msg, entry);
    const filters = [...this.#host.filtersOf(conn)];
    const src = this.#host.config.SERVER_SRC;
    conn.send(publishAckText(src, msg.id, topic, filters, entry.offset, entry.epoch));
  }

  #refuse(conn: Connection, msg: PubSubMessage, code: number, text: string): void {
    const filters = [...this.#host.filtersOf(conn)];
    conn.send(ackText(this.#host.config.SERVER_SRC, msg.id, msg.topic, code, text, filters));
  }

  /**
   * Publishes from server code on a topic with history.
   *
   * @param topic The topic.
   * @param msg The payload.
   * @param rule The topic's rule.
   * @throws {RangeError} When a retained value does not fit (memory store).
   */
  publish(topic: string, msg: PublishMessage, rule: HistoryRule): void {
    const appended = this.#append(topic, msg, msg.src ?? this.#host.config.SERVER_SRC, rule);
    if (!(appended instanceof Promise)) {
      this.#retain(topic, msg, appended);
      return this.#host.publish(topic, appended.text);
    }
    this.#host.relayed();
    appended.then(
      (entry) => this.#retain(topic, msg, entry),
      (err) => this.#host.log.warn(`Publish on ${topic} not stored nor sent: ${message(err)}`),
    );
  }

  #append(topic: string, msg: PublishMessage, src: string | undefined, rule: HistoryRule) {
    const body = deliveryText(src, topic, msg);
    // A retained value that does not fit must refuse the publish before it gets an offset.
    if (msg.retain === true && msg.data !== null) {
      this.#host.retained.retain(topic, marked(body, "retained"));
    }
    return this.#host.store.append(topic, body, rule, this.#host.clock.now());
  }

  #retain(topic: string, msg: PublishMessage, entry: Appended): void {
    if (msg.retain !== true) return;
    try {
      this.#host.retained.retain(topic, msg.data === null ? null : marked(entry.text, "retained"));
    } catch (err) {
      this.#host.log.warn(`Retained value of ${topic} not kept: ${message(err)}`);
    }
  }

  /**
   * Answers a `history` query.
   *
   * @param conn The client.
   * @param msg The query.
   */
  async query(conn: Connection, msg: PubSubMessage): Promise<void> {
    const { config, store } = this.#host;
    const topic = msg.topic;
    const reply = (fields: Parameters<typeof historyReplyText>[3]) =>
      void conn.send(historyReplyText(config.SERVER_SRC, msg.id, topic, fields));
    if (typeof topic !== "string") {
      return reply({ code: Code.BAD_REQUEST, msg: "History takes one topic, not a list" });
    }
    const error = checkTopic(topic, this.#filters);
    if (error !== null) return reply({ code: Code.BAD_REQUEST, msg: error });
    if (hasWildcard(topic)) {
      return reply({
        code: Code.BAD_REQUEST,
        msg: `History takes one topic without wildcards: ${JSON.stringify(topic)}`,
      });
    }
    if (conn.auth !== undefined && !canSubscribe(conn.auth.permissions, topic)) {
      return reply({
        code: Code.FORBIDDEN,
        msg: `Forbidden: subscribe to ${JSON.stringify(topic)}`,
      });
    }
    const rule = this.rules.ruleFor(topic);
    if (rule === null) {
      return reply({ code: Code.NOT_FOUND, msg: `No history for topic ${JSON.stringify(topic)}` });
    }
    const query = checkQuery(msg);
    if ("msg" in query) return reply({ code: Code.BAD_REQUEST, ...query });
    const limit = Math.min(query.limit ?? DEFAULT_LIMIT, config.HISTORY_MAX_RECOVER);
    try {
      let read = await store.read(topic, { after: query.since?.offset ?? 0 }, rule);
      const since = query.since;
      if (since !== undefined && since.epoch !== read.epoch && since.offset > 0) {
        read = await store.read(topic, { after: 0 }, rule); // another epoch: from its start
      }
      const entries = since === undefined
        ? read.entries.slice(-limit)
        : read.entries.slice(0, limit);
      const data = entries.map((e) => {
        const { src, code, msg, data } = JSON.parse(e.text);
        return { offset: e.offset, time: e.time, src, code, msg, data };
      });
      reply({ code: Code.OK, msg: "history", offset: read.offset, epoch: read.epoch, data });
    } catch (err) {
      reply({ code: Code.UNAVAILABLE, msg: `History is unavailable: ${message(err)}` });
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
