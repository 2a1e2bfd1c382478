/**
 * The Redis transport (`BROKER_URL=redis://host:port`): several nodes behind a load balancer act
 * as one. docs/deployment.md explains the design; in short:
 *
 * - It publishes on the command connection it shares with the Redis store (so a retained value
 *   and the live publish after it stay in order) and receives on a subscriber connection of its
 *   own (lib/broker/redis_connection.ts).
 * - One channel per topic, `<prefix>:t:<topic>`, so a node receives only the topics its clients
 *   subscribe to. An exact filter SUBSCRIBEs its channel; a wildcard filter PSUBSCRIBEs a glob
 *   that covers it (`+` and `#` become `*`, which also crosses `/`; the hub's subscription index
 *   drops what over-matches). `<prefix>:b` carries broadcasts, `<prefix>:s` `sendTo` messages.
 * - A payload starts with the node id and a space: a node drops its own messages (delivered
 *   locally already). A publish is `<node id> <seq> <delivery text>`; Redis sends one copy per
 *   subscription of the node that matches, back to back, so a copy equals the message before it
 *   and is dropped (the sequence number makes each publish unique).
 * - What it keeps: for each Redis channel or pattern, how many of the filters given to
 *   `subscribe` need it (derived from the subscribe and unsubscribe calls). Which clients want a
 *   filter is the hub's business; the transport only needs to know when a count reaches 0.
 * - Redis down: nothing on the local path blocks or throws. Sends are refused at once, counted in
 *   `dropped` and logged at most every 5 s; `healthy` is false; the connections come back by
 *   themselves and the subscriptions are made again.
 *
 * @module
 */
import type { Target, Transport, TransportSink } from "./broker.ts";
import { redisSubscriptions } from "./redis_channels.ts";
import { reason, type RedisConnection, type RedisLink } from "./redis_connection.ts";

/** Options of {@linkcode RedisTransport}. */
export interface RedisTransportOptions {
  /** This node's id: non-empty, no space. Payloads that start with it are this node's own. */
  nodeId: string;
}

/**
 * Moves messages between the nodes that share one Redis. It connects in the background: `healthy`
 * is false until both connections are up and the subscriptions are confirmed.
 *
 * @example
 * ```ts
 * const redis = new RedisConnection("redis://127.0.0.1:6379", { log });
 * const transport = new RedisTransport(redis, sink, { nodeId: crypto.randomUUID() });
 * transport.subscribe("orders/+");
 * await transport.close();
 * ```
 */
export class RedisTransport implements Transport {
  readonly kind = "redis";
  /** This node's id. */
  readonly nodeId: string;
  /** Messages received from Redis, every copy counted (for tests and metrics). */
  received = 0;

  readonly #redis: RedisConnection;
  readonly #sink: TransportSink;
  /** `<node id> `: the start of this node's own payloads. */
  readonly #self: string;
  readonly #topics: string;
  readonly #broadcasts: string;
  readonly #directs: string;
  readonly #sub: RedisLink;
  /** Wanted Redis subscriptions (see redisSubscriptions) → how many filters need each. */
  readonly #wanted = new Map<string, number>();
  readonly #inflight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  #synced = false;
  #epoch = 0;
  #seq = 0;
  #last = "";
  #lastChannel = "";

