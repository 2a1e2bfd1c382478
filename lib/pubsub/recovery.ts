/**
 * Subscriptions that touch history: the ack carries `time` and the `positions` of exact topics,
 * and a `recover` field brings back what the client missed. The client's live deliveries are held
 * from before it is subscribed until the ack, the recovered entries and the retained values went
 * out; then the held ones follow, minus those it already got. So between recovered and live
 * there is no gap and no duplicate, even while publishers keep publishing.
 *
 * @module
 */
import type { Connection } from "../session/connection.ts";
import type { PubSubMessage } from "../wire/protocol.ts";
import { Code } from "../wire/protocol.ts";
import { ackText } from "../wire/messages.ts";
import {
  checkRecover,
  historyAckText,
  marked,
  offsetOf,
  type Position,
  type Recover,
} from "../wire/history_messages.ts";
import { hasWildcard, topicMatches } from "../wire/topic.ts";
import type { HistoryEntry, HistoryRead } from "../broker/broker.ts";
import type { History, HistoryHost } from "./history.ts";

/** What a recovery needs besides history: subscribing, and the recovery counters. */
export interface RecoveryHost extends HistoryHost {
  subscribe(conn: Connection, filter: string): void;
  readonly counts: { historyRecovered: number; historyNotRecovered: number };
}

/** One topic's part of a recovery. */
interface Part {
  topic: string;
  read: HistoryRead;
  entries: HistoryEntry[];
}

/** Runs subscriptions with history. */
export class Recovery {
  readonly #host: RecoveryHost;
  readonly #history: History;

  constructor(host: RecoveryHost, history: History) {
    this.#host = host;
    this.#history = history;
  }

  /**
   * Whether a `sub` needs this module: it asks to recover, or a filter may bring history.
   *
   * @param msg The sub.
   * @param filters Its filters.
   */
  wants(msg: PubSubMessage, filters: string[]): boolean {
    const rules = this.#history.rules;
    return msg.recover !== undefined ||
      (rules.active && filters.some((f) => rules.mayHaveHistory(f)));
  }

