/**
 * Join and leave events: who watches which topics (a `sub` with `"join_leave": true`), and the
 * sending of each presence change to them, with the storm guard. The presence store reports every
 * change once on every node (lib/broker/broker.ts); this module turns the changes into messages.
 *
 * The storm guard (docs/presence.md, "Storms"):
 * 1. Changes are gathered for {@linkcode EVENT_WINDOW_MS} and sent together at the end of the
 *    window, in one turn of the event loop (a batching client gets them joined in as few frames
 *    as its socket allows). A join and a leave of the same connection in one window cancel out:
 *    only net changes are sent.
 * 2. Each change is serialised once, whatever the number of watchers.
 * 3. A topic with more than {@linkcode MAX_EVENTS_PER_WINDOW} net changes in one window sends
 *    each watcher one `presence_sync` message with the counts instead of the events.
 * 4. A watcher whose socket already holds more than half its send budget (SEND_BUFFER_BYTES)
 *    gets one `presence_sync` for the window instead of its events, so it is neither closed as
 *    a slow client nor left with a silent gap.
 * A `presence_sync` tells the client to read the list again with a `presence` request. It is also
 * sent, with `data: {}` and the watched filter as `topic`, when the link between nodes was down
 * (the Redis relay reconnected): changes made elsewhere meanwhile were missed.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { PresenceEntry } from "../broker/broker.ts";
import type { Connection } from "../session/connection.ts";
import { Subscriptions } from "./subscriptions.ts";
import { topicMatches } from "../wire/topic.ts";

/** How long changes are gathered before they are sent. */
export const EVENT_WINDOW_MS = 50;
/** The most events per topic and window; beyond it watchers get one `presence_sync`. */
export const MAX_EVENTS_PER_WINDOW = 500;

type Kind = "join" | "leave";
interface Change {
  kind: Kind;
  entry: PresenceEntry;
  /** Its place among all changes this node took: a watch gets only those after it started. */
  seq: number;
}

/**
 * The join/leave watchers of one node and the events sent to them.
 *
 * @example
 * ```ts
 * const events = new JoinLeave(systemClock);
 * events.watch(conn, "panels/7");
 * events.change("join", "panels/7", { client: "n1-2", user: "ann", src: "front", info: null });
 * // 50 ms later conn gets {"mode":"pub_sub","action":"join","topic":"panels/7","data":{…}}
 * ```
 */
export class JoinLeave {
  /** Join and leave events handed to sockets (for /metrics). */
  sent = 0;
  /** `presence_sync` messages handed to sockets (for /metrics). */
  syncs = 0;
  readonly #clock: Clock;
  readonly #watchers = new Subscriptions<Connection>({ first() {}, last() {} });
  /** Topic → connection id → its changes in this window, oldest first. */
  readonly #pending = new Map<string, Map<string, Change[]>>();
  /** For each watcher, the last change before each of its watches started. */
  readonly #since = new Map<Connection, Map<string, number>>();
  #seq = 0;
  /** `#seq` when the latest watch started: a change before it must not be cancelled out. */
  #watchStart = 0;
  #timer: TimerId | undefined;
  #closed = false;

  /** @param clock The clock of the event window. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** How many (filter, connection) watches this node holds. */
  get watches(): number {
    return this.#watchers.size;
  }

