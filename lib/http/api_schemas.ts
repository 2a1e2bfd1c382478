/**
 * The backend HTTP API's contract: one zod schema per method's body and one per answer. The
 * handlers validate with these and `GET /openapi.json` is generated from them, so the two cannot
 * drift apart.
 *
 * @module
 */
import { z } from "zod";

const src = z.string().min(1).max(64).describe("The sender's role (`src`) subscribers see");
const topic = z.string().min(1).describe("A concrete topic (no wildcards)");
const payload = {
  src: src.optional(),
  code: z.number().int().optional().describe("Default 200"),
  msg: z.string().optional(),
  data: z.unknown().optional(),
};

/** Who `send` reaches: every client with a role, one connection, or every connection of a user. */
export const targetSchema = z.union([
  z.strictObject({ src: z.string().min(1).describe("Every client with this role") }),
  z.strictObject({ client: z.string().min(1).describe("One connection id") }),
  z.strictObject({ user: z.string().min(1).describe("Every connection of a JWT `sub`") }),
]);

/** The body of each method. */
export const bodySchemas = {
  publish: z.strictObject({
    topic,
    ...payload,
    retain: z.boolean().optional().describe("Keep as the topic's value; with data null: clear"),
  }),
  broadcast: z.strictObject(payload),
  send: z.strictObject({ to: targetSchema, message: z.strictObject(payload) }),
  disconnect: z.union([
    z.strictObject({ client: z.string().min(1).describe("One connection id") }),
    z.strictObject({ user: z.string().min(1).describe("Every connection of a JWT `sub`") }),
  ]),
  clients: z.strictObject({}),
  command: z.strictObject({
    command: z.string().min(1).max(128).describe("The command's name (any case)"),
    args: z.array(z.unknown()).optional(),
    kwargs: z.record(z.string(), z.unknown()).optional(),
  }),
  history: z.strictObject({
    topic,
    limit: z.number().int().min(1).optional(),
    since: z.strictObject({ offset: z.number().int().min(0), epoch: z.string() }).optional(),
  }),
  presence: z.strictObject({ topic }),
  presence_stats: z.strictObject({ topic }),
} as const;

/** A method's name. */
export type ApiMethod = keyof typeof bodySchemas;

/** What each method does, for the OpenAPI document. */
export const summaries: Record<ApiMethod, string> = {
  publish: 'Publishes on a topic to subscribers on every node (as client src "api")',
  broadcast: "Sends a reply-shaped message without id to every client of every node",
  send: "Sends a reply-shaped message to a role, a connection or a user, on every node",
  disconnect: "Closes a connection, or every connection of a user, with close code 4000",
  clients: "Lists the clients connected to every node",
  command: 'Runs a command as client src "api"; with Accept: application/x-ndjson every reply',
  history: "A topic's stored publications (as the WebSocket history action)",
  presence: "Who holds an exact subscription to a topic (as the WebSocket presence action)",
  presence_stats: "How many clients and users are present on a topic",
};

const answer = {
  code: z.number().int().describe("Equals the HTTP status"),
  msg: z.string(),
};

/** A connected client, as `clients` lists it. */
export const clientEntrySchema = z.object({
  client: z.string().describe("The connection id"),
  user: z.string().nullable().describe("The JWT `sub` (principal id), or null"),
  src: z.string().nullable(),
  ip: z.string(),
  node: z.string().describe("The node it is connected to"),
  topics: z.array(z.string()).describe("The filters it subscribes to"),
});

/** The answer of each method (a 200; errors have the shape of {@linkcode errorSchema}). */
export const answerSchemas: Record<ApiMethod, z.ZodType> = {
  publish: z.looseObject({
    ...answer,
    offset: z.number().int().optional(),
    epoch: z.string().optional(),
  }),
  broadcast: z.object(answer),
  send: z.object({ ...answer, count: z.number().int().describe("Connections reached") }),
  disconnect: z.object({ ...answer, count: z.number().int().describe("Connections closed") }),
  clients: z.object({ ...answer, data: z.array(clientEntrySchema) }),
  command: z.looseObject({ ...answer, command: z.string(), data: z.unknown() }),
  history: z.looseObject({ ...answer, data: z.unknown() }),
  presence: z.looseObject({ ...answer, data: z.unknown() }),
  presence_stats: z.looseObject({ ...answer, data: z.unknown() }),
};

/** Every error answer: the code (equal to the HTTP status), what is wrong, zod issues for a 400. */
export const errorSchema = z.object({
  ...answer,
  data: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
