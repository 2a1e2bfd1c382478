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

/**
 * A target as it crosses between nodes: its kind (`i` id, `u` user, `s` role) and its value.
 *
 * @param target The target.
 * @returns `[kind, value]`.
 */
export function encodeTarget(target: Target): [kind: string, value: string] {
  return "id" in target ? ["i", target.id] : "user" in target ? ["u", target.user] : [
    "s",
    target.src,
  ];
}

/**
 * The target another node sent, from {@linkcode encodeTarget}'s kind and value.
 *
 * @param kind `i`, `u` or `s`.
 * @param value The id, user or role.
 * @returns The target.
 */
export function decodeTarget(kind: string, value: string): Target {
  return kind === "i" ? { id: value } : kind === "u" ? { user: value } : { src: value };
}
