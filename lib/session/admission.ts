/**
 * Admission: the checks an upgrade request passes before it becomes a connection — shutting
 * down, allowed origin, connections per address, and authentication. A refusal is a plain HTTP
 * response, so a browser sees the status and no socket is ever opened.
 */
import type { Config } from "../config.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log.ts";
import {
  type AuthHook,
  createAuthenticator,
  originAllowed,
  type Principal,
  redactToken,
} from "./auth.ts";

/** The outcome: admitted (with the principal when auth is on) or refused with a response. */
export type Admission = { ok: true; principal: Principal | undefined } | {
  ok: false;
  response: Response;
};

/** Checks upgrade requests. */
export class Gate {
  readonly #auth: ReturnType<typeof createAuthenticator>;
  /** Open connections per remote address, kept only when MAX_CLIENTS_PER_IP is set. */
  readonly #perIp = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    hook?: AuthHook,
    private readonly clock: Clock = systemClock,
  ) {
    this.#auth = createAuthenticator({
      authToken: config.AUTH_TOKEN,
      jwtSecret: config.JWT_SECRET,
      hook,
      onDenied: (reason) => log.info(`Connection refused: ${reason}`),
    });
  }

  /** Whether authentication is on. */
  get authenticating(): boolean {
    return this.#auth !== null;
  }

  /**
   * Runs every check on an upgrade request. An admitted request holds a per-address slot until
   * `closed(ip)` is called.
   *
   * @param req The request.
   * @param info Its connection info (remote address already read by the caller).
   * @param ip The remote address.
   * @returns Admitted, or the refusal to send.
   */
  async admit(req: Request, info: Deno.ServeHandlerInfo, ip: string): Promise<Admission> {
    const origin = req.headers.get("origin");
    if (!originAllowed(origin, this.config.ALLOWED_ORIGINS)) {
      this.log.info("Connection refused: origin not allowed", { origin, ip });
      return refuse(403, "Origin not allowed");
    }
    const perIp = this.config.MAX_CLIENTS_PER_IP;
    if (perIp > 0 && (this.#perIp.get(ip) ?? 0) >= perIp) {
      return refuse(429, `Too many connections from this address (limit ${perIp})`);
    }
    if (this.#auth === null) {
      this.#opened(ip);
      return { ok: true, principal: undefined };
    }
    // The slot is taken before the await, so handshakes in flight count against the limit too.
    this.#opened(ip);
    let principal: Principal | null;
    try {
      principal = await this.#auth(req, info);
    } catch (err) {
      this.log.error(`Auth hook failed: ${(err as Error).message}`, { url: redactToken(req.url) });
      this.closed(ip);
      return refuse(500, "Authentication failed");
    }
    if (principal === null) {
      this.closed(ip);
      return refuse(401, "Not authenticated");
    }
    if (principal.expiresAt !== undefined && principal.expiresAt <= this.clock.now()) {
      this.closed(ip);
      return refuse(401, "Token expired");
    }
    return { ok: true, principal };
  }

  /** Counts an admitted connection of an address (for MAX_CLIENTS_PER_IP). */
  #opened(ip: string): void {
    if (this.config.MAX_CLIENTS_PER_IP > 0) this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
  }

  /** Uncounts an admitted connection when it closes (or is not upgraded after all). */
  closed(ip: string): void {
    if (this.config.MAX_CLIENTS_PER_IP === 0) return;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n > 0) this.#perIp.set(ip, n);
    else this.#perIp.delete(ip);
  }
}

function refuse(status: number, text: string): Admission {
  return { ok: false, response: new Response(`${text}\n`, { status }) };
}
