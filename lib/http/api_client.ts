/**
 * The backend API's client: one API call that speaks the WebSocket protocol runs as a connection
 * of its own, `src: "api"`, made by the hub on an in-memory socket and fed to the real
 * dispatcher. So a command over HTTP runs exactly as over a WebSocket (schemas, time limit,
 * progress, errors), a publish takes the client's path (topic and data checks, retained value,
 * the ack with its offset once history exists), and any pub_sub action the server knows
 * (`history`, `presence`, `presence_stats`) is answered by the module that owns it.
 *
 * The connection is never admitted: it is not counted, not listed, never subscribed, and holds
 * every permission (the key is the trust). It cannot answer `ctx.recv()` (`dialogue = false`).
 * It leaves through `hub.leave` when the call ends or its HTTP client goes away.
 *
 * @module
 */
import type { ClientMessage } from "../wire/protocol.ts";
import { checkMessage, Code } from "../wire/protocol.ts";
import type { Connection, SocketLike } from "../session/connection.ts";
import type { NewClient } from "../hub.ts";

/** The id of the one message an API connection sends. */
export const API_ID = "api";
/** The role of the API's connections. */
export const API_SRC = "api";

/** A parsed message the server sent to an API connection. */
export type Sent = Record<string, unknown>;
/** An API answer before it becomes a Response. */
export type Answer = Sent & { code: number };

/** What an API call needs from the server. */
export interface ApiClientHost {
  readonly hub: {
    attach(socket: SocketLike, client: NewClient): Connection;
    leave(conn: Connection): boolean;
  };
  readonly dispatcher: { handle(conn: Connection, msg: ClientMessage): void };
  readonly config: { readonly MAX_DEPTH: number };
}

/** An in-memory socket: what the server sends goes to a callback. */
class ApiSocket implements SocketLike {
  readonly bufferedAmount = 0;
  constructor(readonly onText: (text: string) => void) {}
  send(text: string): void {
    this.onText(text);
  }
  close(): void {}
}

/** One call in flight. */
export interface ApiCall {
  /** Resolves when the call ended (its last message came, or it was cancelled). */
  readonly done: Promise<void>;
  /** Ends the call: the connection leaves (a running command's signal aborts). */
  cancel(): void;
}

/**
 * Sends one message as the API client and hands each message the server sends back for it to
 * `receive`, until `receive` returns true (the last one).
 *
 * @param host The hub, the dispatcher and the nesting limit.
 * @param message The message, without `id` (the call sets it).
 * @param receive Called with each message for the call; true ends the call.
 * @returns The call; a message the protocol refuses gets its error through `receive` at once.
 */
export function callAsClient(
  host: ApiClientHost,
  message: Record<string, unknown>,
  receive: (msg: Sent) => boolean,
): ApiCall {
  const { promise, resolve } = Promise.withResolvers<void>();
  let ended = false;
  const made: { conn?: Connection } = {};
  const end = () => {
    if (ended) return;
    ended = true;
    // Later: the dispatcher may still be inside the send that ended the call.
    queueMicrotask(() => {
      if (made.conn !== undefined) host.hub.leave(made.conn);
      resolve();
    });
  };
  const msg = { ...message, id: API_ID };
  const checked = checkMessage(msg, { maxDepth: host.config.MAX_DEPTH });
  if (!checked.ok) {
    receive({ code: checked.code, msg: checked.msg, data: checked.data });
    end();
    return { done: promise, cancel: end };
  }
  const socket = new ApiSocket((text) => {
    if (ended) return;
    for (const line of text.split("\n")) {
      const sent = JSON.parse(line) as Sent;
      if (sent.id === API_ID && receive(sent)) return end();
    }
  });
  const conn = made.conn = host.hub.attach(socket, { ip: "api", src: API_SRC });
  conn.dialogue = false;
  host.dispatcher.handle(conn, checked.message);
  return { done: promise, cancel: end };
}

/**
 * Runs one pub_sub action (`pub`, `history`, `presence`, …) as the API client.
 *
 * @param host The hub, the dispatcher and the nesting limit.
 * @param action The action.
 * @param body Its fields.
 * @returns Its answer: the server's message without `mode`, `action`, `src` and `id`.
 */
export async function pubSubAction(
  host: ApiClientHost,
  action: string,
  body: Record<string, unknown>,
): Promise<Sent> {
  let answer: Sent = { code: Code.FAILED, msg: "No answer" };
  await callAsClient(host, { mode: "pub_sub", action, ...body }, (sent) => {
    answer = strip(sent);
    return true;
  }).done;
  if (answer.code === Code.NOT_FOUND && String(answer.msg).startsWith("Unknown action")) {
    return { code: Code.NOT_FOUND, msg: `Not available: this server has no ${action}` };
  }
  return answer;
}

/**
 * A server message as the API answers it: without the fields of the WebSocket envelope.
 *
 * @param sent The message.
 * @returns A copy without `mode`, `action`, `src` and `id`.
 */
export function strip(sent: Sent): Sent {
  const { mode: _m, action: _a, src: _s, id: _i, ...rest } = sent;
  return rest;
}

/**
 * A JSON answer whose HTTP status is its code (a code outside 200..599 is sent as 500).
 *
 * @param answer The answer.
 * @param headers Extra headers.
 * @returns The response.
 */
export function json(answer: Answer, headers: Record<string, string> = {}): Response {
  const status = answer.code >= 200 && answer.code <= 599 ? answer.code : 500;
  return new Response(JSON.stringify(answer), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
