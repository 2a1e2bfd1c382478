/**
 * The timers behind every connection's send path, owned by one server: one timer closes clients
 * that stay over their send budget too long, one flushes the messages joined for batching
 * clients. A connection registers itself here when it needs either; nothing is module-global.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";

/** What the scheduler calls back on a connection. */
export interface Scheduled {
  /** Closes the client if it stayed over budget too long; true when it needs no more checks. */
  checkSlow(now: number): boolean;
  /** Sends what was joined for it; true when nothing is left waiting. */
  flush(): boolean;
}

/** How often clients over their send budget are checked. */
const SLOW_CHECK_MS = 100;

/** The send-path timers of one server. */
export class SendScheduler {
  readonly #clock: Clock;
  readonly #slow = new Set<Scheduled>();
  readonly #waiting = new Set<Scheduled>();
  #slowTimer: TimerId | undefined;
  #flushTimer: TimerId | undefined;

  /** @param clock The server's clock. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The server's clock (connections read the time through it). */
  get clock(): Clock {
    return this.#clock;
  }

  /** Watches a client that went over its send budget. */
  watchSlow(conn: Scheduled): void {
    this.#slow.add(conn);
    this.#slowTimer ??= this.#clock.setTimeout(this.#checkSlow, SLOW_CHECK_MS);
  }

  /** Flushes a batching client's joined messages at the next flush. */
  scheduleFlush(conn: Scheduled): void {
    this.#waiting.add(conn);
    this.#flushTimer ??= this.#clock.setTimeout(this.#flush, 0);
  }

  /** Forgets a closed connection, stopping the timers when nobody is left. */
  forget(conn: Scheduled): void {
    if (this.#slow.delete(conn) && this.#slow.size === 0) {
      this.#clock.clearTimeout(this.#slowTimer);
      this.#slowTimer = undefined;
    }
    if (this.#waiting.delete(conn) && this.#waiting.size === 0) {
      this.#clock.clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
  }

  readonly #checkSlow = (): void => {
    this.#slowTimer = undefined;
    const now = this.#clock.now();
    for (const conn of this.#slow) if (conn.checkSlow(now)) this.#slow.delete(conn);
    if (this.#slow.size > 0) {
      this.#slowTimer = this.#clock.setTimeout(this.#checkSlow, SLOW_CHECK_MS);
    }
  };

  readonly #flush = (): void => {
    this.#flushTimer = undefined;
    for (const conn of this.#waiting) if (conn.flush()) this.#waiting.delete(conn);
    if (this.#waiting.size > 0) this.#flushTimer = this.#clock.setTimeout(this.#flush, 0);
  };
}
