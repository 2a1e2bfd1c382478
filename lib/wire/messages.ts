/**
 * Builders of the messages the server sends, serialised once. Field order follows the spec so
 * frames read the same in a log as in the docs; `undefined` fields are left out by JSON.stringify.
 */
import type { ClientMessage, MessageId, Outgoing, RequestMessage } from "./protocol.ts";

/**
 * A reply to a request (`action: "res"`).
 *
 * @param src The server's name (SERVER_SRC).
 * @param id The request's id, or undefined.
 * @param command The command as the client spelled it.
 * @param fields Code, msg, data and any extra fields (`process`, `more`).
 * @returns The serialised reply.
 */
export function replyText(
  src: string,
  id: MessageId | undefined,
  command: string | undefined,
  fields: Outgoing,
): string {
  const { src: ownSrc, code, msg, data, ...extra } = fields;
  return JSON.stringify({
    mode: "req_res",
    action: "res",
    src: ownSrc ?? src,
    id,
    command,
    code: code ?? 200,
    msg: msg ?? "success",
    data,
    ...extra,
  });
}

/**
 * The plain final reply of a successful command; the hot path, so no spread or rest.
 *
 * @param src The server's name.
 * @param id The request's id, or undefined.
 * @param command The command as the client spelled it.
 * @param data The handler's return value (undefined leaves `data` out).
 * @returns The serialised reply.
 */
export function successText(
  src: string,
  id: MessageId | undefined,
  command: string,
  data: unknown,
): string {
  return JSON.stringify({
    mode: "req_res",
    action: "res",
    src,
    id,
    command,
    code: 200,
    msg: "success",
    data,
  });
}

/**
 * An acknowledgement of sub, unsub or pub (`action: "ack"`); also the shape of pub_sub errors.
 *
 * @param src The server's name.
 * @param id The message's id, or undefined.
 * @param topic The topic(s) of the message acknowledged.
 * @param code 200, or the error code.
 * @param msg What happened.
 * @param data The client's current topics, or the error's issues.
 * @returns The serialised ack.
 */
export function ackText(
  src: string,
  id: MessageId | undefined,
  topic: unknown,
  code: number,
  msg: string,
  data?: unknown,
): string {
  return pubSubText("ack", src, id, topic, code, msg, data);
}

/** The fields of an ack: see {@linkcode ackText}. */
type AckArgs = [
  src: string,
  id: MessageId | undefined,
  topic: unknown,
  code: number,
  msg: string,
  data?: unknown,
];

/**
 * An answer in the shape of an ack with an action of its own (`presence`, `presence_stats`).
 *
 * @param action The action answered.
 * @param args The fields, as for {@linkcode ackText}.
 * @returns The serialised answer.
 */
export function pubSubText(action: string, ...[src, id, topic, code, msg, data]: AckArgs): string {
  return JSON.stringify({ mode: "pub_sub", action, src, id, topic, code, msg, data });
}

/**
 * A message published on a topic, as subscribers receive it.
 *
 * @param src The publisher's `src`.
 * @param topic The topic.
 * @param fields The publisher's code, msg and data, unchanged.
 * @param retained Set when replayed on subscribe.
 * @returns The serialised delivery.
 */
export function deliveryText(
  src: string | undefined,
  topic: string,
  fields: Outgoing,
  retained?: boolean,
): string {
  return JSON.stringify({
    mode: "pub_sub",
    action: "pub",
    src,
    topic,
    code: fields.code ?? 200,
    msg: fields.msg ?? "",
    data: fields.data,
    retained: retained || undefined,
  });
}

/**
 * The error answer to a client's message: a reply to a request, an ack to a pub_sub message.
 *
 * @param src The server's name (SERVER_SRC).
 * @param msg The message answered.
 * @param code The error code.
 * @param text What is wrong.
 * @param data Details, such as validation issues.
 * @returns The serialised answer.
 */
export function errorText(
  src: string,
  msg: ClientMessage,
  code: number,
  text: string,
  data?: unknown,
): string {
  return msg.mode === "req_res"
    ? replyText(src, msg.id, (msg as RequestMessage).command, { code, msg: text, data })
    : ackText(src, msg.id, msg.topic, code, text, data);
}

/**
 * A session message (v2): the `expiring` notice, or the answer to a `refresh`.
 *
 * @param action `expiring` or `refresh`.
 * @param fields The id, code, msg and `exp` (seconds since the epoch) as they apply.
 * @returns The serialised message.
 */
export function sessionText(
  action: "expiring" | "refresh",
  fields: { id?: MessageId; code?: number; msg?: string; exp?: number; [key: string]: unknown },
): string {
  return JSON.stringify({ mode: "session", action, ...fields });
}
