/**
 * The backend API's contract served at `GET /openapi.json`: an OpenAPI 3.1 document generated
 * from the zod schemas the handlers validate with (lib/http/api_schemas.ts) and from the loaded
 * commands' own argument schemas, so it can never drift from the code.
 *
 * @module
 */
import { z } from "zod";
import type { Command } from "../commands/command.ts";
import {
  answerSchemas,
  type ApiMethod,
  bodySchemas,
  errorSchema,
  summaries,
} from "./api_schemas.ts";

/** What the document is made from. */
export interface OpenApiSource {
  commands: Map<string, Command>;
  /** Whether API_KEY is set (the document is served either way). */
  enabled: boolean;
}

const ERRORS: Record<string, string> = {
  "400": "Bad JSON, or a body the schema refuses (the issues in data)",
  "401": "Missing or wrong API key",
  "404": "Unknown method, or a topic without history or presence",
  "405": "Not POST",
  "413": "Body over MAX_MESSAGE_BYTES",
  "429": "Rate limited (RATE_LIMIT, as one WebSocket connection)",
};

/**
 * Builds the OpenAPI document.
 *
 * @param source The commands and whether the API is on.
 * @returns A plain object, ready for `Response.json`.
 */
export function buildOpenApi(source: OpenApiSource): Record<string, unknown> {
  const error = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
  const errors = Object.fromEntries(
    Object.entries(ERRORS).map((
      [status, description],
    ) => [status, { description, content: error }]),
  );
  const commands = [...source.commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  const schemas: Record<string, unknown> = { Error: schema(errorSchema) };
  const xCommands: Record<string, unknown> = {};
  for (const command of commands) {
    const args = command.args ? schema(command.args) : { type: "array" };
    const kwargs = command.kwargs ? schema(command.kwargs) : { type: "object" };
    xCommands[command.name] = { description: command.description ?? "", args, kwargs };
    schemas[`command.${command.name}`] = {
      type: "object",
      description: command.description ?? `Calls ${command.name}`,
      required: ["command"],
      additionalProperties: false,
      properties: { command: { const: command.name }, args, kwargs },
    };
  }
  const paths: Record<string, unknown> = {};
  for (const method of Object.keys(bodySchemas) as ApiMethod[]) {
    const body = method === "command" && commands.length > 0
      ? { oneOf: commands.map((c) => ({ $ref: `#/components/schemas/command.${c.name}` })) }
      : schema(bodySchemas[method]);
    const ok: Record<string, unknown> = {
      "application/json": { schema: schema(answerSchemas[method]) },
    };
    if (method === "command") {
      ok["application/x-ndjson"] = {
        schema: { type: "string", description: "One reply per line, progress included" },
      };
    }
    paths[`/api/${method}`] = {
      post: {
        operationId: method,
        summary: summaries[method],
        requestBody: {
          required: method !== "clients",
          content: { "application/json": { schema: body } },
        },
        responses: {
          "200": { description: "Done (the code is also in the body)", content: ok },
          ...errors,
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard backend API",
      version: "1.0.0",
      description: (source.enabled ? "" : "Off on this server: API_KEY is not set. ") +
        "Every answer is {code, msg, data?} with the HTTP status equal to code. See docs/api.md.",
    },
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description: "The value `apikey <API_KEY>`",
        },
      },
      schemas,
    },
    "x-commands": xCommands,
  };
}

function schema(type: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(type, { unrepresentable: "any", io: "input" }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}
