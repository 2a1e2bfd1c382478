/**
 * Errors that carry a protocol code. Throw one from a handler, topic callback or worker wrapper
 * to send that code and message to the client; anything else thrown becomes a 500.
 *
 * @example
 * ```ts
 * throw new CommandError(404, "没查到");
 * ```
 */
export class CommandError extends Error {
  /** The protocol code sent in the reply (see `Code` in protocol.ts). */
  readonly code: number;
  /** Optional `data` sent with the error reply (for example validation issues). */
  readonly data?: unknown;

  /**
   * @param code A protocol code such as 400, 403, 404, 408, 429, 500 or 503.
   * @param message The `msg` of the error reply: shown to the client, so no secrets.
   * @param data Optional `data` of the error reply.
   */
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "CommandError";
    this.code = code;
    this.data = data;
  }
}

/** A user error found at start-up (bad config, bad routes): printed as one line, exit 1. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}
