/**
 * What a topic callback file exports: `defineTopic({...})` or a plain function. The callback runs
 * after a client's publish was delivered; what it returns is published on the same topic.
 */
import type { z } from "zod";
import type { Outgoing, PubSubMessage } from "../wire/protocol.ts";
import type { Logger } from "../log.ts";

/** The context a topic callback receives. */
export interface TopicContext {
  /** The topic published on. */
  readonly topic: string;
  /** The publisher's connection id and role. */
  readonly client: { readonly id: string; readonly src: string | undefined };
  /** The server's logger. */
  readonly log: Logger;
}

/** What a callback may return: a message, several, or nothing. */
export type TopicResult = Outgoing | Outgoing[] | undefined | void;

/** A topic's history (docs/history.md): entries kept and for how long. */
export interface TopicHistory {
  /** The most entries kept (1 to 1000000). */
  size: number;
  /** How long entries are kept, in seconds (default 300). */
  ttlSeconds?: number;
}

/** A topic callback definition. */
export interface TopicDefinition<DS extends z.ZodType = z.ZodType> {
  /** One line for the API contract. */
  description?: string;
  /** Keep a history of this topic's publications (before the HISTORY setting's rules). */
  history?: TopicHistory;
  /** Schema of the published `data`; a failure rejects the publish with 400, nothing delivered. */
  data?: DS;
  /** Who subscribes to this topic is listed (presence, docs/presence.md); PRESENCE adds more. */
  presence?: boolean;
  /**
   * Runs after delivery; its result is published on the topic without running callbacks again.
   * Optional when the file only declares `history`.
   */
  onPublish?(
    msg: PubSubMessage & { data: z.output<DS> },
    ctx: TopicContext,
  ): TopicResult | Promise<TopicResult>;
}

/**
 * Defines a topic callback. An identity function: it only helps types.
 *
 * @param def The schema and callback.
 * @returns The same definition.
 * @example
 * ```ts
 * export default defineTopic({
 *   onPublish: () => ({ src: "agent", data: ["hahaha", "xixixi"] }),
 * });
 * ```
 */
export function defineTopic<DS extends z.ZodType = z.ZodType>(
  def: TopicDefinition<DS>,
): TopicDefinition<DS> {
  return def;
}

/** A topic callback as the server holds it. */
export interface TopicCallback {
  topic: string;
  description?: string;
  data?: z.ZodType;
  presence?: boolean;
  history?: TopicHistory;
  onPublish(msg: PubSubMessage, ctx: TopicContext): TopicResult | Promise<TopicResult>;
}

/**
 * Normalises what a topic file exports.
 *
 * @param topic The topic.
 * @param exported The default export.
 * @returns The callback, or null when the export is not usable.
 */
export function toTopicCallback(topic: string, exported: unknown): TopicCallback | null {
  if (typeof exported === "function") {
    return { topic, onPublish: exported as TopicCallback["onPublish"] };
  }
  if (typeof exported === "object" && exported !== null) {
    const def = exported as TopicDefinition;
    const history = def.history;
    if (typeof def.onPublish !== "function" && history === undefined) return null;
    return {
      topic,
      description: def.description,
      data: def.data,
      presence: def.presence === true || undefined,
      history,
      onPublish: (def.onPublish ?? noCallback) as TopicCallback["onPublish"],
    };
  }
  return null;
}

function noCallback(): undefined {
  return undefined;
}
