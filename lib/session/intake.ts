/**
 * The intake: one received frame in, checked messages out to the router. Size, rate limit, batch
 * splitting and the protocol check happen here, in that order, and each refusal gets an error
 * reply on the same connection, which stays usable.
 */
import type { Config } from "../config.ts";
import { type Connection, ConnectionState } from "./connection.ts";
import type { Logger } from "../log.ts";
import { ackText, replyText, sessionText } from "../wire/messages.ts";
import type { Metrics } from "../metrics.ts";
import {
  type ClientMessage,
  Code,
  type FrameLimits,
  type MessageId,
  parseFrame,
} from "../wire/protocol.ts";
import { TokenBucket } from "./rate_limit.ts";

/** Where checked messages go (the dispatcher). */
export interface MessageHandler {
  handle(conn: Connection, msg: ClientMessage): void;
}

/** Turns frames into routed messages. */
export class Intake {
  readonly #limits: FrameLimits;

  constructor(
    private readonly config: Config,
    private readonly metrics: Metrics,
    private readonly router: MessageHandler,
    private readonly log: Logger,
  ) {
    this.#limits = { maxDepth: config.MAX_DEPTH };
  }

  /**
   * Handles one WebSocket message event's data.
   *
   * @param conn The sender.
   * @param data A string for text frames; anything else is refused.
   */
  message(conn: Connection, data: unknown): void {
    if (conn.state !== ConnectionState.Open) return;
    this.metrics.framesIn++;
    if (typeof data !== "string") {
      this.#error(conn, Code.BAD_REQUEST, "Binary frames are not supported: send JSON text");
      return;
    }
    // Measured in bytes on the raw frame; a frame can only be too large if its UTF-16 length
    // times 3 exceeds the limit, so most frames are never encoded.
    const max = this.config.MAX_MESSAGE_BYTES;
    if (
      data.length > max || (data.length * 3 > max && new TextEncoder().encode(data).length > max)
    ) {
      this.metrics.tooLarge++;
      this.#error(conn, Code.TOO_LARGE, `Message too large (limit ${max} bytes)`);
      return;
    }
    if (conn.batch && data.includes("\n")) {
      for (const line of data.split("\n")) if (line.trim() !== "") this.#frame(conn, line);
      return;
    }
    this.#frame(conn, data);
  }

  #frame(conn: Connection, text: string): void {
    const rate = this.config.RATE_LIMIT;
    const bucket = rate === 0 ? undefined : conn.bucket ??= new TokenBucket(
      rate,
      this.config.RATE_BURST ?? 2 * rate,
      { disconnectAfterMs: this.config.RATE_ABUSE_SECONDS * 1000 },
    );
    if (bucket !== undefined && !bucket.take()) {
      this.metrics.rateLimited++;
      this.#error(conn, Code.RATE_LIMITED, "Rate limit exceeded: slow down");
      if (bucket.shouldDisconnect()) {
        this.log.info("Client closed for sustained rate-limit abuse", {
          client: conn.id,
          ip: conn.ip,
        });
        conn.close(1008, "Rate limit exceeded");
      }
      return;
    }
    const checked = parseFrame(text, this.#limits);
    if (checked.ok) {
      this.router.handle(conn, checked.message);
      return;
    }
    this.#error(conn, checked.code, checked.msg, checked.data, checked.id, checked.mode);
  }

  #error(
    conn: Connection,
    code: number,
    msg: string,
    data?: unknown,
    id?: MessageId,
    mode?: string,
  ): void {
    this.metrics.badFrames++;
    const src = this.config.SERVER_SRC;
    conn.send(
      mode === "pub_sub"
        ? ackText(src, id, undefined, code, msg, data)
        : mode === "session"
        ? sessionText("refresh", { id, code, msg, data })
        : replyText(src, id, undefined, { code, msg, data }),
    );
  }
}