  /**
   * Subscribes, acks with `time`, `positions` (and `recovered`), sends what was missed and the
   * retained values, then lets live deliveries through.
   *
   * @param conn The client.
   * @param msg The sub (its `recover` is checked here: 400 and nothing subscribed when bad).
   * @param filters Every filter of the sub (checked).
   * @param added Those the client did not hold yet.
   */
  async subscribe(
    conn: Connection,
    msg: PubSubMessage,
    filters: string[],
    added: string[],
  ): Promise<void> {
    const host = this.#host;
    const src = host.config.SERVER_SRC;
    let recover: Recover | undefined;
    if (msg.recover !== undefined) {
      const checked = checkRecover(msg.recover);
      if ("msg" in checked) {
        const filtersNow = [...host.filtersOf(conn)];
        return void conn.send(
          ackText(
            src,
            msg.id,
            msg.topic,
            Code.BAD_REQUEST,
            checked.msg,
            checked.data ?? filtersNow,
          ),
        );
      }
      recover = checked;
    }
    const holds = this.#history.holds;
    holds.hold(conn, true);
    try {
      for (const filter of added) host.subscribe(conn, filter);
      const time = host.clock.now();
      let parts: Part[] = [];
      let recovered = true;
      try {
        ({ parts, recovered } = await this.#plan(filters, recover, time));
      } catch (err) {
        recovered = false;
        host.log.warn(`History not read for a subscription: ${(err as Error).message}`);
      }
      const positions: Record<string, Position> = {};
      for (const { topic, read } of parts) {
        if (!hasWildcard(topic) && filters.includes(topic)) {
          positions[topic] = { offset: read.offset, epoch: read.epoch };
        }
      }
      const extra: Record<string, unknown> = { time, positions };
      if (recover !== undefined) {
        extra.recovered = recovered;
        if (recovered) host.counts.historyRecovered++;
        else host.counts.historyNotRecovered++;
      }
      conn.send(
        historyAckText(src, msg.id, msg.topic, "subscribed", [...host.filtersOf(conn)], extra),
      );
      const known = new Map<string, number>();
      for (const { topic, read, entries } of parts) {
        for (const entry of entries) conn.send(marked(entry.text, "recovered"));
        holds.sent(conn, topic, read.offset);
        const pos = recover?.positions[topic];
        const had = entries.length > 0 || pos === undefined || pos.epoch !== read.epoch
          ? read.offset
          : pos.offset;
        known.set(topic, had);
      }
      await this.#replay(conn, added, recover === undefined ? null : known);
    } finally {
      holds.release(conn, true);
    }
  }

  /** Reads the tops of exact topics and what a recovery brings back. */
  async #plan(
    filters: string[],
    recover: Recover | undefined,
    now: number,
  ): Promise<{ parts: Part[]; recovered: boolean }> {
    const { rules } = this.#history;
    const store = this.#host.store;
    const parts: Part[] = [];
    let recovered = true;
    const seen = new Set<string>();
    const covered = (t: string) =>
      rules.ruleFor(t) !== null && filters.some((f) => topicMatches(f, t));
    // Topics the client holds a position in.
    for (const [topic, pos] of Object.entries(recover?.positions ?? {})) {
      if (!covered(topic) || seen.has(topic)) continue;
      seen.add(topic);
      const rule = rules.ruleFor(topic)!;
      let read = await store.read(topic, { after: pos.offset }, rule);
      const sameEpoch = pos.offset === 0 || pos.epoch === read.epoch;
      if (!sameEpoch) {
        recovered = false;
        if (read.epoch !== "") read = await store.read(topic, { after: 0 }, rule);
      } else if (read.offset > pos.offset && read.first > pos.offset + 1) recovered = false;
      parts.push({ topic, read, entries: read.entries });
    }
    // Other topics the filters match: those stored at or after `since`.
    const since = recover?.since;
    for (const filter of filters) {
      const exact = !hasWildcard(filter);
      if (since === undefined) {
        if (exact && !seen.has(filter) && rules.ruleFor(filter) !== null) {
          seen.add(filter);
          const read = await store.read(
            filter,
            { after: Number.MAX_SAFE_INTEGER },
            rules.ruleFor(filter)!,
          );
          parts.push({ topic: filter, read, entries: [] });
        }
        continue;
      }
      if (!rules.mayHaveHistory(filter)) continue;
      if (now - since >= rules.minTtlMs(filter)) recovered = false; // whole topics may have expired
      const topics = exact ? [filter] : await store.topics(filter, since);
      for (const topic of topics) {
        const rule = rules.ruleFor(topic);
        if (rule === null || seen.has(topic)) continue;
        seen.add(topic);
        const read = await store.read(topic, { since }, rule);
        if (read.droppedAt >= since) recovered = false;
        parts.push({ topic, read, entries: read.entries });
      }
    }
    // At most HISTORY_MAX_RECOVER entries: the newest.
    const cap = this.#host.config.HISTORY_MAX_RECOVER;
    const total = parts.reduce((n, p) => n + p.entries.length, 0);
    if (total > cap) {
      recovered = false;
      const all = parts.flatMap((p) => p.entries).sort((a, b) =>
        b.time - a.time || b.offset - a.offset
      );
      const keep = new Set(all.slice(0, cap));
      for (const part of parts) part.entries = part.entries.filter((e) => keep.has(e));
    }
    return { parts, recovered };
  }

  /**
   * Replays retained values of the new filters. During a recovery, a history topic's value is
   * left out when the client already has its offset.
   */
  async #replay(
    conn: Connection,
    added: string[],
    known: Map<string, number> | null,
  ): Promise<void> {
    const store = this.#host.retained;
    const replayed = new Set<string>();
    for (const filter of added) {
      try {
        await store.retained(filter, (topic, text) => {
          if (replayed.has(topic)) return;
          replayed.add(topic);
          const had = known?.get(topic);
          if (had !== undefined && offsetOf(text) <= had) return;
          conn.send(text);
        });
      } catch (err) {
        this.#host.log.warn(`Retained values of ${filter} not replayed: ${err}`);
      }
    }
  }
}
