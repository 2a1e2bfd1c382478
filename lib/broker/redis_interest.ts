/**
 * Wildcard interest on Redis Cluster. A cluster has no sharded pattern subscribe, and classic
 * PUBLISH/PSUBSCRIBE would copy every message to every shard over the cluster bus. Instead a node
 * with wildcard filters SSUBSCRIBEs one sharded "firehose" channel (`<prefix>:w`), and a publisher
 * also SPUBLISHes there while some other node has said it holds wildcards. Who does is learnt on
 * the sharded channel `<prefix>:i`:
 *
 * - `<node> +`: I hold wildcard filters (sent on the first one, on connecting, and every 10 s);
 * - `<node> -`: I hold none any more;
 * - `<node> ?`: who holds any? (sent on connecting; holders answer `+`).
 *
 * A `+` not repeated within 30 s is forgotten (a node that died). Exact subscriptions keep their
 * sharded channel per topic, so a node without wildcards gets only its topics.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { topicMatches } from "../wire/topic.ts";

const ANNOUNCE_MS = 10_000;
const FORGET_MS = 30_000;

/** Options of {@linkcode WildcardInterest}. */
export interface WildcardInterestOptions {
  clock: Clock;
  nodeId: string;
  /** Sends a line on the interest channel. */
  send(line: string): void;
}

/** Which other nodes hold wildcard filters, and telling them about this one. */
export class WildcardInterest {
  readonly #options: WildcardInterestOptions;
  readonly #peers = new Map<string, number>();
  /** This node's wildcard filters → how many subscribe calls hold each. */
  readonly #filters = new Map<string, number>();
  #mine = false;
  #timer: TimerId | undefined;

  constructor(options: WildcardInterestOptions) {
    this.#options = options;
  }

  /** True while some other node holds wildcard filters: publishes also go to the firehose. */
  get wanted(): boolean {
    if (this.#peers.size === 0) return false;
    const now = this.#options.clock.now();
    for (const [node, until] of this.#peers) if (until < now) this.#peers.delete(node);
    return this.#peers.size > 0;
  }

  /** Counts a wildcard filter of this node in (+1) or out (-1). */
  hold(filter: string, delta: 1 | -1): void {
    const n = (this.#filters.get(filter) ?? 0) + delta;
    if (n > 0) this.#filters.set(filter, n);
    else this.#filters.delete(filter);
  }

  /** Whether a topic from the firehose matches one of this node's wildcard filters. */
  matches(topic: string): boolean {
    for (const filter of this.#filters.keys()) if (topicMatches(filter, topic)) return true;
    return false;
  }

  /** How many other nodes are known to hold wildcard filters. */
  get peers(): number {
    return this.wanted ? this.#peers.size : 0;
  }

  /** Whether this node holds wildcard filters. */
  get mine(): boolean {
    return this.#mine;
  }

  /** This node now holds wildcard filters (true) or none (false). */
  set mine(on: boolean) {
    if (on === this.#mine) return;
    this.#mine = on;
    this.#say(on ? "+" : "-");
    this.#schedule();
  }

  /** After (re)connecting: asks who holds wildcards, and says whether this node does. */
  hello(): void {
    this.#say("?");
    if (this.#mine) this.#say("+");
  }

  /** A line from the interest channel. */
  heard(line: string): void {
    const space = line.lastIndexOf(" ");
    const node = line.slice(0, space);
    const what = line.slice(space + 1);
    if (node === this.#options.nodeId) return;
    if (what === "+") this.#peers.set(node, this.#options.clock.now() + FORGET_MS);
    else if (what === "-") this.#peers.delete(node);
    else if (what === "?" && this.#mine) this.#say("+");
  }

  stop(): void {
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#mine) this.#say("-");
  }

  #say(what: string): void {
    this.#options.send(`${this.#options.nodeId} ${what}`);
  }

  #schedule(): void {
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#mine) return;
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#say("+");
      this.#schedule();
    }, ANNOUNCE_MS);
  }
}
