/**
 * Token refresh for the client (protocol v2, "Sessions"): on the server's `expiring` notice the
 * client asks the app's `getToken()` for a new JWT and sends it as a `refresh` on the live
 * connection, so a panel open through a shift is never cut off at its token's `exp`. The same
 * `getToken()` gives the token of every (re)connection.
 *
 * @module
 */
import { SwitchboardError } from "./errors.ts";
import type { Message } from "./types.ts";

/** What the refresher needs from the client. */
export interface RefreshHost {
  /** The app's token source (the `getToken` option). */
  getToken: () => string | Promise<string>;
  /** Sends on the current socket; false when none is open. */
  send(msg: Record<string, unknown>): boolean;
  /** Reports the outcome of a refresh. */
  refreshed(outcome: { exp?: number; error?: SwitchboardError }): void;
}

/** Answers `expiring` notices with `refresh` messages and reads their answers. */
export class Refresher {
  readonly #host: RefreshHost;
  #next = 1;

  constructor(host: RefreshHost) {
    this.#host = host;
  }

  /**
   * Handles a session message from the server.
   *
   * @param msg A message with `mode: "session"`.
   * @returns True when it was one of the refresher's (an `expiring` notice or a refresh answer).
   */
  receive(msg: Message): boolean {
    if (msg.action === "expiring") {
      void this.#refresh();
      return true;
    }
    if (msg.action !== "refresh" || typeof msg.id !== "string" || !msg.id.startsWith("refresh-")) {
      return false;
    }
    if (msg.code === 200) {
      this.#host.refreshed({ exp: typeof msg.exp === "number" ? msg.exp : undefined });
    } else this.#host.refreshed({ error: SwitchboardError.from(msg) });
    return true;
  }

  async #refresh(): Promise<void> {
    let token: string;
    try {
      token = await this.#host.getToken();
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      this.#host.refreshed({ error: new SwitchboardError(401, `Cannot get a token: ${text}`) });
      return;
    }
    // No open socket: the next connection asks getToken() itself.
    this.#host.send({ mode: "session", action: "refresh", id: `refresh-${this.#next++}`, token });
  }
}
