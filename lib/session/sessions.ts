/**
 * Sessions (v2): what a connection's token does after the handshake. The `subs` claim subscribes
 * the connection when it is admitted, before its first message (so the ack is the first thing
 * the client reads); `{"mode":"session","action":"refresh","token":…}` swaps the principal for
 * the one of a new JWT with the same `sub`: new permissions, new expiry (the hub re-arms the
 * `expiring` notice and the 1008 close). A refused refresh (401, 403) changes nothing.
 *
 * Subscriptions the new permissions no longer allow end with the refresh; the answer lists them
 * in `unsubscribed`.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { Code, type PubSubMessage, type SessionMessage } from "../wire/protocol.ts";
import { sessionText } from "../wire/messages.ts";
import { type Connection, ConnectionState } from "./connection.ts";
import { JwtError, verifyJwt } from "./jwt.ts";
import { type Principal, principalFromClaims } from "./auth.ts";
import { canSubscribe } from "./permissions.ts";

/** What sessions need from the server's wiring (the hub and pub/sub, without importing them). */
export interface SessionHost {
  readonly config: Pick<Config, "JWT_SECRET">;
  readonly clock: Clock;
  readonly log: Logger;
  /** Runs a `sub` for the connection, as if it had sent it (pub/sub answers with the ack). */
  subscribe(conn: Connection, msg: PubSubMessage): void;
  /** The filters the connection holds. */
  filtersOf(conn: Connection): ReadonlySet<string>;
  /** Ends one of its subscriptions. */
  unsubscribe(conn: Connection, filter: string): boolean;
  /** Re-arms its `expiring` notice and close from its (new) principal. */
  renewExpiry(conn: Connection): void;
}

/** Server-side subscriptions and token refresh. */
export class Sessions {
  readonly #host: SessionHost;

  /** @param host The settings, clock and the hub's and pub/sub's side. */
  constructor(host: SessionHost) {
    this.#host = host;
  }

  /**
   * A connection was admitted: subscribes it to its token's `subs`, if any.
   *
   * @param conn The new connection.
   */
  joined(conn: Connection): void {
    const subs = conn.auth?.subs;
    if (subs === undefined || subs.length === 0) return;
    this.#host.subscribe(conn, { mode: "pub_sub", action: "sub", topic: [...subs] });
  }

  /**
   * Handles a client's session message.
   *
   * @param conn The client.
   * @param msg The checked message (`refresh`).
   */
  handle(conn: Connection, msg: SessionMessage): void {
    void this.#refresh(conn, msg).catch((err) => {
      this.#host.log.error(`Token refresh failed: ${(err as Error).message}`, { client: conn.id });
      this.#answer(conn, msg, Code.FAILED, "Token refresh failed");
    });
  }

  async #refresh(conn: Connection, msg: SessionMessage): Promise<void> {
    const secret = this.#host.config.JWT_SECRET;
    if (secret === undefined || conn.auth === undefined) {
      return this.#answer(
        conn,
        msg,
        Code.NOT_FOUND,
        "Token refresh is not available: the server does not authenticate with JWTs",
      );
    }
    let next: Principal;
    try {
      next = principalFromClaims(await verifyJwt(msg.token, secret, this.#host.clock.now()));
    } catch (err) {
      if (!(err instanceof JwtError || err instanceof TypeError)) throw err;
      return this.#answer(conn, msg, Code.UNAUTHORIZED, `Token refused: ${err.message}`);
    }
    if (conn.state !== ConnectionState.Open) return;
    if (next.id !== conn.auth.id) {
      return this.#answer(
        conn,
        msg,
        Code.FORBIDDEN,
        'Forbidden: the new token is for another "sub"',
      );
    }
    // The `subs` of a refreshed token are not subscribed again: they are for the connect.
    conn.auth = { ...next, subs: conn.auth.subs };
    const dropped: string[] = [];
    for (const filter of [...this.#host.filtersOf(conn)]) {
      if (!canSubscribe(next.permissions, filter) && this.#host.unsubscribe(conn, filter)) {
        dropped.push(filter);
      }
    }
    this.#host.renewExpiry(conn);
    const exp = next.expiresAt === undefined ? undefined : Math.floor(next.expiresAt / 1000);
    conn.send(sessionText("refresh", {
      id: msg.id,
      code: Code.OK,
      msg: "refreshed",
      exp,
      unsubscribed: dropped.length > 0 ? dropped : undefined,
    }));
  }

  #answer(conn: Connection, msg: SessionMessage, code: number, text: string): void {
    conn.send(sessionText("refresh", { id: msg.id, code, msg: text }));
  }
}
