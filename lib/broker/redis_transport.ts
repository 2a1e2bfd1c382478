/**
 * The Redis transport (`BROKER_URL=redis://…`, `redis+sentinel://…`, `redis+cluster://…`):
 * several nodes act as one. docs/deployment.md explains the design; in short:
 *
 * - It publishes on the command connection it shares with the Redis stores (a retained value and
 *   the live publish after it stay in order) and receives on a subscriber connection of its own.
 * - One channel per topic, so a node receives only what its clients subscribe to; wildcard
 *   filters PSUBSCRIBE a covering glob (Cluster: the firehose, lib/broker/redis_interest.ts).
 * - A payload starts with the node id and a space: a node drops its own. A publish is
 *   `<node id> <seq> <text>`; copies of one publish arrive back to back and are dropped.
 * - It keeps only how many filters need each Redis channel or pattern; who wants a filter is the
 *   hub's business. Redis down: nothing local blocks or throws; sends are refused and counted.
 * - A probe through Redis to the node itself proves the path (lib/broker/redis_probe.ts).
 * @module
 */
import { decodeTarget, encodeTarget } from "./targets.ts";
import { type Clock, systemClock } from "../clock.ts";
import { hasWildcard } from "../wire/topic.ts";
import type { Target, Transport, TransportSink } from "./broker.ts";
import { ChannelNames, framed } from "./redis_channels.ts";
import { reason, type RedisConnection } from "./redis_connection.ts";
import { SubscriptionSet } from "./redis_subscriptions.ts";
import { WildcardInterest } from "./redis_interest.ts";
import { PathProbe } from "./redis_probe.ts";

/** Options of {@linkcode RedisTransport}. */
export interface RedisTransportOptions {
  /** This node's id: non-empty, no space. Payloads that start with it are this node's own. */
  nodeId: string;
  /** The probe's clock (system by default) and interval (BROKER_PROBE_MS, 5 s by default). */
  clock?: Clock;
  probeMs?: number;
}

