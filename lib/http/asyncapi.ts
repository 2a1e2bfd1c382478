/**
 * The API contract served at `GET /asyncapi.json`: an AsyncAPI 3.0 document generated from the
 * loaded commands and topic callbacks and their zod schemas, so it can never drift from the code.
 */
import { z } from "zod";
import type { Command } from "../commands/command.ts";
import type { TopicCallback } from "../pubsub/topic_file.ts";
import { pubSubSchema, requestSchema, sessionSchema } from "../wire/protocol.ts";

/** What the document is made from. */
export interface ContractSource {
  commands: Map<string, Command>;
  topics: Map<string, TopicCallback>;
  serverSrc: string;
}

/**
 * Builds the AsyncAPI document.
 *
 * @param source The commands, topic callbacks and the server's name.
 * @returns A plain object, ready for `Response.json`.
 */
export function buildContract(source: ContractSource): Record<string, unknown> {
  const messages: Record<string, unknown> = {
    request: { name: "request", summary: "Any request", payload: schema(requestSchema) },
    pubsub: { name: "pubsub", summary: "sub, unsub or pub", payload: schema(pubSubSchema) },
    session: {
      name: "session",
      summary: "refresh: a new JWT for the live connection, answered with its new exp",
      payload: schema(sessionSchema),
    },
    expiring: {
      name: "expiring",
      summary: "Sent REFRESH_NOTICE_S before the token's exp (server to client)",
      payload: {
        type: "object",
        required: ["mode", "action", "exp"],
        properties: {
          mode: { const: "session" },
          action: { const: "expiring" },
          exp: { type: "integer", description: "The token's exp, seconds since the epoch" },
        },
      },
    },
  };
  const commands: Record<string, unknown> = {};
  for (
    const command of [...source.commands.values()].sort((a, b) => a.name.localeCompare(b.name))
  ) {
    const args = command.args ? schema(command.args) : { type: "array" };
    const kwargs = command.kwargs ? schema(command.kwargs) : { type: "object" };
    commands[command.name] = {
      description: command.description ?? "",
      args,
      kwargs,
      timeoutMs: command.timeoutMs,
    };
    messages[`command.${command.name}`] = {
      name: command.name,
      summary: command.description ?? `Calls ${command.name}`,
      payload: {
        type: "object",
        required: ["mode", "action", "command"],
        properties: {
          mode: { const: "req_res" },
          action: { const: "req" },
          command: { const: command.name },
          id: { type: ["string", "number"] },
          args,
          kwargs,
        },
      },
    };
  }
  const topics: Record<string, unknown> = {};
  for (const callback of source.topics.values()) {
    topics[callback.topic] = {
      description: callback.description ?? "",
      data: callback.data ? schema(callback.data) : {},
    };
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Switchboard",
      version: "1.0.0",
      description:
        `WebSocket API; replies come from src "${source.serverSrc}". See docs/protocol.md.`,
    },
    channels: {
      root: { address: "/", messages },
    },
    operations: {
      send: { action: "send", channel: { $ref: "#/channels/root" } },
      receive: { action: "receive", channel: { $ref: "#/channels/root" } },
    },
    "x-commands": commands,
    "x-topics": topics,
  };
}

function schema(type: z.ZodType): unknown {
  const out = z.toJSONSchema(type, { unrepresentable: "any", io: "input" }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}
