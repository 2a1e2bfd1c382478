/**
 * Which local connections a `sendTo` target names: the hub's `sendTo` and the backend API's
 * `send` and `disconnect` use the same rule.
 *
 * @module
 */
import type { Target } from "./broker.ts";
import type { Connection } from "../session/connection.ts";

/**
 * Whether a connection is one a `sendTo` target names.
 *
 * @param conn The connection.
 * @param target A role, a connection id or a user (the principal's id).
 * @returns True when it matches.
 */
export function targets(conn: Connection, target: Target): boolean {
  return "id" in target
    ? conn.id === target.id
    : "user" in target
    ? conn.auth !== undefined && conn.auth.id === target.user
    : conn.src === target.src;
}
