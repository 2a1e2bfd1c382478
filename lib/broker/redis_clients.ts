/**
 * One node-redis client per topology behind one small interface, so the transport and the store
 * never ask which topology they run on: a plain client (`redis://`), node-redis's Sentinel client
 * (`createSentinel`: it follows the master sentinels promote) and its Cluster client
 * (`createCluster`: it routes each command to the slot's master and follows resharding). Failover
 * and rediscovery are the library's; nothing here picks a node by itself.
 *
 * @module
 */
import type { createClient } from "redis";
import type { RedisTarget } from "./redis_url.ts";

/** A node-redis client. */
export type RedisClient = ReturnType<typeof createClient>;

/** A message listener: the message, then its channel. */
export type Listener = (message: string, channel: string) => void;

/**
 * What the broker needs from Redis. Channel subscriptions (`c`) are sharded on a cluster
 * (SSUBSCRIBE and SPUBLISH: a channel lives on its slot's shard); pattern subscriptions (`p`) are
 * not used on a cluster, which has no sharded pattern subscribe.
 */
export interface RedisHandle {
  /** The client accepts commands (the library's view; a failed command says more). */
  readonly ready: boolean;
  connect(): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
  /** PUBLISH, or SPUBLISH on a cluster. Resolves to the receivers that Redis counted. */
  publish(channel: string, message: string): Promise<number>;
  /** Any command, sent to the node that holds `key` (the master on Sentinel). */
  run(args: string[], key?: string): Promise<unknown>;
  listen(kind: "c" | "p", names: string[], listener: Listener): Promise<unknown>;
  unlisten(kind: "c" | "p", names: string[], listener: Listener): Promise<unknown>;
  /** The channels or patterns Redis has confirmed (plain client only: [] elsewhere). */
  listening(kind: "c" | "p"): string[];
  /** Registers an error listener (the library emits `error` and throws if none listens). */
  onError(listener: (err: unknown) => void): void;
}

/** Client settings shared by every topology. */
export interface HandleOptions {
  /** Commands waiting beyond this many are refused. */
  queueLimit: number;
  connectTimeout: number;
  /** For a plain client: its reconnect strategy. */
  reconnectStrategy?: (retries: number, cause: Error) => false;
  /** For a plain client: called on each (re)connection. */
  onReady?: () => void;
  /**
   * For a Sentinel client: its master connection failed. Commands then wait inside the library
   * until the sentinels name a master, so the caller stops sending until a PING answers.
   */
  onDown?: () => void;
}

// deno-lint-ignore no-explicit-any
type Any = any;

/**
 * Creates the client for a topology, not connected.
 *
 * @param mod The loaded `redis` module.
 * @param target The parsed BROKER_URL.
 * @param options Queue limit, timeouts, and a plain client's reconnection.
 * @returns The handle.
 */
export function createHandle(
  mod: typeof import("redis"),
  target: RedisTarget,
  options: HandleOptions,
): RedisHandle {
  const node = { disableOfflineQueue: true, commandsQueueMaxLength: options.queueLimit };
  if (target.mode === "single") {
    const client = mod.createClient({
      url: target.url,
      ...node,
      socket: {
        connectTimeout: options.connectTimeout,
        reconnectStrategy: options.reconnectStrategy,
      },
    });
    client.on("ready", () => options.onReady?.());
    return plainHandle(client);
  }
  const auth = { username: target.username, password: target.password };
  const socket = { connectTimeout: options.connectTimeout };
  if (target.mode === "sentinel") {
    const sentinel: Any = mod.createSentinel({
      name: target.master,
      sentinelRootNodes: target.nodes,
      nodeClientOptions: { ...node, ...auth, socket },
      sentinelClientOptions: { socket },
      masterPoolSize: 1,
      scanInterval: 2000,
      passthroughClientErrorEvents: true,
    });
    sentinel.on("error", (err: unknown) => {
      if (err instanceof Error && err.message.startsWith("Master Client")) options.onDown?.();
    });
    return {
      get ready() {
        return sentinel.isReady;
      },
      connect: () => sentinel.connect(),
      close: () => sentinel.close(),
      destroy: () => void sentinel.destroy().catch(() => {}),
      publish: (channel, message) => sentinel.publish(channel, message),
      run: (args) => sentinel.sendCommand(false, args),
      listen: (kind, names, l) =>
        kind === "c" ? sentinel.subscribe(names, l) : sentinel.pSubscribe(names, l),
      unlisten: (kind, names, l) =>
        kind === "c" ? sentinel.unsubscribe(names, l) : sentinel.pUnsubscribe(names, l),
      listening: () => [],
      onError: (listener) => void sentinel.on("error", listener),
    };
  }
  const cluster: Any = mod.createCluster({
    rootNodes: target.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
    defaults: { ...node, ...auth, socket },
  });
  let open = false;
  let chain: Promise<unknown> = Promise.resolve();
  const inOrder = (op: () => Promise<unknown>) => (chain = chain.then(op, op));
  return {
    get ready() {
      return open && cluster.isOpen;
    },
    connect: () => cluster.connect().then(() => void (open = true)),
    close: () => cluster.close(),
    destroy: () => cluster.destroy(),
    publish: (channel, message) => cluster.sPublish(channel, message),
    run: (args, key) => cluster.sendCommand(key, false, args),
    // One SSUBSCRIBE per channel (the channels of one call must share a slot), one after the
    // other: the library sends an SUNSUBSCRIBE before an SSUBSCRIBE still waiting for its shard's
    // connection, and drops a shard's connection when its last channel goes.
    listen: (kind, names, l) =>
      kind === "c"
        ? inOrder(() => Promise.all(names.map((name) => cluster.sSubscribe(name, l))))
        : cluster.pSubscribe(names, l),
    unlisten: (kind, names, l) =>
      kind === "c"
        ? inOrder(() => Promise.all(names.map((name) => cluster.sUnsubscribe(name, l))))
        : cluster.pUnsubscribe(names, l),
    listening: () => [],
    onError: (listener) => void cluster.on("error", listener),
  };
}

function plainHandle(client: RedisClient): RedisHandle {
  return {
    get ready() {
      return client.isReady;
    },
    connect: () => client.connect().then(() => {}),
    close: () => client.isReady ? client.close() : Promise.resolve(client.destroy()),
    destroy: () => client.isOpen && client.destroy(),
    publish: (channel, message) => client.publish(channel, message),
    run: (args) => client.sendCommand(args),
    listen: (kind, names, l) =>
      kind === "c" ? client.subscribe(names, l) : client.pSubscribe(names, l),
    unlisten: (kind, names, l) =>
      kind === "c" ? client.unsubscribe(names, l) : client.pUnsubscribe(names, l),
    listening: (
      kind,
    ) => [...client.getPubSubListeners(kind === "c" ? "CHANNELS" : "PATTERNS").keys()],
    onError: (listener) => void client.on("error", listener),
  };
}