  /**
   * @param redis The node's Redis connections (shared with the store).
   * @param sink Where other nodes' traffic goes.
   * @param options This node's id.
   * @throws {TypeError} When the node id is empty or contains a space.
   */
  constructor(redis: RedisConnection, sink: TransportSink, options: RedisTransportOptions) {
    const { nodeId } = options;
    if (nodeId === "" || nodeId.includes(" ")) {
      throw new TypeError(`Invalid node id ${JSON.stringify(nodeId)}: expected no space`);
    }
    this.nodeId = nodeId;
    this.#self = `${nodeId} `;
    this.#redis = redis;
    this.#sink = sink;
    this.#topics = `${redis.namespace}t:`;
    this.#broadcasts = `${redis.namespace}b`;
    this.#directs = `${redis.namespace}s`;
    redis.use();
    redis.onReady(() => this.#checkUp());
    this.#sub = redis.open("subscriber", () => this.#resync());
    this.#want(`c:${this.#broadcasts}`);
    this.#want(`c:${this.#directs}`);
  }

  /** True when both connections are up and the subscriptions are confirmed. */
  get healthy(): boolean {
    return this.#closing === undefined && this.#synced && this.#redis.command.ready &&
      this.#sub.ready;
  }

  /** Publishes, broadcasts, `sendTo`s and retained values that did not reach Redis. */
  get dropped(): number {
    return this.#redis.dropped;
  }

  subscribe(filter: string): void {
    for (const key of redisSubscriptions(this.#topics, filter)) this.#want(key);
  }

  unsubscribe(filter: string): void {
    for (const key of redisSubscriptions(this.#topics, filter)) this.#unwant(key);
  }

  publish(topic: string, text: string): void {
    const client = this.#redis.sender();
    if (client === undefined) return;
    const payload = this.#self + (this.#seq++).toString(36) + " " + text;
    client.publish(this.#topics + topic, payload).catch(this.#redis.onSendError);
  }

  broadcast(text: string): void {
    this.#redis.sender()?.publish(this.#broadcasts, this.#self + text)
      .catch(this.#redis.onSendError);
  }

  sendTo(target: Target, text: string): void {
    const [kind, value] = "id" in target
      ? ["i", target.id]
      : "user" in target
      ? ["u", target.user]
      : ["s", target.src];
    const payload = `${this.#self}${kind}${value.length}:${value}${text}`;
    this.#redis.sender()?.publish(this.#directs, payload).catch(this.#redis.onSendError);
  }

  /** Resolves once every subscribe and unsubscribe sent so far is confirmed by Redis. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  close(): Promise<void> {
    return this.#closing ??= this.#sub.close().then(() => this.#redis.release());
  }

  /** Other nodes' traffic; also the copies of this node's own messages, which are dropped. */
  readonly #onMessage = (message: string, channel: string): void => {
    this.received++;
    if (message.startsWith(this.#self)) return; // delivered locally already
    const header = message.indexOf(" ") + 1; // after the node id
    if (header === 0) return;
    try {
      if (channel.startsWith(this.#topics)) {
        // Every copy of one publish arrives back to back; the sequence number makes it unique.
        if (message === this.#last && channel === this.#lastChannel) return;
        this.#last = message;
        this.#lastChannel = channel;
        const space = message.indexOf(" ", header);
        if (space < 0) return;
        this.#sink.deliver(channel.slice(this.#topics.length), message.slice(space + 1));
      } else if (channel === this.#broadcasts) {
        this.#sink.broadcast(message.slice(header));
      } else if (channel === this.#directs) {
        this.#direct(message, header);
      }
    } catch (err) {
      this.#redis.warn("deliver", `Cannot deliver a message from Redis: ${reason(err)}`);
    }
  };

  /** `<node id> <i|u|s><length>:<id, user or src><text>`, from `header` on. */
  #direct(message: string, header: number): void {
    const colon = message.indexOf(":", header + 1);
    const length = Number(message.slice(header + 1, colon));
    if (colon < 0 || !Number.isInteger(length)) return;
    const value = message.slice(colon + 1, colon + 1 + length);
    const kind = message[header];
    const target = kind === "i" ? { id: value } : kind === "u" ? { user: value } : { src: value };
    this.#sink.sendTo(target, message.slice(colon + 1 + length));
  }

  #want(key: string): void {
    const n = this.#wanted.get(key) ?? 0;
    this.#wanted.set(key, n + 1);
    if (n === 0) this.#apply(key, true);
  }

  #unwant(key: string): void {
    const n = this.#wanted.get(key);
    if (n === undefined) return;
    if (n > 1) return void this.#wanted.set(key, n - 1);
    this.#wanted.delete(key);
    this.#apply(key, false);
  }

  /** Sends one (un)subscribe now if connected; otherwise #resync does it on reconnection. */
  #apply(key: string, on: boolean): void {
    const sub = this.#sub.client;
    if (sub === undefined || !sub.isReady || this.#closing !== undefined) return;
    const name = key.slice(2);
    const listener = this.#onMessage;
    if (key[0] === "c") {
      this.#track(on ? sub.subscribe(name, listener) : sub.unsubscribe(name, listener));
    } else this.#track(on ? sub.pSubscribe(name, listener) : sub.pUnsubscribe(name, listener));
  }

  #track(op: Promise<unknown>): Promise<unknown> {
    this.#inflight.add(op);
    op.then(() => this.#inflight.delete(op), (err) => {
      this.#inflight.delete(op);
      if (this.#sub.ready) {
        this.#redis.warn("subscribe", `Redis (un)subscribe failed: ${reason(err)}`);
      }
    });
    return op;
  }

  /**
   * Makes Redis's subscriptions match #wanted after a (re)connection: the client re-subscribes only
   * what Redis had confirmed, so a change made while the connection was down is made here.
   */
  #resync(): void {
    const sub = this.#sub.client!;
    this.#synced = false;
    const epoch = ++this.#epoch;
    const listener = this.#onMessage;
    const wanted = { c: [] as string[], p: [] as string[] };
    for (const key of this.#wanted.keys()) wanted[key[0] as "c" | "p"].push(key.slice(2));
    const stale = (type: "CHANNELS" | "PATTERNS", tag: string) =>
      [...sub.getPubSubListeners(type).keys()].filter((name) => !this.#wanted.has(tag + name));
    const staleChannels = stale("CHANNELS", "c:");
    const stalePatterns = stale("PATTERNS", "p:");
    const ops: Promise<unknown>[] = [];
    if (wanted.c.length > 0) ops.push(sub.subscribe(wanted.c, listener));
    if (wanted.p.length > 0) ops.push(sub.pSubscribe(wanted.p, listener));
    if (staleChannels.length > 0) ops.push(sub.unsubscribe(staleChannels, listener));
    if (stalePatterns.length > 0) ops.push(sub.pUnsubscribe(stalePatterns, listener));
    Promise.allSettled(ops.map((op) => this.#track(op))).then((results) => {
      if (epoch !== this.#epoch || !sub.isReady) return;
      if (results.some((r) => r.status === "rejected")) return; // logged by #track
      this.#synced = true;
      this.#checkUp();
    });
  }

  #checkUp(): void {
    if (this.healthy) this.#redis.announce({ node: this.nodeId });
  }
}
