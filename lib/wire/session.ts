/**
 * The session mode of the protocol (v2): what a client sends to refresh its token. protocol.ts
 * checks it with the other modes; the server's session messages are built in messages.ts.
 *
 * @module
 */
import { z } from "zod";

/** A session message from a client (v2): `refresh` hands the connection a new token. */
export interface SessionMessage {
  mode: "session";
  action: "refresh";
  src?: string;
  id?: string | number;
  token: string;
  [key: string]: unknown;
}

/** The zod schema of a session message, used for error messages and the API contract. */
export const sessionSchema = z.looseObject({
  mode: z.literal("session"),
  action: z.literal("refresh"),
  src: z.string().min(1).max(64).optional(),
  id: z.union([z.string().max(128), z.number().finite()]).optional(),
  token: z.string().min(1),
});
