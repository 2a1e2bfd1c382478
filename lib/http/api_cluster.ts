/**
 * The backend API's operations that need every node: `send`, `disconnect` and `clients`. Each is
 * done on this node's connections and asked of every other node through the broker's peers
 * (lib/broker/redis_peers.ts); the answers are summed or joined. The same functions answer the
 * questions of other nodes, so every node answers whether or not it has an API key itself.
 *
 * @module
 */
import type { Peers, Target } from "../broker/broker.ts";
import { targets } from "../broker/targets.ts";
import { type Connection, ConnectionState } from "../session/connection.ts";

/** A connected client, as `clients` lists it. */
export interface ClientEntry {
  client: string;
  user: string | null;
  src: string | null;
  ip: string;
  node: string;
  topics: string[];
}

/** The hub's side these operations use. */
export interface ClusterHub {
  connections(): IterableIterator<Connection>;
  filtersOf(conn: Connection): ReadonlySet<string>;
}

/** A question between nodes. */
export type Question =
  | { op: "send"; target: Target; text: string }
  | { op: "disconnect"; target: Target }
  | { op: "clients" };

/** Close code of a client disconnected by the backend API. */
export const DISCONNECT_CODE = 4000;

/**
 * Does an operation on this node's connections.
 *
 * @param hub The hub.
 * @param nodeId This node's id (for `clients`).
 * @param q The operation.
 * @returns The count reached (`send`, `disconnect`) or the entries (`clients`).
 */
export function runLocal(hub: ClusterHub, nodeId: string, q: Question): number | ClientEntry[] {
  if (q.op === "clients") {
    const out: ClientEntry[] = [];
    for (const conn of hub.connections()) {
      if (conn.state !== ConnectionState.Open) continue;
      out.push({
        client: conn.id,
        user: conn.auth?.id ?? null,
        src: conn.src ?? null,
        ip: conn.ip,
        node: nodeId,
        topics: [...hub.filtersOf(conn)],
      });
    }
    return out;
  }
  let n = 0;
  // A copy: closing a connection may take it out of the hub's set while this loop runs.
  for (const conn of [...hub.connections()]) {
    if (conn.state !== ConnectionState.Open || !targets(conn, q.target)) continue;
    if (q.op === "send") {
      if (conn.send(q.text)) n++;
    } else {
      conn.close(DISCONNECT_CODE, "Disconnected by the backend API");
      n++;
    }
  }
  return n;
}

/**
 * Answers another node's question (the broker's sink calls it).
 *
 * @param hub The hub.
 * @param nodeId This node's id.
 * @param question The question's JSON text.
 * @returns The answer's JSON text (`null` for a question this version does not know).
 */
export function answerPeer(hub: ClusterHub, nodeId: string, question: string): string {
  let q: Question;
  try {
    q = JSON.parse(question);
  } catch {
    return "null";
  }
  if (q === null || typeof q !== "object" || !["send", "disconnect", "clients"].includes(q.op)) {
    return "null";
  }
  return JSON.stringify(runLocal(hub, nodeId, q));
}

/**
 * Does an operation here and on every other node, and sums the counts.
 *
 * @returns Connections reached on every node that answered in time.
 */
export async function countEverywhere(
  hub: ClusterHub,
  nodeId: string,
  peers: Peers | undefined,
  q: Question & { op: "send" | "disconnect" },
): Promise<number> {
  let n = runLocal(hub, nodeId, q) as number;
  for (const answer of await peers?.ask(JSON.stringify(q)) ?? []) {
    const count = safeParse(answer);
    if (typeof count === "number") n += count;
  }
  return n;
}

/**
 * Lists the clients of every node: this one's, then the others' as they answered.
 *
 * @returns The entries.
 */
export async function clientsEverywhere(
  hub: ClusterHub,
  nodeId: string,
  peers: Peers | undefined,
): Promise<ClientEntry[]> {
  const all = runLocal(hub, nodeId, { op: "clients" }) as ClientEntry[];
  for (const answer of await peers?.ask(JSON.stringify({ op: "clients" })) ?? []) {
    const entries = safeParse(answer);
    if (Array.isArray(entries)) all.push(...entries);
  }
  return all;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
