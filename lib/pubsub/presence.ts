/**
 * Presence: who is on a topic right now, across every node (docs/presence.md). A connection is
 * present on topic T while it holds an exact subscription to T and a `PRESENCE` filter (or a
 * topic file with `presence: true`) matches T.
 *
 * Who owns what: the hub tells this module of every subscription made and ended, however it ended
 * (sub, unsub, the connection leaving for any reason: `Hub.membership`), the one place presence
 * entries are added and removed. The broker's presence store holds the entries and reports each
 * change once on every node; join/leave events and their storm guard are lib/pubsub/join_leave.ts.
 * This module also answers the `presence` and `presence_stats` requests.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { PresenceEntry, PresenceSink, PresenceStore } from "../broker/broker.ts";
import type { Connection } from "../session/connection.ts";
import { canSubscribe } from "../session/permissions.ts";
import type { PubSubMessage } from "../wire/protocol.ts";
import { Code } from "../wire/protocol.ts";
import { pubSubText } from "../wire/messages.ts";
import { checkTopic, type CheckTopicOptions, hasWildcard, topicMatches } from "../wire/topic.ts";
import type { Membership } from "./subscriptions.ts";
import type { TopicCallback } from "./topic_file.ts";
import { JoinLeave } from "./join_leave.ts";

/** What presence needs from the server's wiring. */
export interface PresenceHost {
  readonly config: Pick<
    Config,
    "PRESENCE" | "SERVER_SRC" | "MAX_TOPIC_LENGTH" | "MAX_TOPIC_LEVELS"
  >;
  readonly clock: Clock;
  readonly log: Logger;
  /** Topic files: those with `presence: true` add their topic to the PRESENCE filters. */
  readonly topics: Map<string, TopicCallback>;
  readonly store: PresenceStore;
}

/** Presence on one node: the rules, the entries' life and the requests. */
export class Presence implements Membership<Connection>, PresenceSink {
  /** The filters of the topics with presence. */
  readonly rules: readonly string[];
  readonly #host: PresenceHost;
  readonly #events: JoinLeave;
  readonly #filters: CheckTopicOptions;

  /** @param host Settings, the clock, topic files and the presence store. */
  constructor(host: PresenceHost) {
    this.#host = host;
    const fromFiles = [...host.topics.values()].filter((t) => t.presence).map((t) => t.topic);
    this.rules = [...new Set([...host.config.PRESENCE, ...fromFiles])];
    this.#events = new JoinLeave(host.clock);
    const { MAX_TOPIC_LENGTH: maxLength, MAX_TOPIC_LEVELS: maxLevels } = host.config;
    this.#filters = { wildcards: true, maxLength, maxLevels };
    host.store.listen(this);
  }

  /** This node's presence entries (for /metrics). */
  get held(): number {
    return this.#host.store.held;
  }

  /** Join and leave events sent, and `presence_sync` messages (for /metrics). */
  get eventsSent(): number {
    return this.#events.sent + this.#events.syncs;
  }

