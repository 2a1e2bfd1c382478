/**
 * BROKER_URL for the three Redis topologies:
 *
 * - `redis[s]://[user:password@]host[:port][/db][?prefix=name]`: one Redis;
 * - `redis+sentinel://[user:password@]host:port[,host:port…]/<master name>[?prefix=name]`: the
 *   sentinels' addresses and the master's name; the password is the data nodes' (sentinels have
 *   none);
 * - `redis+cluster://[user:password@]host:port[,host:port…][?prefix=name]`: some of the cluster's
 *   nodes (the client discovers the rest).
 *
 * Errors name the setting and the rule, never the URL: it may hold a password.
 *
 * @module
 */
import { StartupError } from "../wire/errors.ts";
import { DEFAULT_PREFIX, parseRedisUrl } from "./redis_channels.ts";

/** A Redis host. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** Where the Redis broker connects, whatever the topology. */
export type RedisTarget =
  & {
    /** The key and channel prefix. */
    prefix: string;
    /** The addresses for log lines and /healthz: never a password. */
    where: string;
  }
  & (
    | { mode: "single"; url: string }
    | {
      mode: "sentinel" | "cluster";
      nodes: RedisNodeAddress[];
      /** The master's name (Sentinel only). */
      master: string;
      username?: string;
      password?: string;
    }
  );

const bad = (why: string) => new StartupError(`Invalid setting BROKER_URL: ${why}`);

/**
 * Parses BROKER_URL for any Redis topology.
 *
 * @param raw The setting.
 * @returns The topology, its addresses and credentials.
 * @throws {StartupError} On a malformed URL; the message never holds the URL.
 */
export function parseBrokerUrl(raw: string): RedisTarget {
  const scheme = raw.slice(0, raw.indexOf("://"));
  if (scheme === "redis" || scheme === "rediss") {
    const { url, prefix, where } = parseRedisUrl(raw);
    return { mode: "single", url, prefix, where };
  }
  if (scheme !== "redis+sentinel" && scheme !== "redis+cluster") {
    throw bad("expected redis://, rediss://, redis+sentinel:// or redis+cluster://");
  }
  const mode = scheme === "redis+sentinel" ? "sentinel" : "cluster";
  let rest = raw.slice(scheme.length + 3);
  let query = "";
  const q = rest.indexOf("?");
  if (q >= 0) [rest, query] = [rest.slice(0, q), rest.slice(q + 1)];
  const slash = rest.indexOf("/");
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : "";
  const at = authority.lastIndexOf("@");
  const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
  const nodes = (at >= 0 ? authority.slice(at + 1) : authority).split(",").map(parseHost);
  let username: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    try {
      username = decodeURIComponent(colon >= 0 ? userinfo.slice(0, colon) : userinfo) || undefined;
      password = colon >= 0 ? decodeURIComponent(userinfo.slice(colon + 1)) : undefined;
    } catch {
      throw bad("the user or password is not percent-encoded correctly");
    }
  }
  const master = decodeURIComponent(path.replace(/\/$/, ""));
  if (mode === "sentinel" && (master === "" || master.includes("/"))) {
    throw bad("redis+sentinel:// needs the master's name as its path, such as /mymaster");
  }
  if (mode === "cluster" && master !== "") throw bad("redis+cluster:// takes no path");
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (key !== "prefix") throw bad(`unknown option "${key}" (only prefix)`);
  }
  const prefix = params.get("prefix") ?? DEFAULT_PREFIX;
  if (prefix === "") throw bad("prefix must not be empty");
  const hosts = nodes.map((n) => `${n.host}:${n.port}`).join(",");
  const where = mode === "sentinel" ? `${master} via sentinels ${hosts}` : `cluster ${hosts}`;
  return { mode, nodes, master, username, password, prefix, where };
}

function parseHost(text: string): RedisNodeAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(text);
  if (m === null) throw bad("each address must be host:port, separated by commas");
  const port = Number(m[2]);
  if (m[2] === undefined || port < 1 || port > 65535) {
    throw bad("each address needs a port between 1 and 65535, such as host:26379");
  }
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}