/**
 * Moves messages between the nodes that share one Redis deployment. `healthy` is false until its
 * connections are up and subscriptions confirmed, and while the path probe does not come back.
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
  readonly kind: string;
  readonly nodeId: string;
  received = 0; // messages from Redis, every copy counted (tests, metrics)

  readonly #redis: RedisConnection;
  readonly #sink: TransportSink;
  readonly #self: string; // `<node id> `: the start of this node's own payloads
  readonly #names: ChannelNames;
  readonly #probeChannel: string;
  readonly #cluster: boolean;
  readonly #subs: SubscriptionSet;
  readonly #probe: PathProbe;
  readonly #interest: WildcardInterest;
  #closing: Promise<void> | undefined;
  /** Cluster: the firehose subscription is confirmed, so marked topic copies are dropped. */
  #fireOn = false;
  #seq = 0;
  #last = "";
  #lastChannel = "";

  /**
   * @param redis The node's Redis connections (shared with the store).
   * @param sink Where other nodes' traffic goes.
   * @param options This node's id, the clock and the probe's interval.
   * @throws {TypeError} When the node id is empty or contains a space.
   */
  constructor(redis: RedisConnection, sink: TransportSink, options: RedisTransportOptions) {
    const { nodeId } = options;
    if (nodeId === "" || nodeId.includes(" ")) {
      throw new TypeError(`Invalid node id ${JSON.stringify(nodeId)}: expected no space`);
    }
    const clock = options.clock ?? systemClock;
    this.kind = redis.mode === "single" ? "redis" : `redis+${redis.mode}`;
    this.nodeId = nodeId;
    this.#self = `${nodeId} `;
    this.#redis = redis;
    this.#sink = sink;
    this.#cluster = redis.mode === "cluster";
    this.#names = new ChannelNames(redis.namespace, this.#cluster);
    this.#probeChannel = this.#names.probe(nodeId);
    this.#probe = new PathProbe({
      clock,
      everyMs: options.probeMs ?? 5000,
      // Not while (re)subscribing: the probe would be lost before its channel is back.
      send: (token) => this.#subs.synced && this.#send(this.#probeChannel, this.#self + token),
      stalled: () => {
        this.#redis.warn("stalled", `${this.problem}: replacing the subscriber connection`);
        this.#probe.reset();
        this.#subs.replace();
      },
    });
    this.#interest = new WildcardInterest({
      clock,
      nodeId,
      send: (line) => void this.#send(this.#names.interest, line),
    });
    redis.use();
    redis.onReady(() => this.#checkUp());
    this.#subs = new SubscriptionSet(redis, {
      listener: this.#onMessage,
      confirmed: (key) => {
        if (key === `c:${this.#names.fire}`) this.#fireOn = true;
      },
      synced: () => {
        if (this.#cluster) this.#interest.hello();
        this.#checkUp();
      },
    });
    for (const channel of [this.#names.broadcasts, this.#names.directs, this.#probeChannel]) {
      this.#subs.want(`c:${channel}`);
    }
    if (this.#cluster) this.#subs.want(`c:${this.#names.interest}`);
  }

  /** Why the transport is not healthy, or undefined when it is. */
  get problem(): string | undefined {
    if (this.#closing !== undefined) return "closing";
    if (!this.#redis.writable) return `Redis is unavailable (${this.#redis.where})`;
    if (!this.#subs.link.ready) return "the subscriber connection is down";
    if (!this.#subs.synced) return "the subscriptions are not confirmed yet";
    return this.#probe.problem;
  }

  /** True when both connections are up, the subscriptions confirmed and the probe comes back. */
  get healthy(): boolean {
    return this.problem === undefined;
  }

  /** True while publishes are sent to Redis (false: they stay on this node). */
  get writable(): boolean {
    return this.#closing === undefined && this.#redis.writable;
  }

  /** Cluster: how many other nodes this one knows to hold wildcard filters. */
  get wildcardPeers(): number {
    return this.#interest.peers;
  }

  /** Cluster: whether this node holds wildcard filters (gets the firehose). */
  get holdsWildcards(): boolean {
    return this.#interest.mine;
  }

  /** The last probe's round trip through Redis, in milliseconds. */
  get probeRttMs(): number {
    return this.#probe.rttMs;
  }

  /** Publishes, broadcasts, `sendTo`s and retained values that did not reach Redis. */
  get dropped(): number {
    return this.#redis.dropped;
  }

  subscribe(filter: string): void {
    if (this.#cluster && hasWildcard(filter)) this.#interest.hold(filter, 1);
    for (const key of this.#names.covering(filter)) {
      if (this.#subs.want(key) && key === `c:${this.#names.fire}`) this.#interest.mine = true;
    }
  }

  unsubscribe(filter: string): void {
    if (this.#cluster && hasWildcard(filter)) this.#interest.hold(filter, -1);
    for (const key of this.#names.covering(filter)) {
      if (!this.#subs.unwant(key) || key !== `c:${this.#names.fire}`) continue;
      this.#interest.mine = false;
      this.#fireOn = false;
    }
  }

  publish(topic: string, text: string): void {
    const out = this.forScript(topic, text);
    out?.client.publish(out.channel, out.payload).catch(this.#redis.onSendError);
  }

  /**
   * A topic publish prepared for a caller that publishes it itself: the client, the channel and
   * the payload (on Cluster, the firehose copy is sent here); undefined while Redis is down.
   */
  forScript(topic: string, text: string) {
    const client = this.#redis.sender();
    if (client === undefined) return undefined;
    const seq = (this.#seq++).toString(36);
    const channel = this.#names.topic(topic);
    if (!this.#cluster || !this.#interest.wanted) {
      return { client, channel, payload: `${this.#self}${seq} ${text}` };
    }
    const fire = `${this.#self}${seq} ${topic.length}:${topic}${text}`;
    client.publish(this.#names.fire, fire).catch(this.#redis.onSendError);
    return { client, channel, payload: `${this.#self}${seq}* ${text}` };
  }

  /**
   * How a Lua script publishes a topic's message itself (history numbers it inside the script):
   * the command and the channel (on Cluster in the slot of the `{<prefix>:<topic>}` keys), and
   * whether other nodes' wildcard filters need the firehose copy, sent by {@linkcode fire}.
   */
  route(topic: string): { command: "PUBLISH" | "SPUBLISH"; channel: string; fire: boolean } {
    const fire = this.#cluster && this.#interest.wanted;
    return {
      command: this.#cluster ? "SPUBLISH" : "PUBLISH",
      channel: this.#names.topic(topic),
      fire,
    };
  }

  /** The firehose copy of a message a script published as `<sender> <seq>* <text>`. */
  fire(topic: string, sender: string, seq: string, text: string): void {
    const payload = `${sender} ${seq} ${topic.length}:${topic}${text}`;
    this.#redis.sender()?.publish(this.#names.fire, payload).catch(this.#redis.onSendError);
  }

  broadcast(text: string): void {
    this.#redis.sender()?.publish(this.#names.broadcasts, this.#self + text)
      .catch(this.#redis.onSendError);
  }

  sendTo(target: Target, text: string): void {
    const [kind, value] = encodeTarget(target);
    const payload = `${this.#self}${kind}${value.length}:${value}${text}`;
    this.#redis.sender()?.publish(this.#names.directs, payload).catch(this.#redis.onSendError);
  }

  /** Resolves once every subscribe and unsubscribe sent so far is confirmed by Redis. */
  settled(): Promise<void> {
    return this.#subs.settled();
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#probe.stop();
      this.#interest.stop();
    }
    return this.#closing ??= this.#subs.close().then(() => this.#redis.release());
  }

  /** Cluster: whether a topic from the firehose matches a wildcard or exact filter here. */
  #wanted(topic: string): boolean {
    if (this.#subs.has(`c:${this.#names.topic(topic)}`)) return true;
    return this.#interest.matches(topic);
  }

  /** Sends on the command connection without counting a drop; false when Redis is known down. */
  #send(channel: string, payload: string): boolean {
    const client = this.#redis.command.client;
    if (client === undefined || !this.#redis.writable || this.#closing !== undefined) return false;
    client.publish(channel, payload).catch(this.#redis.onSendError);
    return true;
  }

  /** Other nodes' traffic; also the copies of this node's own messages, which are dropped. */
  readonly #onMessage = (message: string, channel: string): void => {
    if (channel === this.#probeChannel) {
      return this.#probe.received(message.slice(this.#self.length));
    }
    if (channel === this.#names.interest) return this.#interest.heard(message);
    this.received++;
    if (message.startsWith(this.#self)) return; // delivered locally already
    const header = message.indexOf(" ") + 1; // after the node id
    if (header === 0) return;
    try {
      const topic = this.#names.topicOf(channel);
      if (topic !== undefined) {
        // Every copy of one publish arrives back to back; the sequence number makes it unique.
        if (message === this.#last && channel === this.#lastChannel) return;
        this.#last = message;
        this.#lastChannel = channel;
        const space = message.indexOf(" ", header);
        if (space < 0) return;
        if (message[space - 1] === "*" && this.#fireOn) return; // the firehose brings it
        this.#sink.deliver(topic, message.slice(space + 1));
      } else if (channel === this.#names.fire) {
        // `<node id> <seq> <length>:<topic><text>`; the firehose brings every topic.
        const [topic, text] = framed(message, message.indexOf(" ", header) + 1) ?? [];
        if (text !== undefined && this.#wanted(topic!)) this.#sink.deliver(topic!, text);
      } else if (channel === this.#names.broadcasts) {
        this.#sink.broadcast(message.slice(header));
      } else if (channel === this.#names.directs) {
        // `<node id> <i|u|s><length>:<id, user or src><text>`
        const [value, text] = framed(message, header + 1) ?? [];
        if (text === undefined) return;
        this.#sink.sendTo(decodeTarget(message[header], value!), text);
      }
    } catch (err) {
      this.#redis.warn("deliver", `Cannot deliver a message from Redis: ${reason(err)}`);
    }
  };

  #checkUp(): void {
    if (!this.healthy) return;
    this.#redis.announce({ node: this.nodeId });
    this.#probe.start();
  }
}
