/**
 * Holding a client's live deliveries while history is sent to it. During a recovery (and, on
 * Redis, while a publisher waits for its ack), the hub appends the client's deliveries to
 * `conn.held` instead of sending them; once the recovered entries (or the ack) went out, the held
 * ones follow in order, except those with an offset the client already got: no gap, no duplicate.
 *
 * @module
 */
import type { Connection } from "../session/connection.ts";
import { offsetOf } from "../wire/history_messages.ts";

/** Held deliveries beyond this many are sent when no recovery is running (a pipelining publisher). */
const MAX_HELD = 20_000;

interface HoldState {
  /** Holds open: recoveries and publishes waiting for their ack. */
  count: number;
  recovering: number;
  /** Per topic, the highest offset the client got or was told is its start. */
  sent: Map<string, number>;
}

/** The holds of every connection of one server. */
export class Holds {
  readonly #state = new WeakMap<Connection, HoldState>();

  /**
   * Starts (or joins) holding a client's deliveries.
   *
   * @param conn The client.
   * @param recovering True for a recovery, false for a publish waiting for its ack.
   */
  hold(conn: Connection, recovering: boolean): void {
    let state = this.#state.get(conn);
    if (state === undefined || state.count === 0) {
      state = { count: 0, recovering: 0, sent: new Map() };
      this.#state.set(conn, state);
      conn.held = [];
    } else if (state.recovering === 0 && conn.held !== undefined && conn.held.length > MAX_HELD) {
      this.#flush(conn, state);
      conn.held = [];
    }
    state.count++;
    if (recovering) state.recovering++;
  }

  /**
   * Notes that the client has a topic up to an offset: held deliveries up to it are dropped.
   *
   * @param conn The client.
   * @param topic The topic.
   * @param offset The offset.
   */
  sent(conn: Connection, topic: string, offset: number): void {
    const state = this.#state.get(conn);
    if (state === undefined || state.count === 0) return;
    if ((state.sent.get(topic) ?? -1) < offset) state.sent.set(topic, offset);
  }

  /**
   * Ends one hold; the last one sends what was held.
   *
   * @param conn The client.
   * @param recovering As given to `hold`.
   */
  release(conn: Connection, recovering: boolean): void {
    const state = this.#state.get(conn);
    if (state === undefined || state.count === 0) return;
    state.count--;
    if (recovering) state.recovering--;
    if (state.count > 0) return;
    this.#flush(conn, state);
    this.#state.delete(conn);
  }

  #flush(conn: Connection, state: HoldState): void {
    const held = conn.held ?? [];
    conn.held = undefined;
    for (let i = 0; i < held.length; i += 2) {
      const text = held[i + 1];
      const top = state.sent.get(held[i]);
      if (top !== undefined && offsetOf(text) <= top) continue;
      conn.send(text);
    }
  }
}