  /** `conn` gets the join and leave events of the presence topics `filter` matches, from now. */
  watch(conn: Connection, filter: string): void {
    if (!this.#watchers.add(conn, filter)) return;
    let since = this.#since.get(conn);
    if (since === undefined) this.#since.set(conn, since = new Map());
    since.set(filter, this.#seq);
    this.#watchStart = this.#seq;
  }

  /** Stops `conn` watching `filter` (it unsubscribed or left). */
  unwatch(conn: Connection, filter: string): void {
    if (!this.#watchers.remove(conn, filter)) return;
    const since = this.#since.get(conn)!;
    since.delete(filter);
    if (since.size === 0) this.#since.delete(conn);
  }

  /**
   * Takes one change for the next window, if any local connection watches its topic.
   *
   * @param kind Join or leave.
   * @param topic The topic.
   * @param entry Who joined or left.
   */
  change(kind: Kind, topic: string, entry: PresenceEntry): void {
    if (this.#closed) return;
    let watched = false;
    this.#watchers.match(topic, () => watched = true);
    if (!watched) return;
    let changes = this.#pending.get(topic);
    if (changes === undefined) this.#pending.set(topic, changes = new Map());
    let list = changes.get(entry.client);
    if (list === undefined) changes.set(entry.client, list = []);
    const last = list.at(-1);
    // A join and a leave cancel out, unless a watch started between them: it must hear the second.
    if (last !== undefined && last.kind !== kind && last.seq > this.#watchStart) {
      list.pop();
      if (list.length === 0) changes.delete(entry.client);
    } else list.push({ kind, entry, seq: ++this.#seq });
    this.#timer ??= this.#clock.setTimeout(() => this.#flush(), EVENT_WINDOW_MS);
  }

  /**
   * Tells every watcher, once per watched filter, that changes may have been missed (the link
   * between nodes was down): a `presence_sync` whose `topic` is the filter and `data` is `{}`.
   */
  gap(): void {
    const text = (filter: string) =>
      JSON.stringify({ mode: "pub_sub", action: "presence_sync", topic: filter, data: {} });
    for (const [conn, since] of this.#since) {
      for (const filter of since.keys()) if (conn.send(text(filter))) this.syncs++;
    }
  }

  /** Drops what is pending and stops the window timer for good (shutdown). */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  #flush(): void {
    this.#timer = undefined;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [topic, changes] of pending) {
      if (changes.size === 0) continue;
      const watchers: Connection[] = [];
      this.#watchers.match(topic, (conn) => void watchers.push(conn));
      if (watchers.length === 0) continue;
      const all = [...changes.values()].flat().sort((a, b) => a.seq - b.seq);
      this.#send(topic, all, watchers);
    }
  }

  #send(topic: string, changes: Change[], watchers: Connection[]): void {
    let sync: string | undefined;
    const syncText = () => sync ??= presenceSyncText(topic, changes);
    if (changes.length > MAX_EVENTS_PER_WINDOW) {
      for (const conn of watchers) if (conn.send(syncText())) this.syncs++;
      return;
    }
    const texts = changes.map((c) => joinLeaveText(c.kind, topic, c.entry));
    for (const conn of watchers) {
      if (conn.socket.bufferedAmount > conn.path.sendBufferBytes / 2) {
        if (conn.send(syncText())) this.syncs++;
        continue;
      }
      const since = this.#startOf(conn, topic);
      for (let i = 0; i < changes.length; i++) {
        const change = changes[i];
        // Never about itself, never from before the watch started.
        if (change.entry.client === conn.id || change.seq <= since) continue;
        if (conn.send(texts[i])) this.sent++;
      }
    }
  }

  /** The last change before `conn` first watched `topic` (by any of its matching filters). */
  #startOf(conn: Connection, topic: string): number {
    let start = Infinity;
    for (const [filter, seq] of this.#since.get(conn) ?? []) {
      if (seq < start && topicMatches(filter, topic)) start = seq;
    }
    return start;
  }
}

/**
 * A join or leave event.
 *
 * @param kind `join` or `leave`.
 * @param topic The topic.
 * @param entry Who joined or left.
 * @returns The serialised event.
 */
export function joinLeaveText(kind: Kind, topic: string, entry: PresenceEntry): string {
  return JSON.stringify({ mode: "pub_sub", action: kind, topic, data: entry });
}

/** The message that replaces a window's events: how many joins and leaves it held. */
function presenceSyncText(topic: string, changes: Change[]): string {
  let joins = 0;
  for (const c of changes) if (c.kind === "join") joins++;
  const data = { joins, leaves: changes.length - joins };
  return JSON.stringify({ mode: "pub_sub", action: "presence_sync", topic, data });
}
