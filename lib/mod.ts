/**
 * The public API of Switchboard: what command files, topic files and embedding programs import.
 *
 * @example
 * ```ts
 * import { defineCommand, z } from "../lib/mod.ts";
 * export default defineCommand({
 *   kwargs: z.object({ name: z.string() }),
 *   handle: (ctx) => [`hello ${ctx.kwargs.name}`],
 * });
 * ```
 * @module
 */
export { z } from "zod";
export { CommandError, StartupError } from "./wire/errors.ts";
export { defineCommand, reply } from "./commands/command.ts";
export type {
  ClientInfo,
  CommandContext,
  CommandDefinition,
  CommandHandler,
  OffloadOptions,
  PublishMessage,
} from "./commands/command.ts";
export { defineTopic } from "./pubsub/topic_file.ts";
export type {
  TopicContext,
  TopicDefinition,
  TopicHistory,
  TopicResult,
} from "./pubsub/topic_file.ts";
export { Switchboard } from "./server.ts";
export { createServer } from "./create_server.ts";
export type { ServerOptions } from "./create_server.ts";
export type { Manifest } from "./routes.ts";
export type { Config } from "./config.ts";
export { Code } from "./wire/protocol.ts";
export type {
  ClientMessage,
  MessageId,
  Outgoing,
  PubSubMessage,
  RequestMessage,
} from "./wire/protocol.ts";
export type { Target } from "./broker/broker.ts";
export type { PresenceEntry } from "./broker/broker.ts";
export type { PresenceStats } from "./pubsub/presence.ts";
export type { WorkerContext } from "./workers/api.ts";
