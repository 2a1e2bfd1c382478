/**
 * Token expiry of connections: the `expiring` notice REFRESH_NOTICE_S before the principal's
 * `expiresAt`, then the close with 1008 at it. A successful refresh re-arms both from the new
 * expiry; a refused one changes nothing. One timer per connection at a time (the notice's, then
 * the close's). The hub holds one of these and calls it on admit, leave and refresh.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { MAX_TIMER_MS } from "../clock.ts";
import type { Connection } from "./connection.ts";
import { sessionText } from "../wire/messages.ts";

/** The timers of every connection whose principal expires. */
export class ExpiryTimers {
  readonly #clock: Clock;
  readonly #noticeMs: number;
  readonly #timers = new Map<Connection, TimerId>();

  /**
   * @param clock The server's clock.
   * @param noticeS How long before the expiry the `expiring` notice goes out (REFRESH_NOTICE_S).
   */
  constructor(clock: Clock, noticeS: number) {
    this.#clock = clock;
    this.#noticeMs = noticeS * 1000;
  }

  /**
   * Arms (or re-arms) the notice and the close from the connection's current principal; a
   * principal without expiry only clears what was armed.
   *
   * @param conn The connection.
   */
  arm(conn: Connection): void {
    this.forget(conn);
    const expiresAt = conn.auth?.expiresAt;
    if (expiresAt === undefined) return;
    if (expiresAt <= this.#clock.now()) return conn.close(1008, "Token expired");
    this.#at(conn, expiresAt - this.#noticeMs, () => {
      conn.send(sessionText("expiring", { exp: Math.floor(expiresAt / 1000) }));
      this.#at(conn, expiresAt, () => {
        this.#timers.delete(conn);
        conn.close(1008, "Token expired");
      });
    });
  }

  /**
   * Clears a connection's timers (it left).
   *
   * @param conn The connection.
   */
  forget(conn: Connection): void {
    const timer = this.#timers.get(conn);
    if (timer === undefined) return;
    this.#clock.clearTimeout(timer);
    this.#timers.delete(conn);
  }

  /** Runs `fire` at `at` (at once when due); timers are 32-bit, so a far-off one re-arms. */
  #at(conn: Connection, at: number, fire: () => void): void {
    const left = at - this.#clock.now();
    if (left <= 0) return fire();
    const timer = this.#clock.setTimeout(
      () => this.#at(conn, at, fire),
      Math.min(left, MAX_TIMER_MS),
    );
    this.#timers.set(conn, timer);
  }
}
