/**
 * The backend HTTP API: `POST /api/<method>` with `Authorization: apikey <API_KEY>` and a JSON
 * body, for backends that do not hold a WebSocket (an MES, a PLC gateway, a cron job). Off unless
 * API_KEY is set. Every answer is JSON `{code, msg, data?}` with the HTTP status equal to `code`.
 *
 * Checks, in order: 405 (not POST), 401 (missing or wrong key, compared in constant time), 404
 * (unknown method), 429 (the API's rate limit: RATE_LIMIT/RATE_BURST, as one WebSocket
 * connection), 413 (over MAX_MESSAGE_BYTES), 400 (bad JSON, or a body the method's zod schema
 * refuses: the issues in `data`). The key is never logged nor echoed.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Outgoing } from "../wire/protocol.ts";
import { Code, describeIssues, issuesToData, unsafeShape } from "../wire/protocol.ts";
import { replyText } from "../wire/messages.ts";
import { TokenBucket } from "../session/rate_limit.ts";
import type { Peers, Target } from "../broker/broker.ts";
import { type ApiMethod, bodySchemas } from "./api_schemas.ts";
import { type Answer, type ApiClientHost, json, pubSubAction, type Sent } from "./api_client.ts";
import { clientsEverywhere, type ClusterHub, countEverywhere } from "./api_cluster.ts";
import { runCommand } from "./api_command.ts";

/** What the API needs from the server. */
export interface ApiHost extends ApiClientHost {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly nodeId: string;
  readonly hub: ApiClientHost["hub"] & ClusterHub;
  readonly broker: { readonly peers?: Peers };
  /** Sends a reply-shaped message without `id` to every client of every node. */
  broadcast(msg: Outgoing): void;
}

/** The API of one server. */
export class Api {
  readonly #host: ApiHost;
  readonly #key: Uint8Array;
  readonly #bucket: TokenBucket | undefined;

  /**
   * @param host The server.
   * @param key API_KEY (at least 16 characters; config checked it).
   */
  constructor(host: ApiHost, key: string) {
    this.#host = host;
    this.#key = sha256(key);
    const { RATE_LIMIT: rate, RATE_BURST: burst } = host.config;
    this.#bucket = rate === 0
      ? undefined
      : new TokenBucket(rate, burst ?? 2 * rate, { now: () => host.clock.now() });
  }

  /**
   * Answers one request to `/api/<method>`.
   *
   * @param req The request.
   * @param method The path after `/api/`.
   * @returns The response (a stream for NDJSON commands).
   */
  async handle(req: Request, method: string): Promise<Response> {
    if (req.method !== "POST") {
      return json({ code: 405, msg: "Method not allowed: use POST" }, { allow: "POST" });
    }
    if (!this.#authorized(req.headers.get("authorization"))) {
      this.#host.log.info("API request refused: missing or wrong API key", {
        method: method.slice(0, 64),
      });
      return json({ code: Code.UNAUTHORIZED, msg: "Missing or wrong API key" });
    }
    if (!Object.hasOwn(bodySchemas, method)) {
      return json({
        code: Code.NOT_FOUND,
        msg: `Unknown API method: ${JSON.stringify(method.slice(0, 64))}`,
      });
    }
    if (this.#bucket !== undefined && !this.#bucket.take()) {
      return json({ code: Code.RATE_LIMITED, msg: "Rate limit exceeded: slow down" });
    }
    const body = await this.#body(req);
    if ("code" in body) return json(body);
    // The WebSocket's rules for any JSON: no `__proto__` key, nesting up to MAX_DEPTH.
    const shape = typeof body.value === "object" && body.value !== null
      ? unsafeShape(body.value, this.#host.config.MAX_DEPTH)
      : null;
    if (shape !== null) return json({ code: Code.BAD_REQUEST, msg: `Invalid body: ${shape}` });
    const schema = bodySchemas[method as ApiMethod];
    const checked = schema.safeParse(body.value);
    if (!checked.success) {
      return json({
        code: Code.BAD_REQUEST,
        msg: `Invalid body: ${describeIssues(checked.error.issues)}`,
        data: issuesToData(checked.error.issues),
      });
    }
    if (method === "command") {
      const stream = (req.headers.get("accept") ?? "").includes("application/x-ndjson");
      return runCommand(this.#host, checked.data as Sent, stream);
    }
    return json(await this.#run(method as ApiMethod, checked.data as Record<string, unknown>));
  }

  async #run(method: ApiMethod, body: Record<string, unknown>): Promise<Answer> {
    const host = this.#host;
    switch (method) {
      case "publish": {
        const { topic: _t, data: _d, ...ack } = await pubSubAction(host, "pub", body);
        return ack as Answer;
      }
      case "broadcast":
        host.broadcast(body as Outgoing);
        return { code: Code.OK, msg: "broadcast" };
      case "send": {
        const { to, message } = body as { to: Record<string, string>; message: Outgoing };
        const text = replyText(host.config.SERVER_SRC, undefined, undefined, message);
        const count = await countEverywhere(host.hub, host.nodeId, host.broker.peers, {
          op: "send",
          target: toTarget(to),
          text,
        });
        return { code: Code.OK, msg: "sent", count };
      }
      case "disconnect": {
        const count = await countEverywhere(host.hub, host.nodeId, host.broker.peers, {
          op: "disconnect",
          target: toTarget(body as Record<string, string>),
        });
        return { code: Code.OK, msg: "disconnected", count };
      }
      case "clients": {
        const data = await clientsEverywhere(host.hub, host.nodeId, host.broker.peers);
        return { code: Code.OK, msg: "clients", data };
      }
      default: // history, presence, presence_stats: the WebSocket action of the same name
        return await pubSubAction(host, method, body) as Answer;
    }
  }

  /** Reads a body without Content-Length up to `max` bytes; undefined when it is longer. */
  async #chunked(req: Request, max: number): Promise<string | undefined> {
    if (req.body === null) return "";
    const reader = req.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
    return new TextDecoder().decode(concat(chunks, size));
  }

  #authorized(header: string | null): boolean {
    const m = header === null ? null : /^apikey\s+(\S+)\s*$/i.exec(header);
    // Digests have one length: the comparison leaks neither the key nor its length.
    return timingSafeEqual(sha256(m?.[1] ?? ""), this.#key) && m !== null;
  }

  /** Reads the body up to MAX_MESSAGE_BYTES and parses it; an empty body is `{}`. */
  async #body(req: Request): Promise<{ value: unknown } | Answer> {
    const max = this.#host.config.MAX_MESSAGE_BYTES;
    const tooLarge = { code: Code.TOO_LARGE, msg: `Body too large (limit ${max} bytes)` };
    const length = req.headers.get("content-length");
    if (length !== null && Number(length) > max) {
      await req.body?.cancel();
      return tooLarge;
    }
    // With a Content-Length the runtime holds the body to it: read it whole (the fast path).
    const text = length !== null ? await req.text() : await this.#chunked(req, max);
    if (text === undefined) return tooLarge;
    if (text.trim() === "") return { value: {} };
    try {
      return { value: JSON.parse(text) };
    } catch (err) {
      return { code: Code.BAD_REQUEST, msg: `Invalid JSON: ${(err as Error).message}` };
    }
  }
}

/** The hub's target for an API `to` (`client` is a connection id). */
function toTarget(to: Record<string, string>): Target {
  if (to.client !== undefined) return { id: to.client };
  if (to.user !== undefined) return { user: to.user };
  return { src: to.src };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function sha256(s: string): Uint8Array {
  return createHash("sha256").update(s, "utf8").digest();
}
