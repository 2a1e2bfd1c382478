/**
 * The timers behind every connection's send path, owned by one server: one timer closes clients
 * that stay over their send budget too long; the messages joined for batching clients leave at
 * the end of the event loop's turn (one frame per client per turn), or, for a client whose
 * socket is still writing earlier bytes, as soon as it has written them. A connection registers
 * itself here when it needs either; nothing is module-global.
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

/** How often held messages of a client whose socket is still writing are tried again. */
const BUSY_RETRY_MS = 1;

/** The send-path timers of one server. */
export class SendScheduler {
  readonly #clock: Clock;
  readonly #slow = new Set<Scheduled>();
  /** Batching clients with messages joined in this turn. */
  readonly #turn = new Set<Scheduled>();
  /** Batching clients whose socket was still writing when their turn ended. */
  readonly #busy = new Set<Scheduled>();
  #slowTimer: TimerId | undefined;
  #busyTimer: TimerId | undefined;
  #turnScheduled = false;

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

  /** Flushes a batching client's joined messages at the end of this turn. */
  scheduleFlush(conn: Scheduled): void {
    this.#turn.add(conn);
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    this.#clock.endOfTurn(this.#endTurn);
  }

  /** Forgets a closed connection, stopping the timers when nobody is left. */
  forget(conn: Scheduled): void {
    if (this.#slow.delete(conn) && this.#slow.size === 0) {
      this.#clock.clearTimeout(this.#slowTimer);
      this.#slowTimer = undefined;
    }
    this.#turn.delete(conn);
    if (this.#busy.delete(conn) && this.#busy.size === 0) {
      this.#clock.clearTimeout(this.#busyTimer);
      this.#busyTimer = undefined;
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

  readonly #endTurn = (): void => {
    this.#turnScheduled = false;
    for (const conn of this.#turn) {
      if (!this.#busy.has(conn) && !conn.flush()) this.#busy.add(conn);
    }
    this.#turn.clear();
    if (this.#busy.size > 0) this.#busyTimer ??= this.#clock.setTimeout(this.#retry, BUSY_RETRY_MS);
  };

  readonly #retry = (): void => {
    this.#busyTimer = undefined;
    for (const conn of this.#busy) if (conn.flush()) this.#busy.delete(conn);
    if (this.#busy.size > 0) this.#busyTimer = this.#clock.setTimeout(this.#retry, BUSY_RETRY_MS);
  };
}
