/**
 * The one error type callers of the SDK catch: a non-200 reply or ack from the server, or a local
 * failure that carries a protocol code (408 timed out, 503 connection lost or client closed).
 *
 * @module
 */
import type { Message } from "./types.ts";

/**
 * A failed call, publish or subscription, with the protocol code, message and data.
 *
 * @example
 * ```ts
 * import { SwitchboardError } from "./mod.ts";
 *
 * try {
 *   throw new SwitchboardError(404, 'Unknown command: "nope"');
 * } catch (err) {
 *   if (err instanceof SwitchboardError && err.code === 404) console.log(err.msg);
 * }
 * ```
 */
export class SwitchboardError extends Error {
  /** The protocol code: the server's (400, 403, 404, 500, …) or local (408, 503). */
  readonly code: number;
  /** The server's `msg` (or the local reason); the same as `message`. */
  readonly msg: string;
  /** The server's `data`, for example the validation issues of a 400. */
  readonly data?: unknown;
  /** The whole reply or ack, when the server sent one. */
  readonly reply?: Message;

  /**
   * @param code A protocol code.
   * @param msg What went wrong.
   * @param data Optional details.
   * @param reply The server's message, if any.
   */
  constructor(code: number, msg: string, data?: unknown, reply?: Message) {
    super(msg);
    this.name = "SwitchboardError";
    this.code = code;
    this.msg = msg;
    this.data = data;
    this.reply = reply;
  }

  /**
   * Makes the error of a non-200 reply or ack.
   *
   * @param reply The server's message.
   * @returns The error, with the reply's code, msg and data.
   */
  static from(reply: Message): SwitchboardError {
    const code = typeof reply.code === "number" ? reply.code : 500;
    const msg = typeof reply.msg === "string" ? reply.msg : `Failed with code ${code}`;
    return new SwitchboardError(code, msg, reply.data, reply);
  }
}