  /**
   * Whether a topic has presence.
   *
   * @param topic A topic name (no wildcards).
   * @returns True when a PRESENCE filter or a topic file with `presence: true` matches it.
   */
  covers(topic: string): boolean {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) if (topicMatches(rules[i], topic)) return true;
    return false;
  }

  /** The hub: `conn` subscribed to `filter`. */
  added(conn: Connection, filter: string): void {
    if (this.rules.length === 0 || hasWildcard(filter) || !this.covers(filter)) return;
    this.#host.store.join(filter, entryOf(conn));
  }

  /** The hub: `conn` holds `filter` no more (unsub, or it left). */
  removed(conn: Connection, filter: string): void {
    if (this.rules.length === 0) return;
    this.#events.unwatch(conn, filter);
    if (!hasWildcard(filter) && this.covers(filter)) this.#host.store.leave(filter, conn.id);
  }

  /**
   * A `sub` with `"join_leave": true`: `conn` gets the join and leave events of the presence
   * topics its filters match, until it unsubscribes them or leaves.
   *
   * @param conn The subscriber (it holds the filters now).
   * @param filters The filters of that sub.
   */
  watch(conn: Connection, filters: readonly string[]): void {
    if (this.rules.length === 0) return;
    for (const filter of filters) this.#events.watch(conn, filter);
  }

  /** The store: a change on this node or another. */
  change(kind: "join" | "leave", topic: string, entry: PresenceEntry): void {
    this.#events.change(kind, topic, entry);
  }

  /** The store: other nodes' changes may have been missed; watchers read the lists again. */
  gap(): void {
    this.#events.gap();
  }

  /**
   * Everyone on a topic, across nodes: for server code (the backend API) as for `presence`.
   *
   * @param topic A topic name (no wildcards).
   * @returns The entries, or null when the topic has no presence.
   * @throws {Error} (a rejection) When the broker cannot be reached.
   */
  async entries(topic: string): Promise<PresenceEntry[] | null> {
    if (hasWildcard(topic) || !this.covers(topic)) return null;
    return await this.#host.store.entries(topic);
  }

  /** Stops the event window (shutdown). */
  close(): void {
    this.#events.close();
  }

  /**
   * Answers `presence` (the entries) or `presence_stats` (clients and distinct users).
   *
   * @param conn The client.
   * @param msg The checked request.
   */
  handle(conn: Connection, msg: PubSubMessage): void {
    const action = msg.action;
    const reply = (code: number, text: string, data?: unknown) =>
      conn.send(
        pubSubText(action, this.#host.config.SERVER_SRC, msg.id, msg.topic, code, text, data),
      );
    const topic = msg.topic;
    if (typeof topic !== "string") {
      return void reply(Code.BAD_REQUEST, "Presence takes one topic, not a list");
    }
    const error = checkTopic(topic, this.#filters);
    if (error !== null) return void reply(Code.BAD_REQUEST, error);
    if (hasWildcard(topic)) {
      return void reply(
        Code.BAD_REQUEST,
        `Presence takes a topic without wildcards: ${JSON.stringify(topic)}`,
      );
    }
    if (conn.auth !== undefined && !canSubscribe(conn.auth.permissions, topic)) {
      return void reply(Code.FORBIDDEN, `Forbidden: presence of ${JSON.stringify(topic)}`);
    }
    if (!this.covers(topic)) {
      return void reply(Code.NOT_FOUND, `No presence on topic ${JSON.stringify(topic)}`);
    }
    const answer = (entries: PresenceEntry[]) => {
      if (action === "presence") return void reply(Code.OK, "success", entries);
      reply(Code.OK, "success", presenceStats(entries));
    };
    const fail = (err: unknown) => {
      this.#host.log.warn(`Presence of ${topic} not read: ${err}`);
      reply(Code.UNAVAILABLE, "Presence is unavailable: the broker cannot be reached");
    };
    try {
      const entries = this.#host.store.entries(topic);
      if (entries instanceof Promise) entries.then(answer, fail);
      else answer(entries);
    } catch (err) {
      fail(err);
    }
  }
}

/**
 * The `presence_stats` of a list of entries.
 *
 * @param entries Everyone on a topic.
 * @returns How many clients, and how many distinct non-null users.
 * @example
 * ```ts
 * presenceStats([{ client: "a", user: "ann", src: null, info: null }]); // { clients: 1, users: 1 }
 * ```
 */
export function presenceStats(entries: readonly PresenceEntry[]): PresenceStats {
  const users = new Set<string>();
  for (const e of entries) if (e.user !== null) users.add(e.user);
  return { clients: entries.length, users: users.size };
}

/** The answer of `presence_stats`. */
export interface PresenceStats {
  clients: number;
  users: number;
}

/**
 * A connection's presence entry.
 *
 * @param conn The connection.
 * @returns Its id, user (JWT `sub`), role and JWT `info`, each null when absent.
 */
export function entryOf(conn: Connection): PresenceEntry {
  const auth = conn.auth;
  return {
    client: conn.id,
    user: auth?.user ?? null,
    src: conn.src ?? null,
    info: auth?.info ?? null,
  };
}
