/**
 * The wire side of history: numbered delivery texts, the fields added to acks, the `history`
 * reply, and the checks of `recover` and of a `history` query. A numbered delivery is the plain
 * delivery text with `,"offset":n,"epoch":"e"` before its closing brace, so marking one
 * (`"recovered": true`, `"retained": true`) and reading its offset back are string operations.
 *
 * @module
 */
import { z } from "zod";
import type { MessageId } from "./protocol.ts";
import { describeIssues, issuesToData } from "./protocol.ts";

/** A client's position in a topic: the last offset it holds, in an epoch. */
export interface Position {
  offset: number;
  epoch: string;
}

/** A checked `recover` field of a `sub`. */
export interface Recover {
  positions: Record<string, Position>;
  since?: number;
}

/**
 * Adds offset and epoch to a delivery text.
 *
 * @param body A delivery text (a JSON object).
 * @param offset The entry's offset.
 * @param epoch The topic's epoch.
 * @returns The numbered delivery text.
 */
export function numbered(body: string, offset: number, epoch: string): string {
  return `${body.slice(0, -1)},"offset":${offset},"epoch":${JSON.stringify(epoch)}}`;
}

/**
 * Adds `"<field>": true` to a delivery text.
 *
 * @param text A delivery text.
 * @param field `recovered` or `retained`.
 * @returns The marked text.
 */
export function marked(text: string, field: "recovered" | "retained"): string {
  return `${text.slice(0, -1)},"${field}":true}`;
}

/**
 * The offset of a numbered delivery text.
 *
 * @param text A delivery text.
 * @returns Its offset, or -1 when it has none.
 */
export function offsetOf(text: string): number {
  const at = text.lastIndexOf(',"offset":');
  return at < 0 ? -1 : parseInt(text.slice(at + 10), 10);
}

/**
 * An ack (`action: "ack"`) with history fields: `offset`/`epoch` for a publish; `time`,
 * `positions` and `recovered` for a subscription.
 *
 * @param src The server's name.
 * @param id The message's id.
 * @param topic The topic(s) of the message.
 * @param msg What happened.
 * @param data The client's current filters.
 * @param extra The history fields.
 * @returns The serialised ack.
 */
export function historyAckText(
  src: string,
  id: MessageId | undefined,
  topic: unknown,
  msg: string,
  data: unknown,
  extra: Record<string, unknown>,
): string {
  return JSON.stringify({
    mode: "pub_sub",
    action: "ack",
    src,
    id,
    topic,
    code: 200,
    msg,
    data,
    ...extra,
  });
}

/**
 * The ack of a publish on a topic with history: with its offset and epoch.
 *
 * @param src The server's name.
 * @param id The publish's id.
 * @param topic Its topic.
 * @param data The client's current filters.
 * @param offset The offset it got.
 * @param epoch The topic's epoch.
 * @returns The serialised ack.
 */
export function publishAckText(
  src: string,
  id: MessageId | undefined,
  topic: string,
  data: unknown,
  offset: number,
  epoch: string,
): string {
  return historyAckText(src, id, topic, "published", data, { offset, epoch });
}

/**
 * A reply to a `history` query (errors included).
 *
 * @param src The server's name.
 * @param id The query's id.
 * @param topic Its topic.
 * @param fields code, msg, and offset, epoch and data on success.
 * @returns The serialised reply.
 */
export function historyReplyText(
  src: string,
  id: MessageId | undefined,
  topic: unknown,
  fields: { code: number; msg: string; offset?: number; epoch?: string; data?: unknown },
): string {
  return JSON.stringify({ mode: "pub_sub", action: "history", src, id, topic, ...fields });
}

const positionSchema = z.strictObject({
  offset: z.number().int().min(0),
  epoch: z.string().max(64),
});
const recoverSchema = z.strictObject({
  positions: z.record(z.string(), positionSchema).optional(),
  since: z.number().finite().optional(),
});
const querySchema = z.looseObject({
  limit: z.number().int().min(1).optional(),
  since: positionSchema.optional(),
});

/** A failed check: the message and the issues for `data`. */
export interface CheckFailure {
  msg: string;
  data: unknown;
}

/**
 * Checks the `recover` field of a `sub`.
 *
 * @param value The field as sent.
 * @returns The recovery, or what is wrong.
 */
export function checkRecover(value: unknown): Recover | CheckFailure {
  const r = recoverSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ ...i, path: ["recover", ...i.path] }));
    return { msg: `Invalid recover: ${describeIssues(issues)}`, data: issuesToData(issues) };
  }
  return { positions: r.data.positions ?? {}, since: r.data.since };
}

/**
 * Checks the `limit` and `since` of a `history` query.
 *
 * @param value The message.
 * @returns The query's fields, or what is wrong.
 */
export function checkQuery(
  value: unknown,
): { limit?: number; since?: Position } | CheckFailure {
  const r = querySchema.safeParse(value);
  if (!r.success) {
    return {
      msg: `Invalid history query: ${describeIssues(r.error.issues)}`,
      data: issuesToData(r.error.issues),
    };
  }
  return { limit: r.data.limit, since: r.data.since };
}
